import { readFileSync } from 'node:fs';
import { runProgram } from './program.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

runProgram(process.argv, pkg.version).catch((err: unknown) => {
  process.stderr.write(`mailcron: internal error (please report it): ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
