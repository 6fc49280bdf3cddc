#!/usr/bin/env node
// Builds and runs the MongoDB-compatible server used by the tests, the demo and the benchmarks:
// FerretDB v1.24.2 (SQLite backend), pinned by the wrapper Go module in tools/ferretdb/.
//
//   node scripts/ferretdb.js build          build into the cache when missing, print the path
//   node scripts/ferretdb.js start [port]   build if needed, start, print the URI, run until killed
//
// The binary lives outside the repo (~/.cache/mailcron by default, or $MAILCRON_CACHE) under a
// name that includes a hash of go.sum, so changing the pin rebuilds and nothing else does.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const moduleDir = resolve(here, '..', 'tools', 'ferretdb');
const FERRETDB_VERSION = 'v1.24.2';

// One build-time patch, applied to the copy of the pinned module (never committed as source).
// FerretDB v1's SQLite backend looks documents up by `_ferretdb_sjson->'$._id'` while its unique
// _id index is on `_ferretdb_sjson->"_id"`; SQLite does not match the two, so every lookup, update
// and delete by _id scanned the whole table (measured: 85-100 ms per update at 50k documents, which
// makes a ledger of 100k deliveries quadratic). `->'_id'` is the same JSON path and matches the
// index (EXPLAIN QUERY PLAN: SEARCH ... USING INDEX), making those operations O(log n).
// Results are unchanged; only the plan differs.
const PATCHES = [
  {
    file: 'internal/backends/sqlite/metadata/metadata.go',
    from: `IDColumn = DefaultColumn + "->'$._id'"`,
    to: `IDColumn = DefaultColumn + "->'_id'"`,
  },
];

export function cacheDir() {
  if (process.env.MAILCRON_CACHE) return process.env.MAILCRON_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mailcron');
}

export function binaryPath() {
  const sum = readFileSync(join(moduleDir, 'go.sum'));
  const hash = createHash('sha256').update(sum).update(JSON.stringify(PATCHES)).digest('hex').slice(0, 12);
  return join(cacheDir(), `ferretdb-${FERRETDB_VERSION}-${hash}`);
}

function hasGo() {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.status === 0;
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr || r.stdout || r.error}`);
  }
  return r.stdout.trim();
}

/**
 * Builds FerretDB into the cache unless it is already there. Returns the binary's path.
 *
 * FerretDB panics at start-up when it is the main module of its build and its
 * build/version/version.txt is empty (as it is in the module proxy's copy), and Go reports the
 * package's own module as the main module even when it is built from a wrapper. So the build copies
 * the pinned module from the module cache, writes version.txt, and points the wrapper at the copy
 * with a replace directive in a temporary copy of go.mod. The repo keeps only go.mod and go.sum.
 */
export function ensureFerretdb({ log = () => {} } = {}) {
  const bin = binaryPath();
  if (existsSync(bin)) return bin;
  if (!hasGo()) {
    throw new Error(
      'FerretDB is not built and Go is not installed: set MONGODB_URI to a MongoDB server, or install Go 1.24+ so the tests can build FerretDB.',
    );
  }
  log(`building FerretDB ${FERRETDB_VERSION} into ${bin} (once per machine, about a minute)`);
  mkdirSync(cacheDir(), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'mailcron-ferretdb-build-'));
  try {
    const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };
    cpSync(join(moduleDir, 'go.mod'), join(work, 'go.mod'));
    cpSync(join(moduleDir, 'go.sum'), join(work, 'go.sum'));
    run('go', ['mod', 'download', 'github.com/FerretDB/FerretDB'], { cwd: work, env });
    const src = run('go', ['list', '-m', '-f', '{{.Dir}}', 'github.com/FerretDB/FerretDB'], { cwd: work, env });
    const copy = join(work, 'ferretdb-src');
    cpSync(src, copy, { recursive: true });
    chmodRecursive(copy);
    writeFileSync(join(copy, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    for (const p of PATCHES) {
      const file = join(copy, p.file);
      const text = readFileSync(file, 'utf8');
      if (!text.includes(p.from)) throw new Error(`FerretDB patch no longer applies to ${p.file}: ${p.from}`);
      writeFileSync(file, text.replace(p.from, p.to));
    }
    run('go', ['mod', 'edit', `-replace=github.com/FerretDB/FerretDB=${copy}`], { cwd: work, env });
    const tmpBin = `${bin}.${process.pid}.tmp`;
    run('go', ['build', '-trimpath', '-o', tmpBin, 'github.com/FerretDB/FerretDB/cmd/ferretdb'], { cwd: work, env });
    renameSync(tmpBin, bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

function chmodRecursive(dir) {
  // The module cache is read-only; the copy must be writable to add version.txt and to be removed.
  run('chmod', ['-R', 'u+w', dir]);
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port) {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  });
}

/**
 * Starts FerretDB on a free loopback port with a fresh SQLite directory and telemetry off.
 * Resolves to { uri, port, dataDir, stop }. `stop()` kills the server and removes the data.
 */
export async function startFerretdb({ port, log = () => {}, dataDir } = {}) {
  const bin = ensureFerretdb({ log });
  const listenPort = port ?? (await freePort());
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'mailcron-ferretdb-data-'));
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--listen-addr=127.0.0.1:${listenPort}`,
      '--state-dir=-',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=warn',
    ],
    { env: { ...process.env, DO_NOT_TRACK: '1', FERRETDB_TELEMETRY: 'disable' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(listenPort))) {
    if (exited) throw new Error(`FerretDB exited during start-up (${JSON.stringify(exited)}):\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`FerretDB did not listen on 127.0.0.1:${listenPort} within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    if (!exited) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    }
    if (!dataDir) rmSync(dir, { recursive: true, force: true });
  };
  return { uri: `mongodb://127.0.0.1:${listenPort}/`, port: listenPort, dataDir: dir, pid: child.pid, stop };
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const [cmd = 'start', portArg] = process.argv.slice(2);
  const log = (m) => process.stderr.write(`ferretdb: ${m}\n`);
  try {
    if (cmd === 'build') {
      process.stdout.write(`${ensureFerretdb({ log })}\n`);
    } else if (cmd === 'start') {
      const srv = await startFerretdb({ port: portArg ? Number(portArg) : undefined, log });
      process.stdout.write(`${srv.uri}\n`);
      log(`listening; data in ${srv.dataDir}; Ctrl-C stops it and removes the data`);
      const shutdown = () => srv.stop().then(() => process.exit(0));
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    } else {
      process.stderr.write('usage: node scripts/ferretdb.js build | start [port]\n');
      process.exit(2);
    }
  } catch (err) {
    process.stderr.write(`ferretdb: ${err.message}\n`);
    process.exit(1);
  }
}
