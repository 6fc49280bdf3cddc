// `mailcron doctor`: a checklist of what mailcron needs — configuration, MongoDB, the users
// collection, indexes, the SMTP server stage by stage — and what to fix. Exit 0 when nothing
// failed, 3 when a check failed, 2 when the configuration itself is invalid.
import { InvalidArgumentError, type Command } from 'commander';
import type { Check, DoctorReport } from '../../core/doctor.js';
import { ConfigError } from '../../core/errors.js';
import type { GlobalFlags } from '../config-loader.js';
import { EXIT } from '../exit-codes.js';
import { emitJson, processIo, type Io } from '../io.js';
import { action, exit, type CommandContext } from '../run.js';

interface DoctorOptions {
  fix?: boolean;
  timeout: number;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('Check configuration, MongoDB (reachability, users collection, indexes) and the SMTP server, and say what to fix')
    .option('--fix', 'create missing indexes')
    .option(
      '--timeout <seconds>',
      'limit for each network check',
      (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0 || n > 120) throw new InvalidArgumentError('--timeout must be a number of seconds from 0 to 120');
        return n;
      },
      5,
    )
    .addHelpText(
      'after',
      `
SMTP is probed without sending anything: connect, EHLO, TLS (smtps:// or STARTTLS) and AUTH when
SMTP_URL has credentials, then QUIT. outbox: and json transports are not probed.
Marks: ✓ passed, ✗ failed, ! warning (does not fail), - skipped.
Exit codes: 0 nothing failed, 3 a check failed, 2 the configuration is invalid.

Examples:
  $ mailcron doctor
  $ mailcron doctor --fix                     # also create missing indexes
  $ mailcron --env-file /etc/mailcron.env doctor --json`,
    )
    .action(async (...params: unknown[]) => {
      // The shared action wrapper stops at invalid configuration with one line; doctor is where
      // people come when the configuration is broken, so it reports every problem as a check.
      const cmd = params[params.length - 1] as Command;
      const flags = cmd.optsWithGlobals() as GlobalFlags;
      let issues: string[] | undefined;
      const { loadConfig } = await import('../config-loader.js');
      try {
        loadConfig(flags);
      } catch (err) {
        if (err instanceof ConfigError) issues = err.issues;
      }
      if (issues) {
        const { runDoctor } = await import('../../core/doctor.js');
        const io = await processIo();
        printReport(io, await runDoctor({ configIssues: issues }), Boolean(flags.json));
        await exit(EXIT.USAGE);
      }
      await action<DoctorOptions>((ctx, opts) => doctorCommand(ctx, opts))(...params);
    });
}

async function doctorCommand(ctx: CommandContext, opts: DoctorOptions): Promise<number> {
  const [{ runDoctor }, { openDoctorDatabase }, { describeConfig }] = await Promise.all([
    import('../../core/doctor.js'),
    import('../../adapters/mongo/doctor-probe.js'),
    import('../../core/config.js'),
  ]);
  const { config } = ctx;
  const timeoutMs = Math.round(opts.timeout * 1000);
  const t = config.transport;
  const smtp =
    t.kind === 'smtp'
      ? { probe: async () => (await import('../../adapters/mail/smtp-probe.js')).probeSmtp(t, { timeoutMs, secrets: config.secrets }) }
      : { skip: t.kind === 'outbox' ? `SMTP_URL is outbox:${t.dir}: messages are written as .eml files, nothing to probe` : 'SMTP_URL is json: messages are printed, nothing to probe' };
  const report = await runDoctor({
    configIssues: [],
    configSummary: describeConfig(config),
    openDatabase: () => openDoctorDatabase(config, { timeoutMs }),
    smtp,
    fix: Boolean(opts.fix),
  });
  printReport(ctx.io, report, ctx.json);
  return report.configInvalid ? EXIT.USAGE : report.ok ? EXIT.OK : EXIT.ABORTED;
}

const MARK: Record<Check['status'], string> = { ok: '✓', fail: '✗', warn: '!', skip: '-' };

/** Prints the checklist (or the --json object) on stdout. */
export function printReport(io: Io, report: DoctorReport, json: boolean): void {
  if (json) {
    emitJson(io, {
      ok: report.ok,
      checks: report.checks.map((c) => ({ name: c.name, ok: c.ok, status: c.status, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) })),
    });
    return;
  }
  // Colour only when the checklist itself goes to a terminal (or FORCE_COLOR says so).
  const useColor = io.stdoutIsTTY || io.env.FORCE_COLOR !== undefined;
  const c = io.color;
  const paint: Record<Check['status'], (s: string) => string> = useColor
    ? { ok: c.green, fail: c.red, warn: c.yellow, skip: c.dim }
    : { ok: String, fail: String, warn: String, skip: String };
  const width = Math.max(...report.checks.map((x) => x.name.length));
  let out = '';
  for (const x of report.checks) {
    out += `${paint[x.status](MARK[x.status])} ${x.name.padEnd(width)}  ${x.status === 'skip' ? `skipped: ${x.detail}` : x.detail}\n`;
    if (x.fix && (x.status === 'fail' || x.status === 'warn')) out += `  ${' '.repeat(width)}  ${useColor ? c.bold('fix:') : 'fix:'} ${x.fix}\n`;
  }
  const failed = report.checks.filter((x) => x.status === 'fail');
  out += failed.length === 0 ? '\nAll checks passed.\n' : `\n${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((x) => x.name).join(', ')}\n`;
  io.out(out);
}
