#!/usr/bin/env node
// Runs the bundled CLI (npm run build: tsc, then scripts/bundle-cli.js): one file and a few small
// chunks load for `mailcron --help` instead of ~30 modules. Node 22.8+ can also keep V8's compiled
// code between runs; turn that on before the bundle loads (no-op on Node 20).
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/bundle/mailcron.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && /dist[\\/]bundle[\\/]mailcron\.js/.test(String(err.message))) {
    process.stderr.write('mailcron: dist/bundle/mailcron.js is missing: run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
