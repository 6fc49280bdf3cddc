// Runs one peer as a child process and measures it the same way for every peer: wall time from
// spawn to exit, peak RSS and CPU seconds (user + system) from GNU time, or, without it, from
// /proc polled every 50 ms. Each child gets its own process group, so a timeout or an exit of the
// orchestrator kills the whole group (GNU time and what it runs).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
// mailcron drains in-flight sends and flushes its ledger on SIGTERM; give it that long.
const KILL_GRACE_MS = 15_000;
const live = new Set();

/** Kills every child process group still running; run.js calls it on exit and on signals. */
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function killAll() {
  for (const pid of live) signal(-pid, 'SIGKILL');
  live.clear();
}

const USER_HZ = 100; // the unit of /proc/<pid>/stat times on Linux

/** CPU seconds (user + system) of a running process from /proc/<pid>/stat, or null. */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

function procPeakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Runs `cmd args` and resolves (never rejects) to
 * { ok, code, signal, timedOut, seconds, peakRssMB, cpuSeconds, stdout, stderr }.
 * stdout is kept whole (peers print one JSON object); stderr keeps its last 8 KB.
 */
export function runMeasured(cmd, args, { timeoutMs, env, cwd, scratchDir, label = cmd }) {
  const useTime = existsSync(GNU_TIME);
  const timeFile = join(scratchDir, `time-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.txt`);
  const [file, argv] = useTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(file, argv, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) live.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-8192);
    });
    let peakKb = null;
    let cpu = null;
    const poll = useTime
      ? null
      : setInterval(() => {
          peakKb = procPeakRssKb(child.pid) ?? peakKb;
          cpu = procCpuSeconds(child.pid) ?? cpu;
        }, 50);
    let timedOut = false;
    let killTimer;
    // On timeout: SIGTERM to the peer itself (mailcron then drains, saves and prints its summary;
    // GNU time, its parent, still reports), then SIGKILL to the whole group after a grace period.
    const timer = setTimeout(() => {
      timedOut = true;
      for (const pid of useTime ? childrenOf(child.pid) : [child.pid]) signal(pid, 'SIGTERM');
      killTimer = setTimeout(() => signal(-child.pid, 'SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    let finished = false;
    const finish = (code, exitSignal, spawnError) => {
      if (finished) return; // a failed spawn emits 'error' and then 'close'
      finished = true;
      const seconds = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (poll) clearInterval(poll);
      live.delete(child.pid);
      if (useTime && existsSync(timeFile)) {
        // GNU time writes "Command exited with non-zero status N" first when the child failed.
        // Empty when GNU time itself was killed (the peer outlived the grace period).
        const m = /^(\d+) ([\d.]+) ([\d.]+)$/m.exec(readFileSync(timeFile, 'utf8'));
        if (m) {
          peakKb = Number(m[1]);
          cpu = Number(m[2]) + Number(m[3]);
        }
        rmSync(timeFile, { force: true });
      }
      resolve({
        label,
        ok: !timedOut && !spawnError && code === 0,
        code,
        signal: exitSignal,
        timedOut,
        error: spawnError ? String(spawnError.message) : undefined,
        seconds: round(seconds, 3),
        peakRssMB: peakKb === null ? null : round(peakKb / 1024, 1),
        cpuSeconds: cpu === null ? null : round(cpu, 2),
        stdout,
        stderr,
      });
    };
    child.on('error', (err) => finish(null, null, err));
    child.on('close', (code, exitSignal) => finish(code, exitSignal));
  });
}

export function round(n, digits = 2) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The last JSON object a peer printed on stdout, or null. */
export function lastJson(stdout) {
  const text = stdout.trim();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    // Pretty-printed or preceded by other lines: take from the last line that opens an object.
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      if (lines[i].startsWith('{')) {
        try {
          return JSON.parse(lines.slice(i).join('\n'));
        } catch {
          // keep looking
        }
      }
    }
    return null;
  }
}
