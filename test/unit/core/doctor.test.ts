// The doctor's decisions over fake ports: which checks run, fail, are skipped, and what --fix does.
import { describe, expect, it } from 'vitest';
import { runDoctor, type DoctorDatabase, type IndexState, type SmtpStage } from '../../../src/core/doctor.js';

function fakeDb(opts: { usersExist?: boolean; missing?: string[] } = {}) {
  const created: string[] = [];
  let closed = false;
  const indexes: IndexState[] = [
    { collection: 'users', name: 'u_idx', key: { a: 1 }, present: !(opts.missing ?? []).includes('u_idx'), why: 'w', command: 'schedule', onUsers: true },
    { collection: 'mailcron_deliveries', name: 'd_idx', key: { b: 1 }, present: !(opts.missing ?? []).includes('d_idx'), why: 'w', command: 'status', onUsers: false },
  ];
  const db: DoctorDatabase = {
    server: async () => ({ version: '7.0.42', product: 'FerretDB v1.24.2' }),
    users: async () => ({ name: 'users', exists: opts.usersExist ?? true, count: 12, collections: ['people', 'mailcron_deliveries'] }),
    indexes: async () => indexes,
    createIndexes: async (missing) => {
      created.push(...missing.map((m) => m.name));
    },
    close: async () => {
      closed = true;
    },
  };
  return { db, created, closed: () => closed };
}

const smtpOk: SmtpStage[] = [
  { stage: 'connect', status: 'ok', detail: 'connected' },
  { stage: 'ehlo', status: 'ok', detail: 'extensions: PIPELINING' },
  { stage: 'tls', status: 'warn', detail: 'plaintext', fix: 'enable STARTTLS' },
  { stage: 'auth', status: 'skip', detail: 'no credentials' },
];

describe('runDoctor', () => {
  it('passes when nothing fails (warnings and skips do not fail), and closes the database', async () => {
    const f = fakeDb();
    const r = await runDoctor({ configIssues: [], openDatabase: async () => f.db, smtp: { probe: async () => smtpOk } });
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([
      ['configuration', 'ok'],
      ['mongodb', 'ok'],
      ['users collection', 'ok'],
      ['index u_idx', 'ok'],
      ['index d_idx', 'ok'],
      ['smtp connect', 'ok'],
      ['smtp EHLO', 'ok'],
      ['smtp TLS', 'warn'],
      ['smtp AUTH', 'skip'],
    ]);
    expect(r.checks[1]!.detail).toBe('reachable, MongoDB 7.0.42 (FerretDB v1.24.2)');
    expect(f.closed()).toBe(true);
  });

  it('lists every configuration problem and runs nothing else', async () => {
    let opened = false;
    const r = await runDoctor({
      configIssues: ['--concurrency/MAILCRON_CONCURRENCY: must be at least 1', '--smtp-url/SMTP_URL: has no host'],
      openDatabase: async () => {
        opened = true;
        return fakeDb().db;
      },
    });
    expect(r).toMatchObject({ ok: false, configInvalid: true });
    expect(r.checks[0]).toMatchObject({ name: 'configuration', ok: false });
    expect(r.checks[0]!.detail).toContain('MAILCRON_CONCURRENCY: must be at least 1');
    expect(r.checks[0]!.detail).toContain('SMTP_URL: has no host');
    expect(opened).toBe(false);
  });

  it('reports missing indexes with the fix, and creates them with --fix', async () => {
    const without = await runDoctor({ configIssues: [], openDatabase: async () => fakeDb({ missing: ['d_idx'] }).db });
    expect(without.ok).toBe(false);
    expect(without.checks.find((c) => c.name === 'index d_idx')).toMatchObject({ status: 'fail', fix: 'run mailcron doctor --fix to create it' });

    const f = fakeDb({ missing: ['d_idx', 'u_idx'] });
    const fixed = await runDoctor({ configIssues: [], openDatabase: async () => f.db, fix: true });
    expect(fixed.ok).toBe(true);
    expect(f.created.sort()).toEqual(['d_idx', 'u_idx']);
    expect(fixed.checks.find((c) => c.name === 'index d_idx')?.detail).toMatch(/^created/);
  });

  it('fails a missing users collection and does not create indexes on it', async () => {
    const f = fakeDb({ usersExist: false, missing: ['u_idx', 'd_idx'] });
    const r = await runDoctor({ configIssues: [], openDatabase: async () => f.db, fix: true });
    expect(r.checks.find((c) => c.name === 'users collection')).toMatchObject({ status: 'fail' });
    expect(r.checks.find((c) => c.name === 'users collection')?.detail).toContain('people');
    expect(r.checks.find((c) => c.name === 'index u_idx')).toMatchObject({ status: 'skip' });
    expect(f.created).toEqual(['d_idx']);
  });

  it('fails mongodb when unreachable and skips what depends on it; SMTP still runs', async () => {
    const r = await runDoctor({
      configIssues: [],
      openDatabase: async () => {
        throw new Error('cannot reach mongodb://127.0.0.1:1/x: connect ECONNREFUSED');
      },
      smtp: { skip: 'SMTP_URL is json' },
    });
    expect(r.ok).toBe(false);
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([
      ['configuration', 'ok'],
      ['mongodb', 'fail'],
      ['users collection', 'skip'],
      ['indexes', 'skip'],
      ['smtp', 'skip'],
    ]);
  });

  it('fails when an SMTP stage fails', async () => {
    const stages: SmtpStage[] = [...smtpOk.slice(0, 3), { stage: 'auth', status: 'fail', detail: '535 bad', fix: 'fix the password' }];
    const r = await runDoctor({ configIssues: [], smtp: { probe: async () => stages } });
    expect(r.ok).toBe(false);
    expect(r.checks.at(-1)).toMatchObject({ name: 'smtp AUTH', ok: false, fix: 'fix the password' });
  });
});
