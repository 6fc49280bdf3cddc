// Progress on stderr: a cli-progress bar on a terminal (done/total, rate, ETA, failures), a plain
// line every 10 s otherwise (cron, CI, pipes), so logs stay readable and nothing lands on stdout.
import cliProgress from 'cli-progress';
import type { ProgressSink, RunCounts } from '../core/ports.js';
import type { Io } from './io.js';

interface Counts extends RunCounts {
  missed?: number;
}

export interface ProgressOptions {
  /** Plain-line interval. Default 10 s. */
  intervalMs?: number;
  /** Where the bar draws (a TTY stream). Default process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Verb for the plain lines (`sent`, `would send`). */
  verb?: string;
}

function processed(c: Counts): number {
  return c.sent + c.failed + c.skipped + (c.missed ?? 0);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Creates the progress sink for one run: a bar when stderr is a terminal, plain lines otherwise. */
export function createProgress(io: Io, options: ProgressOptions = {}): ProgressSink {
  const intervalMs = options.intervalMs ?? 10_000;
  let total: number | undefined;
  let base = 0;
  let label = '';
  let last: Counts | undefined;
  let startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let bar: cliProgress.SingleBar | undefined;

  const figures = () => {
    const c = last;
    const done = base + (c ? processed(c) : 0);
    const elapsed = (Date.now() - startedAt) / 1000;
    const rate = c && elapsed > 0 ? processed(c) / elapsed : 0;
    const eta = total !== undefined && rate > 0 ? Math.max(0, total - done) / rate : Number.NaN;
    return { done, rate, eta, failed: c?.failed ?? 0, skipped: c?.skipped ?? 0, sent: c?.sent ?? 0 };
  };

  const line = () => {
    const f = figures();
    const of = total !== undefined ? `/${total}` : '';
    io.err(
      `mailcron: ${label} ${f.done}${of} done, ${f.sent} ${options.verb ?? 'sent'}, ${f.failed} failed, ${f.skipped} skipped, ${f.rate.toFixed(1)}/s, ETA ${duration(f.eta)}\n`,
    );
  };

  return {
    start(info) {
      total = info.total;
      base = info.done ?? 0;
      label = info.label;
      startedAt = Date.now();
      if (io.stderrIsTTY) {
        bar = new cliProgress.SingleBar(
          {
            stream: options.stream ?? process.stderr,
            format: `${io.color.cyan('{bar}')} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | ${io.color.red('failed {failed}')}`,
            barCompleteChar: '\u2588',
            barIncompleteChar: '\u2591',
            hideCursor: true,
            clearOnComplete: false,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(total ?? 0, base), base, { rate: '0.0', etaText: '?', failed: 0 });
      } else {
        timer = setInterval(line, intervalMs);
        timer.unref();
      }
    },
    setTotal(n) {
      total = n;
      if (bar) bar.setTotal(Math.max(n, bar.getTotal()));
    },
    update(counts) {
      last = counts;
      if (bar) {
        const f = figures();
        if (total !== undefined && f.done > bar.getTotal()) bar.setTotal(f.done);
        bar.update(f.done, { rate: f.rate.toFixed(1), etaText: duration(f.eta), failed: f.failed });
      }
    },
    stop() {
      if (bar) {
        bar.stop();
        bar = undefined;
      }
      if (timer) {
        clearInterval(timer);
        timer = undefined;
        line();
      }
    },
  };
}
