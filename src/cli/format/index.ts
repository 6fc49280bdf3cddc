// Output writers for listings. Each turns batches of rows into text as they come, so a streamed
// listing never holds more than one batch: table (aligned, fitted to the terminal), csv
// (spreadsheet-safe), ndjson (one JSON object per line) and json (one object
// `{"users": [...], "total": n}` written incrementally).
import { createCsvWriter } from './csv.js';
import type { OutputFormat } from './formats.js';
import type { Row } from './plain.js';
import { createTableWriter, type TableOptions } from './table.js';

export { OUTPUT_FORMATS, type OutputFormat } from './formats.js';

export interface RowWriter {
  write(rows: readonly Row[]): string;
  /** Closing text (CSV header when nothing was written, the end of the JSON document). */
  end(): string;
}

export function createNdjsonWriter(): RowWriter {
  return {
    write: (rows) => rows.map((r) => `${JSON.stringify(r)}\n`).join(''),
    end: () => '',
  };
}

export function createJsonStreamWriter(): RowWriter {
  let total = 0;
  return {
    write(rows) {
      if (rows.length === 0) return '';
      const text = rows.map((r, i) => `${total === 0 && i === 0 ? '{"users": [\n' : ',\n'}  ${JSON.stringify(r)}`).join('');
      total += rows.length;
      return text;
    },
    end: () => (total === 0 ? '{"users": [], "total": 0}\n' : `\n], "total": ${total}}\n`),
  };
}

export function createRowWriter(format: OutputFormat, fields: readonly string[], table: TableOptions): RowWriter {
  switch (format) {
    case 'table':
      return createTableWriter(fields, table);
    case 'csv':
      return createCsvWriter(fields);
    case 'ndjson':
      return createNdjsonWriter();
    case 'json':
      return createJsonStreamWriter();
  }
}

export { pickFields, toPlain, type Row } from './plain.js';
