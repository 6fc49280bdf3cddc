import { Writable } from 'node:stream';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../../src/cli/progress.js';
import type { Io } from '../../../src/cli/io.js';

function fakeIo(tty: boolean) {
  const err: string[] = [];
  const io: Io = {
    out: () => {},
    err: (t) => void err.push(t),
    stdoutIsTTY: false,
    stderrIsTTY: tty,
    stdinIsTTY: false,
    color: new Chalk({ level: 0 }),
    env: {},
  };
  return { io, err };
}

const counts = (sent: number, failed = 0) => ({ sent, failed, skipped: 0, uncertain: 0, alreadyDone: 0, retried: 0 });

describe('progress', () => {
  it('without a terminal prints plain lines on an interval and one at the end', async () => {
    const { io, err } = fakeIo(false);
    const p = createProgress(io, { intervalMs: 20 });
    p.start!({ total: 100, label: 'news', done: 10 });
    p.update(counts(30, 2));
    await new Promise((r) => setTimeout(r, 70));
    p.stop!();
    expect(err.length).toBeGreaterThanOrEqual(2);
    expect(err.at(-1)).toMatch(/^mailcron: news 42\/100 done, 30 sent, 2 failed, 0 skipped, [\d.]+\/s, ETA \S+\n$/);
    const n = err.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(err.length).toBe(n);
  });

  it('on a terminal draws a bar with done/total, rate, ETA and failures on the given stream', () => {
    const { io, err } = fakeIo(true);
    let drawn = '';
    const stream = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          drawn += String(chunk);
          cb();
        },
      }),
      { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
    );
    const p = createProgress(io, { stream });
    p.start!({ total: 50, label: 'news' });
    p.update(counts(25, 3));
    p.stop!();
    expect(err).toEqual([]);
    expect(drawn).toMatch(/28\/50/); // sent + failed
    expect(drawn).toMatch(/failed 3/);
    expect(drawn).toMatch(/ETA/);
  });
});
