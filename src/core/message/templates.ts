// Handlebars set-up. Two isolated environments so nothing registered elsewhere leaks in:
// HTML parts escape `{{field}}`; subject, text and headers do not (they are sanitised or plain
// text instead). Prototype access stays at Handlebars' safe defaults.
import Handlebars from 'handlebars';
import { UsageError } from '../errors.js';

export type PartKind = 'subject' | 'text' | 'html';

/** A compiled part: user document as context, `@unsubscribeUrl` as data. */
export type PartTemplate = (context: unknown, options?: { data?: Record<string, unknown> }) => string;

const htmlEnv = Handlebars.create();
const plainEnv = Handlebars.create();

/** Where a template came from, for error messages: `digest.tpl:12: html part: ...`. */
export interface TemplateOrigin {
  fileName?: string;
  /** Line of the file on which this part's first line sits (1-based). Default 1. */
  firstLine?: number;
}

function templateError(err: unknown, kind: PartKind, origin: TemplateOrigin): UsageError {
  const raw = err instanceof Error ? err.message : String(err);
  const lines = raw.split('\n').filter(Boolean);
  let line: number | undefined;
  const parse = /^Parse error on line (\d+):/.exec(lines[0] ?? '');
  const pos = / - (\d+):(\d+)$/.exec(raw);
  if (parse) line = Number(parse[1]);
  else if (pos) line = Number(pos[1]);
  const detail = parse ? (lines[lines.length - 1] ?? raw) : raw.replace(/ - \d+:\d+$/, '').replace(/\n/g, ' ');
  const fileLine = line === undefined ? undefined : (origin.firstLine ?? 1) + line - 1;
  const where = origin.fileName
    ? `${origin.fileName}${fileLine === undefined ? '' : `:${fileLine}`}: `
    : fileLine === undefined
      ? ''
      : `line ${fileLine}: `;
  return new UsageError(`${where}${kind} template: ${detail} (fix the template; see "Template format" in the README)`, {
    cause: err,
  });
}

/**
 * Compiles one part once per run. `knownHelpersOnly` rejects unknown helpers at compile time
 * (instead of failing every user at render time) and lets plain `{{path}}` lookups skip the
 * helper check. Throws UsageError with the file and line on syntax errors.
 */
export function compilePart(source: string, kind: PartKind, origin: TemplateOrigin = {}): PartTemplate {
  const env = kind === 'html' ? htmlEnv : plainEnv;
  try {
    const tpl = env.compile(source, { strict: false, noEscape: kind !== 'html', knownHelpersOnly: true });
    tpl({}); // Handlebars compiles lazily: force it now so errors surface before any send.
    return tpl as PartTemplate;
  } catch (err) {
    throw templateError(err, kind, origin);
  }
}

/** Parses only (no compile): used to inspect a template's shape. Throws UsageError like compilePart. */
export function parsePart(source: string, kind: PartKind, origin: TemplateOrigin = {}): hbs.AST.Program {
  try {
    return Handlebars.parse(source);
  } catch (err) {
    throw templateError(err, kind, origin);
  }
}
