// The pure parts of the state writes: which ids get a statement of their own, the update built
// from a state change, and how a schedule value read twice is compared.
import { describe, expect, it } from 'vitest';
import { Int32, Long, ObjectId } from 'mongodb';
import { keyedId, sameValue, stateUpdate } from '../../../../src/adapters/mongo/state-writes.js';

describe('keyedId', () => {
  it('is true for the ids FerretDB v1 finds by index (strings, ObjectIds) and false for the rest', () => {
    expect([new ObjectId(), 'u1', ''].map(keyedId)).toEqual([true, true, true]);
    expect([1, 2.5, new Long(3), new Int32(4), null, undefined, { a: 1 }, new Date(0)].map(keyedId)).toEqual(Array(8).fill(false));
  });
});

describe('stateUpdate', () => {
  it('sets values under mailcron, unsets nulls and leaves undefined out', () => {
    const at = new Date('2025-03-10T08:00:00Z');
    expect(stateUpdate({ nextAt: at, scheduleHash: null, lastSlot: undefined })).toEqual({ $set: { 'mailcron.nextAt': at }, $unset: { 'mailcron.scheduleHash': '' } });
    expect(stateUpdate({ scheduleError: null })).toEqual({ $unset: { 'mailcron.scheduleError': '' } });
  });
});

describe('sameValue', () => {
  it('compares BSON values, key order included; missing and null are the same', () => {
    expect(sameValue({ cron: '0 9 * * *', timezone: 'UTC' }, { cron: '0 9 * * *', timezone: 'UTC' })).toBe(true);
    expect(sameValue({ cron: '0 9 * * *', timezone: 'UTC' }, { cron: '0 9 * * *', timezone: 'Europe/Berlin' })).toBe(false);
    expect(sameValue({ cron: '0 9 * * *', timezone: 'UTC' }, { timezone: 'UTC', cron: '0 9 * * *' })).toBe(false);
    expect(sameValue(undefined, null)).toBe(true);
    expect(sameValue(undefined, { cron: 'x' })).toBe(false);
    expect(sameValue('0 9 * * *', '0 9 * * *')).toBe(true);
  });
});
