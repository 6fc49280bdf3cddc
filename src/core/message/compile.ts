// Compiles a MessageSpec once per run and renders it per user. Rendering never throws for bad
// user data: the pipeline records the reason and moves on.
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { OutgoingMessage, UserDoc } from '../ports.js';
import { addressOf, sanitizeHeaderValue, validateEmail } from './address.js';
import { deriveText, htmlToText } from './html-text.js';
import type { MessageSpec } from './spec.js';
import { compilePart, type PartTemplate } from './templates.js';
import { compileUnsubscribeMailto, compileUnsubscribeUrl, type UrlTemplate } from './url-template.js';

export interface CompileOptions {
  /** Sender, e.g. `News <news@example.com>` (config.mailFrom). */
  from: string;
  /** `https://…` template for List-Unsubscribe, e.g. `https://x/unsub?u={{_id}}`; values are URL-encoded. Adds One-Click. */
  unsubscribeUrl?: string;
  /** `unsub@example.com` or `mailto:unsub@example.com?subject=u-{{_id}}` for List-Unsubscribe. */
  unsubscribeMailto?: string;
  /** Extra static headers, e.g. `{ 'X-Campaign': 'spring' }`. Structural headers cannot be overridden. */
  headers?: Record<string, string>;
}

export type RenderResult = { ok: true; message: OutgoingMessage } | { ok: false; reason: string };

export interface CompiledMessage {
  /** Stable hash of subject/text/html/from/unsubscribe/headers — used to derive broadcast ids. */
  hash: string;
  /** Renders one user's message; never throws for bad user data: returns {ok:false, reason}. */
  render(user: UserDoc, messageId: string): RenderResult;
}

/** Subjects longer than this are cut (after rendering). */
export const SUBJECT_MAX = 250;
const RESERVED = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'content-transfer-encoding', 'list-unsubscribe', 'list-unsubscribe-post',
]);
const HEADER_NAME = /^[!-9;-~]+$/;

function staticHeaders(headers: Record<string, string> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw new UsageError(`header ${JSON.stringify(name)}: not a valid header name`);
    if (RESERVED.has(name.toLowerCase())) throw new UsageError(`header ${name}: set by mailcron, cannot be overridden`);
    out.push([name, sanitizeHeaderValue(String(value))]);
  }
  return out;
}

function messageHash(spec: MessageSpec, options: CompileOptions): string {
  const headers = Object.entries(options.headers ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify({
    v: 1,
    subject: spec.subject,
    text: spec.text ?? null,
    html: spec.html ?? null,
    from: options.from,
    unsubscribeUrl: options.unsubscribeUrl ?? null,
    unsubscribeMailto: options.unsubscribeMailto ?? null,
    headers,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

function why(err: unknown): string {
  return sanitizeHeaderValue(err instanceof Error ? err.message : String(err), 200);
}

/**
 * Compiles the message once per run: Handlebars parts (HTML escaped, subject and text not),
 * the text part derived from HTML when absent, the unsubscribe URL templates and static headers.
 * Throws UsageError for template syntax errors, unknown helpers, a bad From or unsubscribe URL.
 */
export function compileMessage(spec: MessageSpec, options: CompileOptions): CompiledMessage {
  if (spec.text === undefined && spec.html === undefined) throw new UsageError('the message has neither a text nor an html part');
  const from = sanitizeHeaderValue(options.from);
  if (!validateEmail(addressOf(from)).ok) throw new UsageError(`from: ${JSON.stringify(options.from)} is not a valid sender address`);
  const subjectTpl = compilePart(spec.subject, 'subject');
  const htmlTpl: PartTemplate | undefined = spec.html === undefined ? undefined : compilePart(spec.html, 'html');
  const textTpl: PartTemplate | undefined = spec.text === undefined ? undefined : compilePart(spec.text, 'text');
  const derived = spec.text === undefined && spec.html !== undefined ? deriveText(spec.html) : undefined;
  const url: UrlTemplate | undefined = options.unsubscribeUrl ? compileUnsubscribeUrl(options.unsubscribeUrl) : undefined;
  const mailto: UrlTemplate | undefined = options.unsubscribeMailto ? compileUnsubscribeMailto(options.unsubscribeMailto) : undefined;
  const extra = staticHeaders(options.headers);
  const hash = messageHash(spec, options);

  function render(user: UserDoc, messageId: string): RenderResult {
    const email = validateEmail(user?.email);
    if (!email.ok) return email;
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of extra) headers[k] = v;
      const unsubscribeUrl = url ? url(user) : '';
      if (url || mailto) {
        const list: string[] = [];
        if (url) list.push(`<${unsubscribeUrl}>`);
        if (mailto) list.push(`<${mailto(user)}>`);
        headers['List-Unsubscribe'] = sanitizeHeaderValue(list.join(', '));
        if (url) headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
      }
      const opts = { data: { unsubscribeUrl } };
      const message: OutgoingMessage = {
        from,
        to: email.address,
        subject: sanitizeHeaderValue(subjectTpl(user, opts), SUBJECT_MAX),
        headers,
        messageId: sanitizeHeaderValue(messageId),
      };
      if (htmlTpl) message.html = htmlTpl(user, opts);
      if (textTpl) message.text = textTpl(user, opts);
      else if (derived?.kind === 'static') message.text = derived.text;
      else if (derived?.kind === 'template') message.text = derived.template(user, opts);
      else if (message.html !== undefined) message.text = htmlToText(message.html);
      return { ok: true, message };
    } catch (err) {
      return { ok: false, reason: `render failed: ${why(err)}` };
    }
  }

  return { hash, render };
}
