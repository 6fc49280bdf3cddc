// Shared pieces of the broadcast integration tests: seeding users, spawning the built CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Db } from 'mongodb';

export const ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'mailcron.js');

if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'broadcast.js'))) {
  throw new Error('the CLI is not built: run `npx tsc -p tsconfig.json` (npm test does it in pretest)');
}

export interface SeedSummary {
  /** Active users with a valid email: exactly these must receive the message. */
  expected: Map<string, { name: string; code: string }>;
  total: number;
}

/**
 * Seeds `n` users: every 10th inactive, every 37th with an invalid email, every 53rd without one;
 * each has its own `code`, so a test can check that a message carries its recipient's fields.
 */
export async function seedUsers(db: Db, n: number, collection = 'users'): Promise<SeedSummary> {
  const expected = new Map<string, { name: string; code: string }>();
  const docs = [];
  for (let i = 0; i < n; i++) {
    const name = `User ${i}`;
    const code = `C${(i * 7919).toString(36)}X${i}`;
    const active = i % 10 !== 3;
    const doc: Record<string, unknown> = { name, code, active };
    if (i % 53 === 5) {
      // no email at all
    } else if (i % 37 === 2) doc.email = `not-an-address-${i}`;
    else doc.email = `user${i}@example.test`;
    docs.push(doc);
    if (active && typeof doc.email === 'string' && doc.email.includes('@')) expected.set(doc.email, { name, code });
  }
  for (let i = 0; i < docs.length; i += 500) await db.collection(collection).insertMany(docs.slice(i, i + 500));
  return { expected, total: n };
}

/** A template file whose text and subject carry user fields. */
export function templateFile(name = 'welcome'): string {
  const file = join(tmpdir(), `mailcron-test-${name}-${process.pid}-${Math.random().toString(36).slice(2)}.tpl`);
  writeFileSync(file, ['subject: Hello {{name}}', '---- text', 'Hi {{name}}, your code is {{code}}.', ''].join('\n'));
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** Spawns `node bin/mailcron.js …args` with the given environment (no .env, no colour). */
export function startCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', MAIL_FROM: 'Test <news@example.test>', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Parses the `--json` summary; fails with the CLI's stderr when stdout is not one JSON object. */
export function summary(r: CliResult): BroadcastSummary {
  try {
    return JSON.parse(r.stdout) as BroadcastSummary;
  } catch {
    throw new Error(`no JSON summary (exit ${r.code}, signal ${r.signal}); stderr:\n${r.stderr}\nstdout:\n${r.stdout}`);
  }
}

export interface BroadcastSummary {
  id: string;
  status: string;
  audience: number;
  counts: {
    sent: number;
    failed: number;
    skipped: number;
    missed: number;
    uncertain: number;
    uncertainResent: number;
    alreadyDone: number;
    retried: number;
    retryable: number;
    seen: number;
  };
  stopped?: { reason: string; message: string };
}

/** Resolves when `check()` is true, polling every 5 ms (rejects after `ms`). */
export async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
