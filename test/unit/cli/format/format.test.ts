// Output formatting: BSON → plain values, spreadsheet-safe CSV, terminal tables, streaming JSON.
import { describe, expect, it } from 'vitest';
import { Binary, Decimal128, Long, ObjectId, UUID } from 'mongodb';
import { createCsvWriter, safeCell } from '../../../../src/cli/format/csv.js';
import { createJsonStreamWriter, createNdjsonWriter } from '../../../../src/cli/format/index.js';
import { getPath, pickFields, toPlain } from '../../../../src/cli/format/plain.js';
import { createTableWriter, fitWidths, sanitize, truncate } from '../../../../src/cli/format/table.js';


describe('toPlain', () => {
  it('maps BSON values to JSON-safe ones', () => {
    const oid = new ObjectId('665f1c2e9b1d4a0012345678');
    expect(toPlain(oid)).toBe('665f1c2e9b1d4a0012345678');
    expect(toPlain(new Date('2024-01-02T03:04:05.006Z'))).toBe('2024-01-02T03:04:05.006Z');
    expect(toPlain(Long.fromNumber(42))).toBe(42);
    expect(toPlain(Long.fromString('9223372036854775807'))).toBe('9223372036854775807');
    expect(toPlain(Decimal128.fromString('1.50'))).toBe('1.50');
    expect(toPlain(new UUID('0e3f9f52-3a4b-4c5d-8e9f-0a1b2c3d4e5f'))).toBe('0e3f9f52-3a4b-4c5d-8e9f-0a1b2c3d4e5f');
    expect(toPlain(new Binary(Buffer.from('hi')))).toBe('aGk=');
    expect(toPlain(undefined)).toBeNull();
    expect(toPlain({ a: [oid, 1], b: { c: null } })).toEqual({ a: ['665f1c2e9b1d4a0012345678', 1], b: { c: null } });
  });

  it('reads dotted paths and fills missing fields with null', () => {
    const doc = { _id: 1, address: { city: 'Berlin' }, email: 'a@example.test' };
    expect(getPath(doc, 'address.city')).toBe('Berlin');
    expect(getPath(doc, 'address.zip.code')).toBeUndefined();
    expect(pickFields(doc, ['_id', 'address.city', 'name'])).toEqual({ _id: 1, 'address.city': 'Berlin', name: null });
  });
});

describe('CSV', () => {
  it('prefixes cells a spreadsheet would run as formulas with a single quote', () => {
    for (const evil of ['=1+2', '+1', '-2+3', '@SUM(A1)', '\tx', '\rx', '=HYPERLINK("http://evil.example")']) {
      expect(safeCell(evil)).toBe(`'${evil}`);
    }
    expect(safeCell('Ada')).toBe('Ada');
    expect(safeCell(-5)).toBe('-5');
    expect(safeCell(null)).toBe('');
  });

  it('writes a header once, quotes as RFC 4180, and neutralises injected names', () => {
    const w = createCsvWriter(['_id', 'name']);
    const text = w.write([{ _id: 1, name: '=cmd|"/c calc"!A1' }]) + w.write([{ _id: 2, name: 'Grace, "Amazing" Hopper' }]) + w.end();
    expect(text).toBe(`_id,name\n1,"'=cmd|""/c calc""!A1"\n2,"Grace, ""Amazing"" Hopper"\n`);
  });

  it('writes only the header when there are no rows', () => {
    const w = createCsvWriter(['email']);
    expect(w.write([]) + w.end()).toBe('email\n');
  });
});

describe('table', () => {
  it('aligns columns and cuts long cells to fit the width', () => {
    const w = createTableWriter(['_id', 'name'], { width: 20 });
    const text = w.write([
      { _id: 1, name: 'Ada' },
      { _id: 22, name: 'A very long name that does not fit' },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('_id  name');
    expect(lines[1]).toBe('1    Ada');
    expect(lines[2]).toBe('22   A very long na…');
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(20);
  });

  it('shows control characters as ? so user data cannot drive the terminal', () => {
    expect(sanitize('a\u001b[31mred\nb')).toBe('a?[31mred?b');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(fitWidths([10, 50], 30)).toEqual([10, 18]);
  });
});

describe('JSON writers', () => {
  it('streams one JSON object with a users array and total', () => {
    const w = createJsonStreamWriter();
    const text = w.write([{ _id: 1 }, { _id: 2 }]) + w.write([{ _id: 3 }]) + w.end();
    expect(JSON.parse(text)).toEqual({ users: [{ _id: 1 }, { _id: 2 }, { _id: 3 }], total: 3 });
    const empty = createJsonStreamWriter();
    expect(JSON.parse(empty.write([]) + empty.end())).toEqual({ users: [], total: 0 });
  });

  it('writes NDJSON one object per line', () => {
    expect(createNdjsonWriter().write([{ a: 1 }, { a: 2 }])).toBe('{"a":1}\n{"a":2}\n');
  });
});
