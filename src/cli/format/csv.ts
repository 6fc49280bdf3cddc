// CSV that is safe to open in a spreadsheet. A cell starting with = + - @ TAB or CR is run as a
// formula by Excel, LibreOffice and Google Sheets (CSV injection, OWASP), and user data such as a
// name is attacker-controlled; such cells get a leading single quote, which spreadsheets show as
// text. Numbers and booleans from the database are written as they are (a real -5 stays -5).
import { stringify } from 'csv-stringify/sync';
import { cellText, type Row } from './plain.js';

const FORMULA_START = /^[=+\-@\t\r]/;

/** The cell text for one value, neutralised when a spreadsheet would read it as a formula. */
export function safeCell(value: Row[string]): string {
  const text = cellText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return text;
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** Writes rows a batch at a time; the header row comes with the first batch (or from `end` when there were none). */
export function createCsvWriter(fields: readonly string[]) {
  let headerDone = false;
  const header = () => {
    if (headerDone) return '';
    headerDone = true;
    return stringify([fields.map((f) => safeCell(f))], { record_delimiter: 'unix' });
  };
  return {
    write(rows: readonly Row[]): string {
      if (rows.length === 0) return '';
      const body = stringify(
        rows.map((r) => fields.map((f) => safeCell(r[f] ?? null))),
        { record_delimiter: 'unix' },
      );
      return header() + body;
    },
    end(): string {
      return header();
    },
  };
}
