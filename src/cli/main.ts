import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runProgram } from './program.js';

// Two levels below the package root both as dist/cli/main.js (tsc) and dist/bundle/mailcron.js (esbuild).
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// A run allocates steadily (users, messages, ledger writes) around a small live set (~25 MB). Left
// alone, V8 may let old space grow to about four times the live set between full collections, so
// a 100k-user broadcast peaked anywhere between 120 and 185 MB RSS. A smaller growing factor keeps
// it near 120 MB at the cost of a few more cheap collections. V8 reads it at every collection.
setFlagsFromString('--heap-growing-percent=30');

runProgram(process.argv, pkg.version).catch((err: unknown) => {
  process.stderr.write(`mailcron: internal error (please report it): ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
