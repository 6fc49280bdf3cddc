// How BSON values from the users collection appear in mailcron's output (JSON, NDJSON, CSV,
// table): ObjectId → 24-hex string, Date → ISO 8601 string, Long/Decimal128 → number when it is
// exact, else string, Binary/UUID → UUID or base64 string, other BSON types → their relaxed
// Extended JSON. Recognised by `_bsontype` so this module needs no mongodb import.

type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

/** A JSON-safe copy of a BSON value, per the mapping above. `undefined` becomes null. */
export function toPlain(value: unknown): Plain {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toPlain);
  const v = value as { _bsontype?: string; toHexString?: () => string; toJSON?: () => unknown; toString: () => string };
  switch (v._bsontype) {
    case 'ObjectId':
      return v.toHexString!();
    case 'Int32':
    case 'Double':
      return Number(v.toString());
    case 'Long':
    case 'Decimal128': {
      const n = Number(v.toString());
      return Number.isSafeInteger(n) && String(n) === v.toString() ? n : v.toString();
    }
    case 'Binary': {
      const b = value as { sub_type?: number; toUUID?: () => { toHexString(includeDashes?: boolean): string }; toString(enc: string): string };
      if (b.sub_type === 4 && b.toUUID) return b.toUUID().toHexString(true);
      return b.toString('base64');
    }
    case undefined:
      break;
    default:
      // Timestamp, regex, Code, MinKey…: relaxed Extended JSON via the type's own toJSON.
      return typeof v.toJSON === 'function' ? toPlain(v.toJSON()) : v.toString();
  }
  if (value instanceof RegExp) return value.toString();
  const out: Record<string, Plain> = {};
  for (const [k, inner] of Object.entries(value)) out[k] = toPlain(inner);
  return out;
}

/** The value at a dotted path (`address.city`); undefined when any step is missing. */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export type Row = Record<string, Plain>;

/** One output row: the requested fields (dotted paths kept as the key), missing ones as null. */
export function pickFields(doc: unknown, fields: readonly string[]): Row {
  const row: Row = {};
  for (const f of fields) row[f] = toPlain(getPath(doc, f));
  return row;
}

/** A cell's text for CSV and tables: '' for null, JSON for objects and arrays. */
export function cellText(value: Plain): string {
  if (value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
