// Yes/no questions on a terminal. Callers ask only when stdin and stderr are terminals and --yes
// was not given; under cron or CI there is never a prompt.
import { createInterface } from 'node:readline/promises';

/** Asks on stderr, reads one line from stdin; true for y/yes (any case). */
export async function confirm(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: true });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
