// Runs one command action: loads config, wires signals to an AbortSignal, maps the outcome to an
// exit code. Commands stay thin: they get a context, call core, print, and return an exit code.
import type { Command } from 'commander';
import type { Config } from '../core/config.js';
import type { GlobalFlags } from './config-loader.js';
import { EXIT, exitCodeFor, exitCodeForSignal, formatError } from './exit-codes.js';
import { processIo, type Io } from './io.js';

export interface CommandContext {
  io: Io;
  /** Validated connection settings (flags > env > .env > defaults). */
  config: Config;
  json: boolean;
  /** Aborted on the first SIGINT/SIGTERM: stop taking work, drain, flush, return. */
  signal: AbortSignal;
  /** A command's own setting by variable name: environment first, then --env-file/.env. */
  setting(name: string): string | undefined;
  /** The signal that aborted the run, if any. */
  interruptedBy(): NodeJS.Signals | undefined;
}

export type Action<O> = (ctx: CommandContext, options: O, args: string[]) => Promise<number | void>;

/** Wraps a command's action with config loading, signal handling and error → exit-code mapping. */
export function action<O>(fn: Action<O>) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const args = params.slice(0, -2).filter((p): p is string => typeof p === 'string');
    const flags = cmd.optsWithGlobals() as GlobalFlags & O;
    const io = await processIo();
    const controller = new AbortController();
    let caught: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      if (caught) {
        // Second signal: the operator insists. Leave at once; the ledger shows what was in flight.
        io.err(`mailcron: ${sig} again, exiting without waiting\n`);
        process.exit(exitCodeForSignal(sig));
      }
      caught = sig;
      io.err(`mailcron: ${sig}: finishing in-flight sends and saving progress (send ${sig} again to quit at once)\n`);
      controller.abort(new Error(`interrupted by ${sig}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let code: number;
    let secrets: string[] = [];
    try {
      // Loaded here, not at start-up: zod and dotenv would slow down `mailcron --help`.
      const [{ mergeSources }, { resolveConfig }] = await Promise.all([import('./config-loader.js'), import('../core/config.js')]);
      const { raw, fileEnv } = mergeSources(flags, process.env, process.cwd());
      const config = resolveConfig(raw);
      secrets = config.secrets;
      const ctx: CommandContext = {
        io,
        config,
        json: Boolean(flags.json),
        signal: controller.signal,
        setting: (name) => process.env[name] || fileEnv[name] || undefined,
        interruptedBy: () => caught,
      };
      const result = await fn(ctx, flags as O, args);
      code = typeof result === 'number' ? result : EXIT.OK;
      if (caught && code === EXIT.OK) code = exitCodeForSignal(caught);
    } catch (err) {
      // After a signal, errors caused by the abort are expected; only a bug is still worth printing.
      if (!caught || exitCodeFor(err) === EXIT.INTERNAL) io.err(`${formatError(err, secrets)}\n`);
      code = caught ? exitCodeForSignal(caught) : exitCodeFor(err);
    }
    await exit(code);
  };
}

/** Exits once stdout and stderr have drained, so piped --json output is never cut short. */
export async function exit(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (s) => new Promise<void>((resolve) => (s.writableNeedDrain ? s.once('drain', () => resolve()) : resolve())),
    ),
  );
  process.exit(code);
}
