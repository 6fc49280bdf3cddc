// Per-user URLs for List-Unsubscribe. Only `{{path}}` placeholders, each value URL-encoded with
// encodeURIComponent, so a user field can never end the URL, add a parameter or break the header.
import { UsageError } from '../errors.js';
import type { UserDoc } from '../ports.js';
import { validateEmail } from './address.js';
import { parsePart } from './templates.js';

type Piece = string | string[];

/** Own-property lookup along a dotted path; never reads the prototype chain. */
export function lookupPath(doc: unknown, path: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : v.toISOString();
  return String(v);
}

function compilePieces(source: string, what: string): Piece[] {
  const ast = parsePart(source, 'subject', { fileName: what });
  const pieces: Piece[] = [];
  for (const node of ast.body) {
    if (node.type === 'ContentStatement') {
      const value = (node as hbs.AST.ContentStatement).value;
      // eslint-disable-next-line no-control-regex
      if (/[\s<>"\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`${what}: must not contain spaces, quotes, < or >`);
      pieces.push(value);
    } else if (node.type === 'MustacheStatement') {
      const m = node as hbs.AST.MustacheStatement;
      const path = m.path as hbs.AST.PathExpression;
      if (m.path.type !== 'PathExpression' || m.params.length || m.hash || path.data || path.depth > 0) {
        throw new UsageError(`${what}: only {{field}} placeholders are supported (e.g. {{_id}}, {{profile.token}})`);
      }
      pieces.push([...path.parts]);
    } else if (node.type !== 'CommentStatement') {
      throw new UsageError(`${what}: only {{field}} placeholders are supported (no blocks or helpers)`);
    }
  }
  return pieces;
}

/** Renders a compiled URL for one user. */
export type UrlTemplate = (user: UserDoc) => string;

function build(pieces: Piece[]): UrlTemplate {
  if (pieces.every((p) => typeof p === 'string')) {
    const fixed = pieces.join('');
    return () => fixed;
  }
  return (user) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : encodeURIComponent(valueText(lookupPath(user, p)));
    return out;
  };
}

function sample(pieces: Piece[]): string {
  return pieces.map((p) => (typeof p === 'string' ? p : 'x')).join('');
}

/** Compiles an `https://…` unsubscribe URL template. Throws UsageError when it is not an http(s) URL. */
export function compileUnsubscribeUrl(source: string): UrlTemplate {
  const what = 'unsubscribe URL';
  const pieces = compilePieces(source.trim(), what);
  let url: URL;
  try {
    url = new URL(sample(pieces));
  } catch {
    throw new UsageError(`${what}: ${JSON.stringify(source)} is not an absolute URL (e.g. https://example.com/unsub?u={{_id}})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${what}: must start with https:// (or http://)`);
  return build(pieces);
}

/** Compiles `unsub@example.com` or `mailto:unsub@example.com?subject=…{{_id}}`. Throws UsageError when malformed. */
export function compileUnsubscribeMailto(source: string): UrlTemplate {
  const what = 'unsubscribe mailto';
  const trimmed = source.trim();
  const pieces = compilePieces(/^mailto:/i.test(trimmed) ? trimmed : `mailto:${trimmed}`, what);
  const s = sample(pieces);
  const addr = decodeURIComponent(s.slice('mailto:'.length).split('?')[0] ?? '');
  if (!validateEmail(addr).ok) throw new UsageError(`${what}: ${JSON.stringify(source)} has no valid address (e.g. unsubscribe@example.com)`);
  return build(pieces);
}
