// `mailcron broadcast`: one message to every matching user, resumable and never sent twice.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { RateLimit } from '../../core/rate-limit.js';
import { deliveryTuning, pidAlive, rateArg, wholeNumber } from '../args.js';
import { emitJson } from '../io.js';
import { action, type CommandContext } from '../run.js';

interface BroadcastOptions {
  template?: string;
  subject?: string;
  text?: string;
  html?: string;
  filter?: string;
  includeInactive?: boolean;
  id?: string;
  force?: boolean;
  rate?: RateLimit;
  maxErrors?: number;
  dryRun?: boolean;
  testTo?: string;
  yes?: boolean;
  uncertain: 'resend' | 'skip';
  batchSize: number;
  count?: boolean;
  unsubscribeUrl?: string;
  unsubscribeMailto?: string;
}

export function register(program: Command): void {
  program
    .command('broadcast')
    .description('Send one message to every matching user (resumable: rerun the same command to continue)')
    .option('--template <file>', 'message template: front matter "subject: …", then "---- text" and/or "---- html" parts')
    .option('--subject <text>', 'subject template, e.g. "Hello {{name}}" (with --text and/or --html)')
    .option('--text <text|@file>', 'plain-text part, inline or @file')
    .option('--html <@file>', 'HTML part, @file (or inline); user fields are HTML-escaped; the text part is derived when absent')
    .option('--filter <json>', `narrow the audience, MongoDB extended JSON, e.g. '{"plan":"pro"}'`)
    .option('--include-inactive', 'send to inactive users too (default: only active: true)')
    .option('--id <name>', 'broadcast id (default: derived from message and audience, so a rerun resumes)')
    .option('--force', 'continue an --id whose message or audience changed (users it reached are not sent again)')
    .option('--rate <n/unit>', 'cap sends, sliding window: 50/s, 600/m, 10000/h', rateArg)
    .option('--max-errors <n>', 'abort (exit 3) once this many deliveries failed in this run', wholeNumber('--max-errors', 1, 1e9))
    .addOption(new Option('--dry-run', 'render and count; send nothing, write nothing').conflicts('testTo'))
    .option('--test-to <address>', "send the first user's message to this address only; nothing recorded")
    .option('-y, --yes', 'do not ask for confirmation on a terminal')
    .addOption(
      new Option('--uncertain <mode>', 'deliveries a crashed run left in flight: resend (at-least-once) or skip (at-most-once)')
        .choices(['resend', 'skip'])
        .default('resend'),
    )
    .option('--count', 'count the audience up front for the progress total and ETA (default on a terminal; unattended first runs record what they streamed)')
    .option('--batch-size <n>', 'users read per query (default 500)', wholeNumber('--batch-size', 1, 10_000), 500)
    .option('--unsubscribe-url <template>', 'List-Unsubscribe URL (with One-Click POST), e.g. https://x/unsub?u={{_id}}')
    .option('--unsubscribe-mailto <address>', 'List-Unsubscribe mailto, e.g. unsub@example.com')
    .addHelpText(
      'after',
      `
Resume: deliveries are recorded in mailcron_deliveries. Running the same command again (or with
the same --id) skips users already sent or permanently failed, retries transient failures, and
resends deliveries a crashed run left in flight (counted as "uncertain"; --uncertain skip records
them skipped instead). Exit codes: 0 done (permanent failures are counted, not an error),
2 bad flags, 3 aborted (SMTP auth/TLS, server unreachable, --max-errors): safe to rerun,
75 another run holds this broadcast, 130/143 interrupted after saving progress.

Examples:
  $ mailcron broadcast --template examples/templates/welcome.txt --dry-run
  $ mailcron broadcast --subject "Hello {{name}}" --text @hello.txt --html @hello.html --yes
  $ mailcron broadcast --template news.tpl --filter '{"plan":"pro"}' --rate 20/s --id news-june
  $ mailcron broadcast --template news.tpl --test-to me@example.com
  $ mailcron status --id news-june`,
    )
    .action(action<BroadcastOptions>((ctx, opts) => broadcastCommand(ctx, opts)));
}

