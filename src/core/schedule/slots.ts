// Schedule maths: which instants a user's cron expression fires at, in the user's time zone.
// croner does the calendar work, including daylight-saving changes (see README "Time zones"):
// - fixed-time jobs (no wildcard or step in minute and hour, e.g. `30 2 * * *` or `0 9,17 * * *`)
//   whose local time falls in a spring-forward gap run once, at the first valid time after the gap
//   (02:30 → 03:00 in Europe/Berlin), and run once, at the first occurrence, when the time repeats;
// - interval jobs (`*/15 * * * *`) skip the missing times and run on both passes of a repeated hour,
//   since both are distinct instants.
// Slots are instants (UTC Dates); the ledger keys them by their ISO string, so a slot is one send.
import { createHash } from 'node:crypto';
import { Cron } from 'croner';

/** A schedule as mailcron runs it. */
export interface Schedule {
  /** Five-field cron expression (minute hour day-of-month month day-of-week) or a nickname such as `@daily`. */
  cron: string;
  /** IANA time zone, e.g. `Europe/Berlin`. */
  timezone: string;
  /** Template name (a file in `--template-dir`); undefined: the run's message flags. */
  template?: string;
}

export type ParsedSchedule = ({ ok: true } & Schedule) | { ok: false; reason: string };

export interface ScheduleDefaults {
  /** Time zone when the schedule names none. Default `UTC`. */
  timezone?: string;
}

// One Cron per (expression, zone): users share a handful of schedules, and building one parses.
const cache = new Map<string, Cron>();
const CACHE_LIMIT = 1000;

function cronFor(cron: string, timezone: string): Cron {
  const key = `${timezone}\u0000${cron}`;
  let job = cache.get(key);
  if (!job) {
    // mode 5-part: minute precision, like crontab (a seconds field would be meaningless for a job
    // run every few minutes). no-wildcard: `0 9,17 * * *` is a fixed-time job like in Vixie cron,
    // so a list of hours is sent once, not twice, when an hour repeats.
    job = new Cron(cron, { timezone, mode: '5-part', fixedTimeRule: 'no-wildcard', paused: true });
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, job);
  }
  return job;
}

/** True when `timezone` is an IANA zone name the runtime knows (e.g. `Asia/Kolkata`, `UTC`). */
export function isValidTimeZone(timezone: string): boolean {
  if (timezone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Validates a user's schedule value. Never throws: a bad value gives `{ok: false, reason}` so the
 * run records the user `skipped` with that reason and goes on. The template name must be a plain
 * file name (letters, digits, `._-`), since it picks a file in `--template-dir`.
 */
export function parseSchedule(value: unknown, defaults: ScheduleDefaults = {}): ParsedSchedule {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'schedule must be an object like {cron: "0 9 * * 1-5", timezone: "Europe/Berlin", template: "digest"}' };
  }
  const v = value as { cron?: unknown; timezone?: unknown; template?: unknown };
  if (typeof v.cron !== 'string' || v.cron.trim() === '') return { ok: false, reason: 'schedule.cron must be a cron expression such as "0 9 * * 1-5"' };
  const cron = v.cron.trim().replace(/\s+/g, ' ');
  const timezone = v.timezone === undefined || v.timezone === null ? (defaults.timezone ?? 'UTC') : v.timezone;
  if (typeof timezone !== 'string' || !isValidTimeZone(timezone)) {
    return { ok: false, reason: `schedule.timezone: unknown time zone ${JSON.stringify(timezone)}; use an IANA name such as "Europe/Berlin"` };
  }
  try {
    cronFor(cron, timezone);
  } catch (err) {
    const detail = String((err as Error).message ?? err).replace(/^CronPattern: /, '');
    return { ok: false, reason: `schedule.cron: invalid expression ${JSON.stringify(cron)} (${detail}); use five fields: minute hour day month weekday` };
  }
  const out: { ok: true } & Schedule = { ok: true, cron, timezone };
  if (v.template !== undefined && v.template !== null) {
    if (typeof v.template !== 'string' || !TEMPLATE_NAME.test(v.template) || v.template.includes('..')) {
      return { ok: false, reason: `schedule.template: ${JSON.stringify(v.template)} is not a template name (letters, digits, ".", "_", "-")` };
    }
    out.template = v.template;
  }
  return out;
}

/** The first slot strictly after `after` (minute precision), or null when the expression never fires again. */
export function nextSlot(cron: string, timezone: string, after: Date): Date | null {
  return cronFor(cron, timezone).nextRun(after);
}

/**
 * Slots in `(after, until]`, oldest first, at most `limit` (default 100). `truncated` says more
 * slots exist in the range; the caller continues from the last one returned.
 */
export function slotsBetween(cron: string, timezone: string, after: Date, until: Date, limit = 100): { slots: Date[]; truncated: boolean } {
  const slots: Date[] = [];
  let cursor = after;
  for (;;) {
    const next = nextSlot(cron, timezone, cursor);
    if (!next || next.getTime() > until.getTime()) return { slots, truncated: false };
    if (slots.length >= limit) return { slots, truncated: true };
    slots.push(next);
    cursor = next;
  }
}

/**
 * Fingerprint of what decides a user's slots and message (expression, zone, template). Stored as
 * `mailcron.scheduleHash`: a user whose current schedule hashes differently was edited and is
 * planned again. An invalid value is hashed raw, so it is reported once, not on every run.
 */
export function scheduleHash(parsed: ParsedSchedule, raw: unknown): string {
  const basis = parsed.ok ? ['v1', parsed.cron, parsed.timezone, parsed.template ?? null] : ['raw', stableJson(raw)];
  return createHash('sha256').update(JSON.stringify(basis)).digest('hex').slice(0, 16);
}

/** parseSchedule plus its fingerprint. */
export function readSchedule(raw: unknown, defaults: ScheduleDefaults = {}): { parsed: ParsedSchedule; hash: string } {
  const parsed = parseSchedule(raw, defaults);
  return { parsed, hash: scheduleHash(parsed, raw) };
}

function stableJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
    ) ?? 'undefined';
  } catch {
    return String(value);
  }
}
