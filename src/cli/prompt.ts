// Yes/no questions on a terminal. Callers ask only when stdin and stderr are terminals and --yes
// was not given; under cron or CI there is never a prompt.
import { createInterface } from 'node:readline';

/**
 * Asks on stderr, reads one line from stdin; true for y/yes (any case). Ctrl-C answers no and is
 * passed on as SIGINT, so the command ends like any interrupted run (exit 130).
 */
export function confirm(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, output, terminal: true });
    let done = false;
    const finish = (answer: boolean) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(answer);
    };
    // Without a listener, readline only pauses on Ctrl-C and the question would hang.
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(false);
      process.kill(process.pid, 'SIGINT');
    });
    rl.on('close', () => finish(false));
    rl.question(`${question} [y/N] `, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
  });
}
