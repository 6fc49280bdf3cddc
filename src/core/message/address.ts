// Recipient validation, header sanitising and Message-IDs. User data is untrusted: nothing from a
// user document may reach a header without passing through here.
import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';

/** RFC 5321: 254 octets for a forward path, 64 for the local part. */
const MAX_ADDRESS = 254;
const MAX_LOCAL = 64;
// dot-atom (RFC 5322 §3.2.3) without quoted local parts: relays reject those in practice.
const LOCAL_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export type EmailCheck = { ok: true; address: string } | { ok: false; reason: string };

function shown(value: string): string {
  const s = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return JSON.stringify(s);
}

/**
 * Checks a recipient address taken from a user document. Surrounding spaces are trimmed; an
 * internationalised domain is returned in its ASCII (punycode) form. Quoted local parts,
 * non-ASCII local parts and address literals are refused because relays rarely accept them.
 * Never throws.
 */
export function validateEmail(value: unknown): EmailCheck {
  if (value === undefined || value === null || value === '') return { ok: false, reason: 'missing email' };
  if (typeof value !== 'string') return { ok: false, reason: `invalid email: not a string (${Array.isArray(value) ? 'array' : typeof value})` };
  if (/[\r\n]/.test(value)) return { ok: false, reason: 'invalid email: contains a line break' };
  const v = value.trim();
  if (!v) return { ok: false, reason: 'missing email' };
  if (v.length > MAX_ADDRESS) return { ok: false, reason: `invalid email: longer than ${MAX_ADDRESS} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s<>]/.test(v)) return { ok: false, reason: `invalid email: ${shown(v)} contains a space or control character` };
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) return { ok: false, reason: `invalid email: ${shown(v)} is not of the form name@domain` };
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (local.length > MAX_LOCAL) return { ok: false, reason: `invalid email: ${shown(v)} has a local part longer than ${MAX_LOCAL}` };
  if (!LOCAL_RE.test(local)) return { ok: false, reason: `invalid email: ${shown(v)} has an unsupported local part` };
  const ascii = /^[\x20-\x7e]*$/.test(domain) ? domain.toLowerCase() : domainToASCII(domain);
  if (!ascii || ascii.length > 253 || !ascii.split('.').every((l) => LABEL_RE.test(l))) {
    return { ok: false, reason: `invalid email: ${shown(v)} has an invalid domain` };
  }
  const address = `${local}@${ascii}`;
  if (address.length > MAX_ADDRESS) return { ok: false, reason: `invalid email: longer than ${MAX_ADDRESS} characters` };
  return { ok: true, address };
}

/**
 * Makes a string safe as a header value: CR/LF (and Unicode line separators) become a space,
 * other control characters are dropped, runs of spaces collapse, and the result is capped at
 * `maxLength` characters (default 998, the RFC 5322 line limit) without splitting a surrogate pair.
 */
export function sanitizeHeaderValue(value: string, maxLength = 998): string {
  let s = value
    .replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (s.length > maxLength) {
    let end = maxLength;
    const code = s.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end -= 1;
    s = s.slice(0, end).trimEnd();
  }
  return s;
}

/** The bare address of `Name <addr>` or `addr` (no validation beyond that). */
export function addressOf(mailbox: string): string {
  const m = /<([^<>]*)>\s*$/.exec(mailbox);
  return (m ? m[1]! : mailbox).trim();
}

/** The ASCII domain of a mailbox, or `mailcron.localhost` when it has none. */
export function domainOf(mailbox: string): string {
  const addr = addressOf(mailbox);
  const at = addr.lastIndexOf('@');
  const domain = at === -1 ? '' : addr.slice(at + 1).toLowerCase();
  const ascii = /^[\x21-\x7e]*$/.test(domain) ? domain : domainToASCII(domain);
  return ascii && /^[a-z0-9.-]+$/.test(ascii) ? ascii : 'mailcron.localhost';
}

/**
 * Deterministic Message-ID for a delivery key: `<first 32 hex of sha256(key)@from-domain>`.
 * A resend after a crash carries the same id, so receivers can de-duplicate it.
 */
export function makeMessageId(key: string, fromAddress: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `<${hash}@${domainOf(fromAddress)}>`;
}
