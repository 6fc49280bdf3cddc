import { describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { parseAfterId, projectionFor } from '../../../../src/adapters/mongo/user-query.js';

describe('parseAfterId', () => {
  it('reads 24 hex digits as an ObjectId, integers as numbers, quoted text and the rest as strings', () => {
    expect(parseAfterId('665f1c2e9b1d4a0012345678')).toEqual(new ObjectId('665f1c2e9b1d4a0012345678'));
    expect(parseAfterId('42')).toBe(42);
    expect(parseAfterId('-7')).toBe(-7);
    expect(parseAfterId('"42"')).toBe('42');
    expect(parseAfterId('alice')).toBe('alice');
    expect(parseAfterId('99999999999999999999')).toBe('99999999999999999999');
  });
});

describe('projectionFor', () => {
  it('always reads _id and drops paths under another requested path', () => {
    expect(projectionFor(['email', 'address', 'address.city', 'name'])).toEqual({ _id: 1, email: 1, address: 1, name: 1 });
    expect(projectionFor(['_id'])).toEqual({ _id: 1 });
  });
});
