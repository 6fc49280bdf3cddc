// Aligned columns for a terminal. Widths come from the first batch and the terminal width, so a
// streamed listing (--all) prints as it goes; later cells that are too long are cut with '…'.
// Control characters (newlines, escape sequences in user data) are shown as '?' so a user's name
// cannot move the cursor or recolour the operator's terminal.
import { cellText, type Row } from './plain.js';

const GAP = 2;
const MIN_WIDTH = 4;
const MAX_WIDTH = 60;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function sanitize(text: string): string {
  return text.replace(CONTROL, '?');
}

/** Cuts `text` to `width` characters, marking the cut with '…'. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 1 ? '…'.slice(0, width) : `${chars.slice(0, width - 1).join('')}…`;
}

const len = (s: string) => [...s].length;

/**
 * Column widths: each column's widest cell (header included, at most 60), then the widest
 * columns shrunk one character at a time until the row fits `totalWidth`.
 */
export function fitWidths(natural: number[], totalWidth: number): number[] {
  const widths = natural.map((w) => Math.min(Math.max(w, 1), MAX_WIDTH));
  const budget = totalWidth - GAP * Math.max(0, widths.length - 1);
  let sum = widths.reduce((a, b) => a + b, 0);
  while (sum > budget) {
    let widest = 0;
    for (let i = 1; i < widths.length; i++) if (widths[i]! > widths[widest]!) widest = i;
    if (widths[widest]! <= MIN_WIDTH) break;
    widths[widest]! -= 1;
    sum -= 1;
  }
  return widths;
}

export interface TableOptions {
  /** Terminal width in columns. */
  width: number;
  /** Styles the header row (e.g. chalk bold); identity by default. */
  header?: (text: string) => string;
}

export function createTableWriter(fields: readonly string[], options: TableOptions) {
  let widths: number[] | undefined;
  const style = options.header ?? ((t: string) => t);
  const line = (cells: string[], w: number[]) =>
    cells
      .map((c, i) => {
        const cut = truncate(c, w[i]!);
        return i === cells.length - 1 ? cut : cut + ' '.repeat(w[i]! - len(cut));
      })
      .join(' '.repeat(GAP))
      .trimEnd();
  const cellsOf = (r: Row) => fields.map((f) => sanitize(cellText(r[f] ?? null)));
  const headerLine = (w: number[]) => `${style(line(fields.map(sanitize), w))}\n`;
  return {
    write(rows: readonly Row[]): string {
      if (rows.length === 0) return '';
      const cells = rows.map(cellsOf);
      let out = '';
      if (!widths) {
        const natural = fields.map((f, i) => Math.max(len(sanitize(f)), ...cells.map((c) => len(c[i]!))));
        widths = fitWidths(natural, options.width);
        out += headerLine(widths);
      }
      for (const c of cells) out += `${line(c, widths)}\n`;
      return out;
    },
    end(): string {
      if (widths) return '';
      widths = fitWidths(fields.map((f) => len(f)), options.width);
      return headerLine(widths);
    },
  };
}
