// `mailcron schedule`: the cron entry point. Sends each user's due schedule slots once, under a
// lock, reading only the due users. See README "Schedules".
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import ms from 'ms';
import { UsageError } from '../../core/errors.js';
import type { RateLimit } from '../../core/rate-limit.js';
import { redactSecrets } from '../../core/redact.js';
import { emitJson } from '../io.js';
import { formatRun } from '../schedule-output.js';
import { action, type CommandContext } from '../run.js';
import { deliveryTuning, wholeNumber, rateArg } from '../args.js';

interface ScheduleOptions {
  now?: Date;
  maxRuntime?: number;
  max?: number;
  templateDir?: string;
  template?: string;
  subject?: string;
  text?: string;
  html?: string;
  unsubscribeUrl?: string;
  unsubscribeMailto?: string;
  catchUp: number;
  scheduleField?: string;
  defaultTimezone?: string;
  replan?: boolean;
  dryRun?: boolean;
  uncertain: 'resend' | 'skip';
  lockTtl: number;
  rate?: RateLimit;
  maxErrors?: number;
}

/** A duration with a unit (`90s`, `4m`, `6h`, `1d`); a bare number is refused, since `240` would mean 240 ms. */
export function durationArg(flag: string, minMs = 1) {
  return (value: string): number => {
    const v = value.trim();
    const n = /[a-z]/i.test(v) ? (ms(v as ms.StringValue) as number | undefined) : undefined;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < minMs) {
      throw new InvalidArgumentError(`${flag} must be a duration with a unit, e.g. 90s, 4m, 6h or 1d`);
    }
    return n;
  };
}

function instantArg(value: string): Date {
  // A date-time with a zone (Z or ±hh:mm): a local time would depend on the machine's zone.
  const ok = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(value.trim());
  const d = new Date(value.trim());
  if (!ok || Number.isNaN(d.getTime())) throw new InvalidArgumentError('--now must be an ISO 8601 date-time with a zone, e.g. 2025-03-30T07:00:00Z');
  return d;
}

function fieldArg(value: string): string {
  if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(value) || value.startsWith('mailcron')) {
    throw new InvalidArgumentError('--schedule-field must be a field path such as schedule or prefs.schedule (not under mailcron)');
  }
  return value;
}

export function register(program: Command): void {
  program
    .command('schedule')
    .description("Send every user's due schedule slots (run it from cron every few minutes)")
    .option('--template-dir <dir>', 'directory of the templates that schedules name (schedule.template "digest" → <dir>/digest or <dir>/digest.txt)')
    .option('--template <file>', 'message for schedules without a template (or without --template-dir)')
    .option('--subject <text>', 'subject template, with --text and/or --html (instead of --template)')
    .option('--text <text|@file>', 'plain-text part, inline or @file')
    .option('--html <@file>', 'HTML part, @file (or inline)')
    .option('--unsubscribe-url <template>', 'List-Unsubscribe URL (with One-Click POST), e.g. https://x/unsub?u={{_id}}')
    .option('--unsubscribe-mailto <address>', 'List-Unsubscribe mailto, e.g. unsub@example.com')
    .addOption(
      new Option('--catch-up <duration>', 'send slots missed by less than this; older ones are recorded missed').argParser(durationArg('--catch-up', 0)).default(6 * 3_600_000, '6h'),
    )
    .option('--max-runtime <duration>', 'stop taking users after this long, in time for the next cron tick (e.g. 4m)', durationArg('--max-runtime'))
    .option('--max <n>', 'take at most this many due users; the rest stay due for the next run', wholeNumber('--max', 1, 1e9))
    .option('--now <iso>', 'run as if it were this instant (tests, replays); the lock still uses the real clock', instantArg)
    .option('--schedule-field <path>', 'where users keep their schedule [env MAILCRON_SCHEDULE_FIELD; default schedule]', fieldArg)
    .option('--default-timezone <zone>', 'time zone of schedules that name none [env MAILCRON_DEFAULT_TIMEZONE; default UTC]')
    .option('--replan', "compare every scheduled user's schedule with its plan (after bulk edits that did not unset mailcron.scheduleHash)")
    .option('--dry-run', 'plan and count; send nothing, write nothing')
    .addOption(
      new Option('--uncertain <mode>', 'slots a crashed run left in flight: resend (at-least-once) or skip (at-most-once)').choices(['resend', 'skip']).default('resend'),
    )
    .addOption(
      new Option('--lock-ttl <duration>', 'lease length; a crashed run blocks the next one for at most this long').argParser(durationArg('--lock-ttl', 1000)).default(60_000, '60s'),
    )
    .option('--rate <n/unit>', 'cap sends, sliding window: 50/s, 600/m', rateArg)
    .option('--max-errors <n>', 'abort (exit 3) once this many deliveries failed in this run', wholeNumber('--max-errors', 1, 1e9))
    .addHelpText(
      'after',
      `
Users: every user with a schedule value (default field "schedule", e.g.
  { cron: "0 9 * * 1-5", timezone: "Europe/Berlin", template: "digest" })
is planned; only users with active: true are sent to. Each slot (user + time) is sent at most
once, recorded in mailcron_deliveries; slots older than --catch-up are recorded as missed.
An invalid expression or zone is recorded as skipped with the reason. When your application
edits a schedule, it should also unset mailcron.scheduleHash so the next run plans it again.

Exit codes: 0 done, 2 bad flags, 3 aborted (SMTP auth/TLS, server unreachable, lock lost):
safe to rerun, 75 another schedule run holds the lock, 130/143 interrupted after saving.

Examples:
  $ mailcron schedule --template-dir ./templates --max-runtime 4m
  $ mailcron schedule --env-file /etc/mailcron.env --template-dir /srv/mail/templates
  $ mailcron schedule --template-dir ./templates --dry-run --json
  $ mailcron schedule --template digest.txt --now 2025-03-30T07:00:00Z
  $ mailcron schedule --template-dir ./templates --replan`,
    )
    .action(action<ScheduleOptions>((ctx, opts) => scheduleCommand(ctx, opts)));
}

