// `mailcron list-users` end to end: the built CLI against the test database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId, type Document } from 'mongodb';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { runCli } from './run-cli.js';

let t: TestDb;
let env: Record<string, string>;
const oid = (i: number) => new ObjectId(i.toString(16).padStart(24, '0'));

beforeAll(async () => {
  t = await openTestDb('lsu');
  env = { MONGODB_URI: t.uri };
  // Inserted out of order, so _id order is not insertion order.
  const users: Document[] = Array.from({ length: 1000 }, (_, k) => {
    const i = (k * 7919) % 1000; // a permutation of 0..999
    return { _id: oid(i), email: `u${i}@example.test`, name: `User ${i}`, active: i % 2 === 0, createdAt: new Date(Date.UTC(2024, 0, 1) + i * 1000) };
  });
  await t.db.collection('users').insertMany(users);
  await t.db.collection<{ _id: number; email: string }>('numbered').insertMany(Array.from({ length: 3000 }, (_, i) => ({ _id: 3000 - i, email: `n${3000 - i}@example.test` })));
  await t.db.collection<{ _id: number; email: string; name: string }>('evil').insertMany([
    { _id: 1, email: 'a@example.test', name: '=HYPERLINK("http://evil.example","click")' },
    { _id: 2, email: '+1@example.test', name: '@SUM(A1:A9)' },
    { _id: 3, email: 'c@example.test', name: '-2+3' },
  ]);
});
afterAll(() => t.drop());

describe('mailcron list-users', () => {
  it('--page 2 --limit 10 returns users 11-20 in _id order with total 1000 and total_pages 100', async () => {
    const r = await runCli(['list-users', '--format', 'json', '--page', '2', '--limit', '10'], env);
    expect(r.code).toBe(0);
    const page = JSON.parse(r.stdout);
    expect(page).toMatchObject({ total: 1000, page: 2, limit: 10, total_pages: 100 });
    expect(page.users.map((u: { _id: string }) => u._id)).toEqual(Array.from({ length: 10 }, (_, i) => oid(i + 10).toHexString()));
    expect(page.users[0]).toEqual({ _id: oid(10).toHexString(), email: 'u10@example.test', name: 'User 10', active: true });
  });

  it('pages by key with --after and hands out next_after', async () => {
    const r = await runCli(['list-users', '--json', '--after', oid(994).toHexString(), '--limit', '3', '--fields', 'email,createdAt'], env);
    expect(r.code).toBe(0);
    const page = JSON.parse(r.stdout);
    expect(page.users).toEqual([995, 996, 997].map((i) => ({ email: `u${i}@example.test`, createdAt: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() })));
    expect(page.next_after).toBe(oid(997).toHexString());
    const last = JSON.parse((await runCli(['list-users', '--json', '--after', page.next_after, '--limit', '3'], env)).stdout);
    expect(last.users.map((u: { _id: string }) => u._id)).toEqual([oid(998).toHexString(), oid(999).toHexString()]);
    expect(last.next_after).toBeNull();
  });

  it('--all streams every user exactly once, in _id order, as NDJSON when piped', async () => {
    const r = await runCli(['list-users', '--all', '--users-collection', 'numbered', '--fields', '_id'], env);
    expect(r.code).toBe(0);
    const ids = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l)._id);
    expect(ids).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('applies --active, --inactive and --filter', async () => {
    const active = JSON.parse((await runCli(['list-users', '--json', '--active', '--limit', '1'], env)).stdout);
    expect(active.total).toBe(500);
    const some = JSON.parse((await runCli(['list-users', '--json', '--inactive', '--filter', '{"email":{"$in":["u1@example.test","u2@example.test","u3@example.test"]}}'], env)).stdout);
    expect(some.users.map((u: { email: string }) => u.email)).toEqual(['u1@example.test', 'u3@example.test']);
  });

  it('writes spreadsheet-safe CSV with a header', async () => {
    const r = await runCli(['list-users', '--all', '--format', 'csv', '--users-collection', 'evil', '--fields', '_id,email,name'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ['_id,email,name', `1,a@example.test,"'=HYPERLINK(""http://evil.example"",""click"")"`, "2,'+1@example.test,'@SUM(A1:A9)", "3,c@example.test,'-2+3", ''].join('\n'),
    );
  });

  it('prints an aligned table with --format table', async () => {
    const r = await runCli(['list-users', '--format', 'table', '--limit', '2', '--fields', '_id,email'], env);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['_id                       email', `${oid(0).toHexString()}  u0@example.test`, `${oid(1).toHexString()}  u1@example.test`]);
    expect(r.stderr).toContain('page 1 of 500 (1000 users)');
  });

  it('rejects a bad flag with exit 2 and one line, no stack', async () => {
    for (const args of [['--limit', '5000'], ['--page', 'x'], ['--format', 'xml'], ['--all', '--page', '2'], ['--active', '--any'], ['--bogus']]) {
      const r = await runCli(['list-users', ...args], env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('rejects a malformed --filter with exit 2 and the parse error in one line', async () => {
    const r = await runCli(['list-users', '--filter', '{"email": '], env);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--filter: not valid extended JSON/);
    expect((await runCli(['list-users', '--filter', '{"$where":"sleep(1)"}'], env)).code).toBe(2);
  });
});
