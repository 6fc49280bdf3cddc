// Builds the raw RFC 5322 message ourselves: nodemailer's MailComposer (streams, one MimeNode
// tree per message) manages ~2,500 text+HTML messages/s on one core, which would cap a broadcast
// below what the SMTP pool can carry. The encoders are nodemailer's own (RFC 2047 words,
// quoted-printable), so the output matches what MailComposer would produce.
import { randomBytes } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { encodeWord, encodeWords, foldLines, quoteString } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import type { OutgoingMessage } from '../ports.js';
import { sanitizeHeaderValue, validateEmail } from './address.js';

export interface MimeOptions {
  /** Date header value. Default: now. */
  date?: Date;
  /** Multipart boundary. Default: unique per message in this process. */
  boundary?: string;
}

const PRINTABLE = /^[\x20-\x7e]*$/;
const SEVEN_BIT_BODY = /^[\x20-\x7e\r\n\t]*$/;
const PHRASE_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$/;

/** `Name <addr>` with the name quoted or RFC 2047-encoded as needed, the domain in ASCII. */
export function formatMailbox(mailbox: string): string {
  const parsed = addressparser(sanitizeHeaderValue(mailbox), { flatten: true })[0];
  const raw = parsed?.address ?? mailbox.trim();
  const checked = validateEmail(raw);
  const address = checked.ok ? checked.address : raw;
  const name = (parsed?.name ?? '').trim();
  if (!name) return address;
  let phrase: string;
  if (!PRINTABLE.test(name) || name.includes('=?')) phrase = encodeWords(name, 'Q', 52, true);
  else if (PHRASE_ATOM.test(name)) phrase = name;
  else phrase = quoteString(name);
  return `${phrase} <${address}>`;
}

/** An unstructured header line (Subject, custom headers), encoded and folded at 76. */
export function headerLine(name: string, value: string): string {
  const v = sanitizeHeaderValue(value);
  let encoded: string;
  if (PRINTABLE.test(v) && !v.includes('=?')) encoded = v;
  else if (v.includes('=?')) encoded = encodeWord(v, 'Q', 52); // never pass a user's look-alike encoded-word through
  else encoded = encodeWords(v, 'Q', 52);
  return foldLines(`${name}: ${encoded}`, 76);
}

function hasLongLine(crlf: string): boolean {
  let start = 0;
  for (;;) {
    const end = crlf.indexOf('\r\n', start);
    if ((end === -1 ? crlf.length : end) - start > 998) return true;
    if (end === -1) return false;
    start = end + 2;
  }
}

function encodeBody(value: string): { cte: string; body: string } {
  const crlf = value.replace(/\r\n|\r|\n/g, '\r\n');
  if (SEVEN_BIT_BODY.test(crlf) && !hasLongLine(crlf)) return { cte: '7bit', body: crlf };
  return { cte: 'quoted-printable', body: qpWrap(qpEncode(crlf), 76) };
}

function partHeaders(type: 'plain' | 'html', cte: string): string {
  return `Content-Type: text/${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${cte}\r\n`;
}

const nonce = randomBytes(6).toString('hex');
let counter = 0;
function nextBoundary(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `--_mc_${nonce}_${counter.toString(36)}`;
}

// A validated recipient (what render() produces) needs no parsing.
const BARE_ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$/;

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

// The Date header changes once a second; formatting it per message showed up in profiles.
let dateCache = { second: -1, text: '' };
function currentDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateCache.second) dateCache = { second, text: rfc5322Date(new Date(now)) };
  return dateCache.text;
}

const fromCache = new Map<string, string>();
function cachedFrom(from: string): string {
  let line = fromCache.get(from);
  if (line === undefined) {
    line = foldLines(`From: ${formatMailbox(from)}`, 76);
    if (fromCache.size > 16) fromCache.clear();
    fromCache.set(from, line);
  }
  return line;
}

/**
 * Serialises a rendered message as RFC 5322 text with CRLF line ends: From, To, Subject, Date,
 * Message-ID, the message's extra headers, MIME-Version, then one text/plain or text/html part, or
 * multipart/alternative with both (text first). Bodies are 7bit when ASCII with lines under 999
 * characters, quoted-printable otherwise. Every header value is sanitised again here, so a header
 * can never be injected whatever the caller passes.
 */
export function buildMime(message: OutgoingMessage, options: MimeOptions = {}): string {
  const date = options.date ? rfc5322Date(options.date) : currentDate();
  let head =
    `${cachedFrom(message.from)}\r\n` +
    `To: ${BARE_ADDRESS.test(message.to) ? message.to : formatMailbox(message.to)}\r\n` +
    `${headerLine('Subject', message.subject)}\r\n` +
    `Date: ${date}\r\n` +
    `Message-ID: ${sanitizeHeaderValue(message.messageId)}\r\n`;
  if (message.headers) {
    for (const name in message.headers) {
      if (!/^[!-9;-~]+$/.test(name)) continue;
      head += `${headerLine(name, message.headers[name]!)}\r\n`;
    }
  }
  head += 'MIME-Version: 1.0\r\n';
  const text = message.text === undefined ? undefined : encodeBody(message.text);
  const html = message.html === undefined ? undefined : encodeBody(message.html);
  if (!text || !html) {
    const only = text ?? html ?? { cte: '7bit', body: '' };
    return `${head}${partHeaders(text ? 'plain' : 'html', only.cte)}\r\n${only.body}\r\n`;
  }
  let boundary = options.boundary ?? nextBoundary();
  while (text.body.includes(boundary) || html.body.includes(boundary)) boundary = nextBoundary();
  return (
    `${head}Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n` +
    `--${boundary}\r\n${partHeaders('plain', text.cte)}\r\n${text.body}\r\n` +
    `--${boundary}\r\n${partHeaders('html', html.cte)}\r\n${html.body}\r\n` +
    `--${boundary}--\r\n`
  );
}
