// Runs the built CLI (`npm run build` first; `npm test` does it) as cron would: a child process
// with settings in its environment, output captured.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = `${ROOT}bin/mailcron.js`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `mailcron <args>`; the caller owns the child. */
export function spawnCli(args: string[], env: Record<string, string>): ChildProcess & { result: Promise<CliResult> } {
  if (!existsSync(`${ROOT}dist/cli/main.js`)) throw new Error('dist/ is missing: run `npm run build` (npm test does it)');
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    // A clean environment: only what the test gives, so a developer's .env or MONGODB_URI cannot leak in.
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return Object.assign(child, { result });
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return spawnCli(args, env).result;
}

/** Runs the CLI with --json and parses its one JSON object. */
export async function runJson<T = Record<string, unknown>>(args: string[], env: Record<string, string>): Promise<{ r: CliResult; json: T }> {
  const r = await runCli([...args, '--json'], env);
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`mailcron ${args.join(' ')} exited ${r.code} without JSON on stdout:\n${r.stdout}\n${r.stderr}`);
  }
  return { r, json };
}
