// Terminal facts and writers for one CLI invocation. Commands print through this, so tests and
// --json get exactly one object on stdout and everything else on stderr.
import type { ChalkInstance } from 'chalk';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (tables by default). */
  stdoutIsTTY: boolean;
  /** stderr is a terminal (progress bars instead of plain lines). */
  stderrIsTTY: boolean;
  /** stdin is a terminal (may prompt). */
  stdinIsTTY: boolean;
  color: ChalkInstance;
  env: NodeJS.ProcessEnv;
}

function colorLevel(env: NodeJS.ProcessEnv, tty: boolean): 0 | 1 | 2 | 3 {
  if ('NO_COLOR' in env && env.NO_COLOR !== '') return 0;
  if (env.FORCE_COLOR !== undefined) {
    const n = Number(env.FORCE_COLOR);
    if (env.FORCE_COLOR === '' || env.FORCE_COLOR === 'true') return 1;
    return Number.isInteger(n) && n >= 0 && n <= 3 ? (n as 0 | 1 | 2 | 3) : 1;
  }
  if (!tty || env.TERM === 'dumb') return 0;
  return env.COLORTERM === 'truecolor' ? 3 : 2;
}

/** The real process's Io. Async because chalk is loaded here, not at start-up: `mailcron --help` never needs it. */
export async function processIo(): Promise<Io> {
  const { Chalk } = await import('chalk');
  const stderrIsTTY = Boolean(process.stderr.isTTY);
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    color: new Chalk({ level: colorLevel(process.env, stderrIsTTY) }),
    env: process.env,
  };
}

/** Writes one JSON document on stdout: the whole `--json` contract. */
export function emitJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}
