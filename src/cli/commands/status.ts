// `mailcron status`: broadcasts from the ledger — sent, failed, skipped, uncertain, pending,
// first and last send, rate.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { BroadcastStatusRow } from '../../core/status.js';
import { pidAlive } from '../args.js';
import { emitJson, type Io } from '../io.js';
import { action, type CommandContext } from '../run.js';

interface StatusOptions {
  id?: string;
  limit: number;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('Show broadcasts: sent, failed, skipped, uncertain, pending, first and last send, rate')
    .option('--id <name>', 'one broadcast')
    .option('--limit <n>', 'latest broadcasts to show (default 20)', (v) => Math.max(1, Math.min(1000, Number.parseInt(v, 10) || 20)), 20)
    .addHelpText(
      'after',
      `
Counts come from the delivery ledger. "uncertain": left in flight by a run that crashed (a rerun
resends them, or skips them with --uncertain skip); "retryable": transient failures a rerun
retries; "pending": audience not yet finally handled. "audience ?": not counted yet (an unattended
first run without --count records the users it streamed once it reaches the end).

Examples:
  $ mailcron status
  $ mailcron status --id news-june --json`,
    )
    .action(action<StatusOptions>((ctx, opts) => statusCommand(ctx, opts)));
}

async function statusCommand(ctx: CommandContext, opts: StatusOptions): Promise<void> {
  const [{ connectMongo, mongoUnreachable }, { createMongoLedger }, { createBroadcastStore }, core] = await Promise.all([
    import('../../adapters/mongo/client.js'),
    import('../../adapters/mongo/mongo-ledger.js'),
    import('../../adapters/mongo/broadcast-store.js'),
    import('../../core/status.js'),
  ]);
  const mongo = await connectMongo(ctx.config);
  try {
    const host = hostname();
    const result = await core.broadcastStatus(
      {
        store: createBroadcastStore(mongo.db),
        ledger: createMongoLedger(mongo.db),
        now: new Date(),
        isHolderAlive: (lease) => (lease.host === host && lease.pid ? pidAlive(lease.pid) : undefined),
      },
      { ...(opts.id !== undefined ? { id: opts.id } : {}), limit: opts.limit },
    );
    if (opts.id === undefined) result.schedule = await scheduleSection(mongo);
    if (ctx.json) return emitJson(ctx.io, result);
    ctx.io.out(formatStatus(result.broadcasts, ctx.io));
    if (result.schedule) ctx.io.out(`\n${(await import('../schedule-output.js')).formatScheduleStatus(result.schedule, ctx.io)}`);
  } catch (err) {
    const { MongoError } = await import('mongodb');
    if (err instanceof MongoError) throw mongoUnreachable(ctx.config, err);
    throw err;
  } finally {
    await mongo.close().catch(() => {});
  }
}

function formatStatus(rows: BroadcastStatusRow[], io: Io): string {
  if (rows.length === 0) return 'No broadcasts yet. Start one with: mailcron broadcast --help\n';
  const out: string[] = [];
  for (const r of rows) {
    const state = r.running ? io.color.cyan('running') : r.status === 'completed' ? io.color.green(r.status) : io.color.yellow(r.status);
    out.push(`${io.color.bold(r.id)}  ${state}  ${JSON.stringify(r.subject)}`);
    out.push(
      `  audience ${r.audience ?? '?'}  sent ${r.sent}  failed ${r.failed}  retryable ${r.retryable}  skipped ${r.skipped}  uncertain ${r.uncertain}${r.inFlight ? `  in flight ${r.inFlight}` : ''}  pending ${r.pending}`,
    );
    const rate = r.perMinute === null ? '' : r.perMinute >= 60 ? `  rate ${Math.round(r.perMinute / 60)}/s` : `  rate ${r.perMinute}/min`;
    out.push(`  first send ${r.firstSentAt ?? '-'}  last send ${r.lastSentAt ?? '-'}${rate}  runs ${r.runs}`);
    if (r.lastError) out.push(`  last error: ${r.lastError}`);
  }
  return `${out.join('\n')}\n`;
}

/** The schedule part of the status (owned by the schedule command: src/core/schedule/status.ts). */
async function scheduleSection(mongo: import('../../adapters/mongo/client.js').MongoHandle) {
  const [{ createMongoScheduleStore }, { createMongoLeaseStore }, { createMongoLedger }, { scheduleStatus }] = await Promise.all([
    import('../../adapters/mongo/schedule-store.js'),
    import('../../adapters/mongo/mongo-lock.js'),
    import('../../adapters/mongo/mongo-ledger.js'),
    import('../../core/schedule/status.js'),
  ]);
  return scheduleStatus(
    { store: createMongoScheduleStore(mongo.db, mongo.users), leases: createMongoLeaseStore(mongo.db), ledger: createMongoLedger(mongo.db) },
    new Date(),
  );
}
