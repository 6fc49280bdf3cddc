// Peer "mailcron": the real CLI, as an operator runs it (node bin/mailcron.js, the built dist/),
// ledger on. Also the schedule command and the cold start, and the check whether a command exists
// yet, so the harness reports a missing command as null with a reason instead of failing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FROM } from '../lib/message.js';

export const MAILCRON_BIN = 'bin/mailcron.js';

/** null when `mailcron <command>` is built and registered, else why not. */
export function commandMissing(root, command) {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) return 'dist/ is not built (npm run build)';
  if (!existsSync(join(root, 'dist', 'cli', 'commands', `${command}.js`))) return `mailcron ${command} is not written yet (no src/cli/commands/${command}.ts)`;
  const r = spawnSync(process.execPath, [MAILCRON_BIN, command, '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return `mailcron ${command} --help failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  return null;
}

function common({ smtpPort, mongodbUri }) {
  return ['--yes', '--json', '--smtp-url', `smtp://127.0.0.1:${smtpPort}`, '--mongodb-uri', mongodbUri, '--from', FROM];
}

export function broadcastCommand({ smtpPort, mongodbUri, messageArgs, id }) {
  return [process.execPath, [MAILCRON_BIN, 'broadcast', ...common({ smtpPort, mongodbUri }), ...messageArgs, '--id', id]];
}

export function scheduleCommand({ smtpPort, mongodbUri, messageArgs, now }) {
  // schedule has no confirmation, so no --yes.
  const args = common({ smtpPort, mongodbUri }).filter((a) => a !== '--yes');
  return [process.execPath, [MAILCRON_BIN, 'schedule', ...args, ...messageArgs, '--now', now]];
}

/** Messages a CLI run reports as sent in its --json summary. */
export function sentOf(summary) {
  const c = summary?.counts ?? summary;
  return typeof c?.sent === 'number' ? c.sent : null;
}
