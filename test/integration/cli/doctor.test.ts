// `mailcron doctor` end to end: the built CLI against the test database and real SMTP servers.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { openTestDb, type TestDb } from '../../helpers/mongo.js';
import { startTestSmtp, type TestSmtp } from '../../helpers/smtp-server.js';
import { runCli, type CliResult } from './run-cli.js';

let t: TestDb;
let smtp: TestSmtp | undefined;

beforeAll(async () => {
  t = await openTestDb('doc');
  await t.db.collection('users').insertMany([{ email: 'a@example.test', active: true }, { email: 'b@example.test', active: false }]);
});
afterAll(() => t.drop());
afterEach(async () => {
  await smtp?.stop();
  smtp = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Report {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; status: string; detail: string; fix?: string }>;
}

function parse(r: CliResult): Report {
  try {
    return JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`doctor exited ${r.code} without JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

const failed = (rep: Report) => rep.checks.filter((c) => !c.ok).map((c) => c.name);

describe('mailcron doctor', () => {
  it('creates missing indexes with --fix, then passes every check against a real SMTP server with AUTH', async () => {
    smtp = await startTestSmtp({ auth: { user: 'mailer', pass: 'right-Pa55' } });
    const env = { MONGODB_URI: t.uri, SMTP_URL: `smtp://mailer:right-Pa55@127.0.0.1:${smtp.port}` };

    const before = parse(await runCli(['doctor', '--json'], env));
    expect(before.ok).toBe(false);
    expect(failed(before).every((n) => n.startsWith('index '))).toBe(true);
    expect(failed(before).length).toBeGreaterThan(0);

    const fixed = await runCli(['doctor', '--fix'], env);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(/✓ index \S+ +created/);
    expect(fixed.stdout).toContain('All checks passed.');

    const r = await runCli(['doctor', '--json'], env);
    expect(r.code).toBe(0);
    const rep = parse(r);
    expect(rep.ok).toBe(true);
    const byName = Object.fromEntries(rep.checks.map((c) => [c.name, c]));
    expect(byName['mongodb']!.detail).toMatch(/^reachable, MongoDB \d+\.\d+/);
    expect(byName['users collection']!.detail).toBe('users: 2 documents');
    expect(byName['smtp connect']).toMatchObject({ status: 'ok' });
    expect(byName['smtp EHLO']!.detail).toContain('AUTH');
    expect(byName['smtp EHLO']!.detail).toContain('two sends per connection (PIPELINING)');
    expect(byName['smtp AUTH']).toMatchObject({ status: 'ok', detail: 'authenticated as mailer' });
    expect(smtp.messages).toHaveLength(0);
    expect(r.stdout + r.stderr).not.toContain('right-Pa55');
  });

  it('fails AUTH with a wrong password, names it, and never prints the password', async () => {
    smtp = await startTestSmtp({ auth: { user: 'mailer', pass: 'right-Pa55' } });
    const secret = 'wr0ng-S3cret-pw';
    const env = { MONGODB_URI: t.uri, SMTP_URL: `smtp://mailer:${secret}@127.0.0.1:${smtp.port}` };
    for (const args of [['doctor'], ['doctor', '--json']]) {
      const r = await runCli(args, env);
      expect(r.code).toBe(3);
      expect(r.stdout + r.stderr).not.toContain(secret);
      if (args.includes('--json')) {
        const rep = parse(r);
        expect(failed(rep)).toEqual(['smtp AUTH']);
        expect(rep.checks.find((c) => c.name === 'smtp AUTH')?.detail).toContain('535');
        expect(rep.checks.find((c) => c.name === 'configuration')?.detail).toContain('mailer:***@');
      } else {
        expect(r.stdout).toMatch(/✗ smtp AUTH .*535/);
        expect(r.stdout).toContain('fix: the server rejected the user name or password');
      }
    }
  });

  it('fails fast and names SMTP when nothing listens on the SMTP port', async () => {
    const port = await freePort();
    const r = await runCli(['doctor', '--json', '--timeout', '2'], { MONGODB_URI: t.uri, SMTP_URL: `smtp://127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    const rep = parse(r);
    expect(failed(rep)).toContain('smtp connect');
    expect(rep.checks.find((c) => c.name === 'smtp connect')?.fix).toMatch(/nothing accepts connections/);
    expect(rep.checks.find((c) => c.name === 'smtp AUTH')).toMatchObject({ status: 'skip' });
  });

  it('fails the mongodb check when the database is unreachable, and still probes SMTP', async () => {
    const port = await freePort();
    smtp = await startTestSmtp();
    const r = await runCli(['doctor', '--json', '--timeout', '1'], { MONGODB_URI: `mongodb://127.0.0.1:${port}/x`, SMTP_URL: smtp.url });
    expect(r.code).toBe(3);
    const rep = parse(r);
    expect(failed(rep)).toEqual(['mongodb']);
    expect(rep.checks.find((c) => c.name === 'smtp connect')).toMatchObject({ status: 'ok' });
  });

  it('lists every configuration problem as a failed check and exits 2', async () => {
    const r = await runCli(['doctor'], { MONGODB_URI: 'http://nope', SMTP_URL: 'ftp://x', MAILCRON_CONCURRENCY: '0' });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/✗ configuration/);
    for (const name of ['MONGODB_URI', 'SMTP_URL', 'MAILCRON_CONCURRENCY']) expect(r.stdout).toContain(name);
    const j = await runCli(['doctor', '--json'], { SMTP_URL: 'ftp://x' });
    expect(j.code).toBe(2);
    expect(parse(j).checks[0]).toMatchObject({ name: 'configuration', ok: false });
  });

  it('skips SMTP for the json transport', async () => {
    const rep = parse(await runCli(['doctor', '--json'], { MONGODB_URI: t.uri, SMTP_URL: 'json' }));
    expect(rep.checks.find((c) => c.name === 'smtp')).toMatchObject({ status: 'skip', ok: true });
  });

  describe('TLS', () => {
    let server: SMTPServer;
    let port: number;
    beforeAll(async () => {
      // smtp-server's built-in certificate is self-signed for localhost: never trusted by default.
      server = new SMTPServer({ logger: false, authOptional: true });
      server.on('error', () => {});
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('fails the TLS stage when the STARTTLS certificate is not trusted, and passes when told to accept it', async () => {
      const bad = parse(await runCli(['doctor', '--json'], { MONGODB_URI: t.uri, SMTP_URL: `smtp://127.0.0.1:${port}` }));
      expect(failed(bad)).toEqual(['smtp TLS']);
      expect(bad.checks.find((c) => c.name === 'smtp EHLO')).toMatchObject({ status: 'ok' });
      expect(bad.checks.find((c) => c.name === 'smtp TLS')?.fix).toMatch(/certificate/);

      const ok = parse(await runCli(['doctor', '--json'], { MONGODB_URI: t.uri, SMTP_URL: `smtp://127.0.0.1:${port}?rejectUnauthorized=false` }));
      expect(ok.ok).toBe(true);
      expect(ok.checks.find((c) => c.name === 'smtp TLS')).toMatchObject({ status: 'ok', detail: 'upgraded with STARTTLS' });
    });
  });
});
