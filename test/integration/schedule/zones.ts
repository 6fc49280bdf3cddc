// Shared by the time-zone walks: seed users, step `--now` over two simulated days with the real
// CLI against FerretDB and a real SMTP server, and compare every user's received slots with the
// hand-computed expectation.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import type { TestDb } from '../../helpers/mongo.js';
import { runJson } from './cli.js';

export interface ZoneUser {
  id: string;
  schedule?: unknown;
  active?: boolean;
  /** Slot instants (UTC ISO) this user must receive, each exactly once. */
  expect: string[];
}

export interface WalkResult {
  runs: number;
  received: Map<string, string[]>;
  smtp: TestSmtp;
}

const MIN = 60_000;

/** Steps from `from` (the planning run) to `to` inclusive, every `stepMin` minutes. */
export function steps(from: string, to: string, stepMin: number): string[] {
  const out: string[] = [];
  const end = Date.parse(to);
  for (let t = Date.parse(from); t < end; t += stepMin * MIN) out.push(new Date(t).toISOString());
  out.push(new Date(end).toISOString());
  return out;
}

/** Several step lists merged, in time order, without repeats. */
export function merge(...lists: string[][]): string[] {
  return [...new Set(lists.flat())].sort();
}

export async function walk(t: TestDb, users: ZoneUser[], nows: string[]): Promise<WalkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailcron-tpl-'));
  writeFileSync(join(dir, 'digest.txt'), 'subject: Your digest, {{name}}\n---- text\nHello {{name}}, here is your digest.\n');
  const smtp = await startTestSmtp();
  try {
    await t.db.collection('users').insertMany(
      users.map((u) => ({
        _id: u.id as never,
        name: u.id,
        email: `${u.id}@example.test`,
        active: u.active ?? true,
        ...(u.schedule !== undefined ? { schedule: u.schedule } : {}),
      })),
    );
    const env = { MONGODB_URI: t.uri, SMTP_URL: smtp.url, MAIL_FROM: 'Digest <digest@example.test>' };
    for (const now of nows) {
      const { r, json } = await runJson<{ counts: { sent: number; failed: number } }>(['schedule', '--template-dir', dir, '--now', now], env);
      expect(r.code, `run at ${now}: ${r.stderr}`).toBe(0);
      expect(json.counts.failed).toBe(0);
    }
    // Which slot each received message was for: its Message-ID is fixed per ledger key (user + slot).
    const ledger = await t.db.collection('mailcron_deliveries').find({ scope: 'schedule', status: 'sent' }).toArray();
    const slotByMessageId = new Map(ledger.map((d) => [String(d.messageId), { user: String(d.userId), slot: (d.slot as Date).toISOString() }]));
    const received = new Map<string, string[]>();
    for (const m of smtp.messages) {
      const hit = slotByMessageId.get(m.messageId);
      expect(hit, `received ${m.messageId} for ${m.to.join(',')} that the ledger does not know`).toBeDefined();
      expect(m.to).toEqual([`${hit!.user}@example.test`]);
      received.set(hit!.user, [...(received.get(hit!.user) ?? []), hit!.slot]);
    }
    expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(smtp.messages.length);
    expect(ledger).toHaveLength(smtp.messages.length);
    return { runs: nows.length, received, smtp };
  } finally {
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every user got exactly its expected slots, once each. */
export function expectSlots(users: ZoneUser[], received: Map<string, string[]>): void {
  const actual = Object.fromEntries(users.map((u) => [u.id, [...(received.get(u.id) ?? [])].sort()]));
  const wanted = Object.fromEntries(users.map((u) => [u.id, u.expect.map((s) => new Date(s).toISOString()).sort()]));
  expect(actual).toEqual(wanted);
}
