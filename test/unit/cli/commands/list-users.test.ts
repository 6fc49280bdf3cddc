// Flag parsing helpers of `mailcron list-users`.
import { describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { parseAfterId } from '../../../../src/adapters/mongo/user-query.js';
import { afterArgument, parseFields } from '../../../../src/cli/commands/list-users.js';

describe('afterArgument', () => {
  it('round-trips through the --after hint the table footer prints', () => {
    expect(afterArgument(new ObjectId('665f1c2e9b1d4a0012345678'))).toBe('665f1c2e9b1d4a0012345678');
    expect(afterArgument(42)).toBe('42');
    expect(afterArgument('42')).toBe(`'"42"'`);
    expect(afterArgument("o'hara")).toBe(`'o'\\''hara'`);
    for (const id of [new ObjectId(), 42, '42', 'alice']) expect(parseAfterId(afterArgument(id).replace(/^'|'$/g, ''))).toEqual(id);
  });
});

describe('parseFields', () => {
  it('splits, trims and de-duplicates; rejects operators and empty segments', () => {
    expect(parseFields(' email, name ,email,address.city')).toEqual(['email', 'name', 'address.city']);
    expect(() => parseFields('$where')).toThrow(/not a field path/);
    expect(() => parseFields('a..b')).toThrow(/not a field path/);
    expect(() => parseFields(' , ')).toThrow(/at least one/);
  });
});
