// The servers every peer shares: one FerretDB (scripts/ferretdb.js) and one Postfix smtp-sink,
// both on loopback. The sink's running counter (-c) tells how many messages it really received,
// so a peer's own count is checked against the server's.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { canConnect, freePort } from '../../scripts/ferretdb.js';

export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';

export function postfixToolsMissing() {
  const missing = [SMTP_SINK, SMTP_SOURCE].filter((p) => !existsSync(p));
  return missing.length ? `${missing.join(', ')} not found: run scripts/install-postfix-tools.sh` : null;
}

/**
 * `smtp-sink -c 127.0.0.1:<port> 256`, as the issue asks (plus `-u nobody` when root, which it
 * requires). Resolves to { port, pid, received(), stop() }.
 */
export async function startSink() {
  const port = await freePort();
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-c', `127.0.0.1:${port}`, '256'];
  const child = spawn(SMTP_SINK, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let received = 0;
  let tail = '';
  let stderr = '';
  // The counter is rewritten after every session, QUIT and message ("... mesg=N\r"): only the last
  // value of each chunk matters, so parse just the end of it.
  child.stdout.on('data', (chunk) => {
    const text = tail + chunk.toString('latin1');
    const at = text.lastIndexOf('mesg=');
    if (at >= 0) {
      const m = /^mesg=(\d+)/.exec(text.slice(at));
      if (m && text.length > at + m[0].length) received = Number(m[1]);
    }
    tail = text.slice(-64);
  });
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) throw new Error(`smtp-sink did not start: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid: child.pid,
    received: () => received,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 3000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Waits until the sink's counter stops moving (it lags the client's last reply by a few ms). */
export async function settledCount(sink, { quietMs = 300, maxMs = 5000 } = {}) {
  const end = Date.now() + maxMs;
  let last = sink.received();
  let since = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    const now = sink.received();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}