async function readPart(flag: string, value: string | undefined): Promise<string | undefined> {
  if (value === undefined || !value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** `<dir>/<name>` if it is a file, else `<dir>/<name>.txt`; null when neither exists. */
function templateReader(dir: string) {
  return async (name: string) => {
    for (const file of [join(dir, name), join(dir, `${name}.txt`)]) {
      try {
        return { source: await readFile(file, 'utf8'), fileName: file };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'EISDIR') throw new Error(`cannot read ${file} (${code ?? 'error'})`);
      }
    }
    return null;
  };
}

async function scheduleCommand(ctx: CommandContext, opts: ScheduleOptions): Promise<number | void> {
  const { io, config } = ctx;
  const usesFlags = opts.template !== undefined || opts.subject !== undefined || opts.text !== undefined || opts.html !== undefined;
  if (opts.template !== undefined && (opts.subject !== undefined || opts.text !== undefined || opts.html !== undefined)) {
    throw new UsageError('--template cannot be combined with --subject/--text/--html: put everything in the template, or use the flags');
  }
  if (opts.templateDir === undefined && !usesFlags) {
    throw new UsageError('schedule needs a message: --template-dir <dir> for the templates schedules name, and/or --template <file> (or --subject with --text/--html)');
  }
  if (ctx.json && config.transport.kind === 'json') {
    throw new UsageError('SMTP_URL=json writes messages on stdout, which --json reserves for the summary; use outbox:<dir> or drop --json');
  }
  if (opts.templateDir !== undefined) {
    const s = await stat(opts.templateDir).catch(() => undefined);
    if (!s?.isDirectory()) throw new UsageError(`--template-dir: ${opts.templateDir} is not a directory`);
  }
  const field = opts.scheduleField ?? fieldFromEnv(ctx.setting('MAILCRON_SCHEDULE_FIELD'));
  const defaultTimezone = opts.defaultTimezone ?? ctx.setting('MAILCRON_DEFAULT_TIMEZONE');

  const [msg, { connectMongo }, { createMongoLedger }, { createMongoLeaseStore }, { createMongoScheduleStore, scheduleIndexes }, indexes, core, slots, messages, clock, { createProgress }] =
    await Promise.all([
      import('../../core/message/index.js'),
      import('../../adapters/mongo/client.js'),
      import('../../adapters/mongo/mongo-ledger.js'),
      import('../../adapters/mongo/mongo-lock.js'),
      import('../../adapters/mongo/schedule-store.js'),
      import('../../adapters/mongo/indexes.js'),
      import('../../core/schedule/run-schedule.js'),
      import('../../core/schedule/slots.js'),
      import('../../core/schedule/messages.js'),
      import('../../core/clock.js'),
      import('../progress.js'),
    ]);
  if (defaultTimezone !== undefined && !slots.isValidTimeZone(defaultTimezone)) {
    throw new UsageError(`--default-timezone/MAILCRON_DEFAULT_TIMEZONE: unknown time zone "${defaultTimezone}"; use an IANA name such as Europe/Berlin`);
  }

  let flags;
  if (opts.template !== undefined) flags = msg.parseTemplateFile((await readPart('--template', `@${opts.template}`))!, opts.template);
  else if (usesFlags) {
    flags = msg.messageSpecFromParts({
      ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
      ...(opts.text !== undefined ? { text: (await readPart('--text', opts.text))! } : {}),
      ...(opts.html !== undefined ? { html: (await readPart('--html', opts.html))! } : {}),
    });
  }
  const compile = {
    from: config.mailFrom,
    ...(opts.unsubscribeUrl ? { unsubscribeUrl: opts.unsubscribeUrl } : {}),
    ...(opts.unsubscribeMailto ? { unsubscribeMailto: opts.unsubscribeMailto } : {}),
  };
  // Bad flags fail now (exit 2), not user by user.
  if (flags) msg.compileMessage(flags, compile);

  const mongo = await connectMongo(config);
  try {
    if (!opts.dryRun) {
      const specs = [...scheduleIndexes(field), ...indexes.REQUIRED_INDEXES.filter((s) => s.command === 'status')];
      await indexes.ensureIndexes(mongo.db, config, specs);
    }
    const [{ createMailer }, { randomBytes }] = await Promise.all([import('../../adapters/mail/index.js'), import('node:crypto')]);
    const mailer = createMailer(config.transport, { concurrency: config.concurrency, from: config.mailFrom, signal: ctx.signal, out: (line) => io.out(line) });
    const progress = createProgress(io, { verb: opts.dryRun ? 'would send' : 'sent' });
    let result;
    try {
      result = await core.runSchedule({
        store: createMongoScheduleStore(mongo.db, mongo.users, { field }),
        leases: createMongoLeaseStore(mongo.db),
        ledger: createMongoLedger(mongo.db),
        mailer,
        messages: messages.createScheduleMessages({
          ...(opts.templateDir !== undefined ? { templateDir: opts.templateDir, readTemplate: templateReader(opts.templateDir) } : {}),
          ...(flags ? { flags } : {}),
          compile,
        }),
        clock: opts.now ? clock.offsetClock(opts.now) : clock.systemClock,
        ...(opts.now ? { now: opts.now } : {}),
        owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
        from: config.mailFrom,
        field,
        ...(defaultTimezone !== undefined ? { defaults: { timezone: defaultTimezone } } : {}),
        catchUpMs: opts.catchUp,
        ...(opts.maxRuntime !== undefined ? { maxRuntimeMs: opts.maxRuntime } : {}),
        ...(opts.max !== undefined ? { maxUsers: opts.max } : {}),
        lockTtlMs: opts.lockTtl,
        replan: Boolean(opts.replan),
        ...deliveryTuning(config, opts),
        signal: ctx.signal,
        progress,
        onLocked: () => progress.start?.({ total: undefined, label: 'schedule' }),
        onLockRenewError: (err) => io.err(`mailcron: could not renew the schedule lock, retrying: ${redactSecrets(String((err as Error)?.message ?? err), config.secrets)}\n`),
      });
    } finally {
      progress.stop?.();
      await mailer.close().catch(() => {});
    }
    const { record, pipelineStop } = result;
    if (ctx.json) emitJson(io, record);
    else io.err(formatRun(record, io));
    if (pipelineStop && pipelineStop.reason !== 'signal' && pipelineStop.error) throw pipelineStop.error;
  } finally {
    await mongo.close().catch(() => {});
  }
}

function fieldFromEnv(value: string | undefined): string {
  if (value === undefined || value === '') return 'schedule';
  try {
    return fieldArg(value);
  } catch (err) {
    throw new UsageError(`MAILCRON_SCHEDULE_FIELD: ${(err as Error).message.replace(/^--schedule-field /, '')}`);
  }
}
