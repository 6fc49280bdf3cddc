// The shipped examples stay usable: the template parses and renders, the cron and systemd files
// run `mailcron schedule` with flags it accepts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileMessage, parseTemplateFile } from '../../../../src/core/message/index.js';

const file = (p: string) => readFileSync(new URL(`../../../../examples/${p}`, import.meta.url), 'utf8');
const FLAGS = new Set(['--env-file', '--template-dir', '--max-runtime']);

describe('examples', () => {
  it('templates/digest.txt parses and renders user fields', () => {
    const spec = parseTemplateFile(file('templates/digest.txt'), 'digest.txt');
    const r = compileMessage(spec, { from: 'News <news@example.test>' }).render({ _id: 1, name: 'Ada', email: 'ada@example.test' }, '<x@example.test>');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.subject).toBe('Your digest, Ada');
    expect(r.message.text).toContain('Hello Ada,');
    expect(r.message.html).toContain('<p>Hello Ada,</p>');
  });

  it('crontab: every 5 minutes, with --env-file and output to a log, no flock', () => {
    const line = file('crontab').split('\n').find((l) => /^\*\/5 /.test(l))!;
    expect(line).toMatch(/^\*\/5 \* \* \* \* .*mailcron schedule .*--env-file \S+.* >> \S+\.log 2>&1$/);
    expect(line).not.toMatch(/flock/);
    for (const flag of line.match(/--[a-z-]+/g)!) expect(FLAGS.has(flag), flag).toBe(true);
  });

  it('systemd: a oneshot service that treats exit 75 as success, and a 5-minute timer', () => {
    const service = file('systemd/mailcron-schedule.service');
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^SuccessExitStatus=75$/m);
    expect(service).toMatch(/^ExecStart=\S*mailcron schedule --env-file /m);
    expect(file('systemd/mailcron-schedule.timer')).toMatch(/^OnCalendar=\*:0\/5$/m);
  });

  it('.env.example names every setting', () => {
    const env = file('.env.example');
    for (const k of ['MONGODB_URI', 'MAILCRON_DB', 'MAILCRON_USERS', 'SMTP_URL', 'MAIL_FROM', 'MAILCRON_CONCURRENCY']) expect(env).toContain(k);
  });
});