async function readPart(flag: string, value: string | undefined, mustBeFile = false): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (!value.startsWith('@')) {
    if (mustBeFile) throw new UsageError(`${flag}: give a file as @path`);
    return value;
  }
  const path = value.slice(1);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function broadcastCommand(ctx: CommandContext, opts: BroadcastOptions): Promise<number | void> {
  const { io, config } = ctx;
  if (opts.template !== undefined && (opts.subject !== undefined || opts.text !== undefined || opts.html !== undefined)) {
    throw new UsageError('--template cannot be combined with --subject/--text/--html: put everything in the template, or use the flags');
  }
  if (ctx.json && config.transport.kind === 'json') {
    throw new UsageError('SMTP_URL=json writes messages on stdout, which --json reserves for the summary; use outbox:<dir> or drop --json');
  }
  const [msg, { BSON, MongoError }, { audienceQuery, parseFilter }, { connectMongo, mongoUnreachable }, { createUserSource }, { createMongoLedger }, { createBroadcastStore }, indexes, core, { createProgress }, { confirm }] =
    await Promise.all([
      import('../../core/message/index.js'),
      import('mongodb'),
      import('../../adapters/mongo/audience.js'),
      import('../../adapters/mongo/client.js'),
      import('../../adapters/mongo/user-source.js'),
      import('../../adapters/mongo/mongo-ledger.js'),
      import('../../adapters/mongo/broadcast-store.js'),
      import('../../adapters/mongo/indexes.js'),
      import('../../core/broadcast.js'),
      import('../progress.js'),
      import('../prompt.js'),
    ]);

  let spec;
  if (opts.template !== undefined) {
    const source = await readPart('--template', `@${opts.template}`);
    spec = msg.parseTemplateFile(source!, opts.template);
  } else {
    spec = msg.messageSpecFromParts({
      ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
      ...(opts.text !== undefined ? { text: (await readPart('--text', opts.text))! } : {}),
      ...(opts.html !== undefined ? { html: (await readPart('--html', opts.html))! } : {}),
    });
  }
  const message = msg.compileMessage(spec, {
    from: config.mailFrom,
    ...(opts.unsubscribeUrl ? { unsubscribeUrl: opts.unsubscribeUrl } : {}),
    ...(opts.unsubscribeMailto ? { unsubscribeMailto: opts.unsubscribeMailto } : {}),
  });
  const query = audienceQuery(opts.includeInactive ? 'any' : 'active', parseFilter(opts.filter));

  const mongo = await connectMongo(config);
  try {
    if (!opts.dryRun && opts.testTo === undefined) {
      await indexes.ensureIndexes(mongo.db, config, indexes.REQUIRED_INDEXES.filter((s) => s.command === 'status'));
    }
    const [{ createMailer }, { randomBytes }] = await Promise.all([import('../../adapters/mail/index.js'), import('node:crypto')]);
    const host = hostname();
    const owner = { id: `${host}:${process.pid}:${randomBytes(4).toString('hex')}`, host, pid: process.pid };
    const progress = opts.testTo === undefined ? createProgress(io, { verb: opts.dryRun ? 'would send' : 'sent' }) : undefined;
    const askFirst = io.stdinIsTTY && io.stderrIsTTY && !opts.yes && !ctx.json;
    const result = await core.runBroadcast(
      {
        users: createUserSource(mongo.users, query),
        ledger: createMongoLedger(mongo.db),
        store: createBroadcastStore(mongo.db),
        openMailer: async () =>
          createMailer(config.transport, { concurrency: config.concurrency, from: config.mailFrom, signal: ctx.signal, out: (line) => io.out(line) }),
        clock: (await import('../../core/clock.js')).systemClock,
        owner,
        isHolderAlive: (lease) => (lease.host === host && lease.pid ? pidAlive(lease.pid) : undefined),
        ...(progress ? { progress } : {}),
        ...(askFirst
          ? {
              confirm: (plan) => {
                const what = plan.resuming
                  ? `Resume broadcast ${plan.id} (${plan.previousStatus ?? 'started'}, ${plan.done} of ${plan.audience} users already handled)?`
                  : `Send broadcast ${plan.id} to ${plan.audience} user${plan.audience === 1 ? '' : 's'} (via ${config.transport.kind === 'smtp' ? config.transport.host : config.transport.kind})?`;
                return confirm(what);
              },
            }
          : {}),
        signal: ctx.signal,
      },
      {
        message,
        subject: spec.subject,
        from: config.mailFrom,
        audience: BSON.EJSON.stringify(query, { relaxed: false }),
        collection: `${config.dbName}.${config.usersCollection}`,
        ...(opts.id !== undefined ? { id: opts.id } : {}),
        force: Boolean(opts.force),
        ...deliveryTuning(config, opts),
        ...(opts.testTo !== undefined ? { testTo: opts.testTo } : {}),
        batchSize: opts.batchSize,
        // The count is a second pass over the users: worth it when someone watches the bar.
        count: Boolean(opts.count) || io.stderrIsTTY,
      },
    );
    const { error, ...summary } = result;
    if (ctx.json) emitJson(io, summary);
    else io.err(`${formatSummary(result, io)}\n`);
    if (error) throw error;
  } catch (err) {
    // MongoDB failing mid-run (outside the pipeline, which handles its own) is fatal, not a bug.
    if (err instanceof MongoError) throw mongoUnreachable(config, err);
    throw err;
  } finally {
    await mongo.close().catch(() => {});
  }
}

function formatSummary(r: import('../../core/broadcast.js').BroadcastResult, io: CommandContext['io']): string {
  const c = r.counts;
  if (r.mode === 'test') return `mailcron: test message of broadcast ${r.id} sent to ${r.testTo}`;
  const secs = (r.durationMs / 1000).toFixed(1);
  const head =
    r.mode === 'dry-run'
      ? `mailcron: dry run of broadcast ${r.id}: would send ${c.sent}`
      : `mailcron: broadcast ${r.id} ${r.status}: ${c.sent} sent`;
  const parts = [
    head,
    `${c.failed} failed${c.retryable ? ` (${c.retryable} retryable: rerun to retry)` : ''}`,
    `${c.skipped} skipped`,
    `${c.alreadyDone} already done`,
    `${c.uncertain} uncertain${c.uncertain ? ` (${c.uncertainResent} resent)` : ''}`,
    `${c.retried} retries`,
    `audience ${r.audience ?? 'not counted'}`,
    `${secs}s${r.mode === 'send' ? `, ${r.rate.toFixed(1)}/s` : ''}`,
  ];
  const text = parts.join(', ');
  const colored = r.status === 'completed' ? io.color.green(text) : r.status === 'dry-run' ? text : io.color.yellow(text);
  return r.status === 'interrupted' ? `${colored}\nmailcron: progress saved; rerun the same command to continue` : colored;
}
