#!/usr/bin/env node
// `npm run build`, second step (after tsc): bundles the CLI into dist/bundle/ so that `mailcron --help`
// reads a handful of files instead of ~30 (module loading, not our code, dominated its start-up).
//
//   dist/bundle/mailcron.js    entry: src/cli (main, program, the command files) + commander + ms
//   dist/bundle/chunks/*.js    one chunk per lazy `await import()` of a command, plus shared code
//
// Only the packages on the --help path are bundled; every other package stays an ordinary import
// from node_modules, loaded when a command runs (mongodb and nodemailer are CommonJS with optional
// native add-ons: bundling them buys nothing and risks breaking them).
// tsc still type-checks and emits dist/ (tests and bench import modules from there).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Packages inlined into the bundle: what `mailcron --help` loads. Keep it to small pure-JS packages. */
const BUNDLED = new Set(['commander', 'ms']);

// main.ts reads ../../package.json relative to its own file: the entry must stay two levels below
// the package root, like dist/cli/main.js (the --version check at the end catches a move).

const packageName = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

rmSync(outdir, { recursive: true, force: true }); // hashed chunk names: drop the previous build's
await build({
  absWorkingDir: root,
  entryPoints: { mailcron: 'src/cli/main.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true, // each lazy import() becomes a chunk that loads only when its command runs
  format: 'esm',
  platform: 'node',
  target: `node${pkg.engines.node.replace(/^>=\s*/, '')}`,
  sourcemap: true,
  logLevel: 'warning',
  // Commander is CommonJS: its require('node:events') etc. need a real `require` in an ES module.
  banner: { js: "import { createRequire as __mailcronRequire } from 'node:module';\nconst require = __mailcronRequire(import.meta.url);" },
  plugins: [
    {
      name: 'external-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.kind === 'entry-point' || BUNDLED.has(packageName(args.path))) return undefined;
          return { path: args.path, external: true }; // node: builtins and every other package
        });
      },
    },
  ],
});

// Smoke test: the bundle starts and finds package.json (a broken bundle fails the build, not the user).
const r = spawnSync(process.execPath, [join(root, 'bin', 'mailcron.js'), '--version'], { encoding: 'utf8' });
if (r.status !== 0 || r.stdout.trim() !== pkg.version) {
  process.stderr.write(`bundle-cli: bin/mailcron.js --version failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  process.exit(1);
}
