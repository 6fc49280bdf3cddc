// The message definition as the operator writes it: a template file or --subject/--text/--html.
import { UsageError } from '../errors.js';
import { compilePart, type PartKind } from './templates.js';

/** What to send, before rendering. At least one of `text` and `html` is present. */
export interface MessageSpec {
  subject: string;
  text?: string;
  html?: string;
}

const MARKER = /^-{4}\s+(\S+)\s*$/;
const HEADER = /^([A-Za-z][\w-]*)\s*:(.*)$/;

/**
 * Parses a `--template` file:
 *
 * ```
 * subject: Your weekly digest, {{name}}
 * ---- text
 * Hi {{name}}, ...
 * ---- html
 * <p>Hi {{name}}</p>
 * ```
 *
 * The header (before the first `---- <part>` line) holds `subject:`; blank lines and lines
 * starting with `#` are ignored there. Parts are `text` and `html`, each at most once, in any
 * order; trailing blank lines of a part are dropped. Every part is checked for Handlebars
 * syntax. Throws UsageError naming the file and line.
 */
export function parseTemplateFile(source: string, fileName = 'template'): MessageSpec {
  const lines = source.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const fail = (line: number, msg: string): never => {
    throw new UsageError(`${fileName}:${line}: ${msg}`);
  };
  let subject: { value: string; line: number } | undefined;
  const parts = new Map<'text' | 'html', { start: number; lines: string[] }>();
  let current: { start: number; lines: string[] } | undefined;
  lines.forEach((line, i) => {
    const n = i + 1;
    const marker = MARKER.exec(line);
    if (marker) {
      const name = marker[1]!.toLowerCase();
      if (name !== 'text' && name !== 'html') fail(n, `unknown part "${marker[1]}": use "---- text" or "---- html"`);
      if (parts.has(name as 'text' | 'html')) fail(n, `the ${name} part appears twice`);
      current = { start: n + 1, lines: [] };
      parts.set(name as 'text' | 'html', current);
      return;
    }
    if (current) {
      current.lines.push(line);
      return;
    }
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const h = HEADER.exec(line);
    if (!h) fail(n, `expected "subject: ..." or a "---- text" / "---- html" line, got ${JSON.stringify(line.slice(0, 40))}`);
    const key = h![1]!.toLowerCase();
    if (key !== 'subject') fail(n, `unknown header "${h![1]}": only "subject:" is supported`);
    if (subject) fail(n, 'subject appears twice');
    subject = { value: h![2]!.trim(), line: n };
  });
  if (!subject || !subject.value) fail(subject?.line ?? 1, 'missing "subject: ..." line before the first part');
  if (parts.size === 0) fail(lines.length, 'no "---- text" or "---- html" part');
  const spec: MessageSpec = { subject: subject!.value };
  compilePart(spec.subject, 'subject', { fileName, firstLine: subject!.line });
  for (const [name, part] of parts) {
    while (part.lines.length && !part.lines[part.lines.length - 1]!.trim()) part.lines.pop();
    if (!part.lines.length) fail(part.start - 1, `the ${name} part is empty`);
    const body = part.lines.join('\n');
    compilePart(body, name as PartKind, { fileName, firstLine: part.start });
    spec[name] = body;
  }
  return spec;
}

/**
 * Builds a spec from `--subject`, `--text` and `--html` (the CLI has already read `@file` values).
 * Throws UsageError when the subject is missing or neither text nor html is given.
 */
export function messageSpecFromParts(parts: { subject?: string; text?: string; html?: string }): MessageSpec {
  const subject = parts.subject?.trim();
  if (!subject) throw new UsageError('--subject is required with --text/--html (or use --template <file>)');
  const text = parts.text?.trim() ? parts.text.replace(/\s+$/, '') : undefined;
  const html = parts.html?.trim() ? parts.html : undefined;
  if (text === undefined && html === undefined) {
    throw new UsageError('give --text <text|@file> and/or --html <@file> (or use --template <file>)');
  }
  compilePart(subject, 'subject', { fileName: '--subject' });
  const spec: MessageSpec = { subject };
  if (text !== undefined) {
    compilePart(text, 'text', { fileName: '--text' });
    spec.text = text;
  }
  if (html !== undefined) {
    compilePart(html, 'html', { fileName: '--html' });
    spec.html = html;
  }
  return spec;
}
