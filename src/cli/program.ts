// The commander program: global options and one file per command. Command files import only
// commander and small CLI helpers; heavy modules (mongodb, nodemailer) load inside the action,
// so `mailcron --help` starts nearly as fast as node itself.
import { Command, CommanderError, Option } from 'commander';
import { registerCommands } from './commands/index.js';
import { EXIT } from './exit-codes.js';

export function buildProgram(version: string): Command {
  const program = new Command('mailcron')
    .description('Send email to a MongoDB user base: broadcasts, per-user schedules under cron, listings.')
    .version(version, '-V, --version')
    .option('--env-file <path>', 'read settings from this file instead of ./.env (for cron)')
    .option('--mongodb-uri <uri>', 'MongoDB connection string [env MONGODB_URI]')
    .option('--db <name>', "database name [env MAILCRON_DB; default: the URI's database]")
    .option('--users-collection <name>', 'users collection [env MAILCRON_USERS; default users]')
    .option('--smtp-url <url>', 'smtp://user:pass@host:587, smtps://…, outbox:<dir> or json [env SMTP_URL]')
    .option('--from <address>', 'sender address [env MAIL_FROM]')
    .addOption(new Option('--concurrency <n>', 'concurrent SMTP sends [env MAILCRON_CONCURRENCY; default 15]'))
    .option('--json', 'print one machine-readable JSON object on stdout, nothing else')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Usage errors: one line naming the problem and where to look, then exit 2.
      outputError: (str, write) => write(`mailcron: ${str.replace(/^error: /, '').trim()} (see mailcron --help)\n`),
    });
  program.addHelpText(
    'after',
    `
Examples:
  $ mailcron broadcast --subject "Hello {{name}}" --text @hello.txt --yes
  $ mailcron schedule --template-dir ./templates          # from cron, every 5 minutes
  $ mailcron list-users --page 2 --limit 10 --format json
  $ mailcron status
  $ mailcron doctor --fix

Settings come from flags, then the environment, then --env-file or ./.env. Exit codes: 0 done,
1 internal error, 2 usage or configuration, 3 aborted (safe to rerun), 75 locked, 130/143 interrupted.`,
  );
  registerCommands(program);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({
      outputError: (str, write) => write(`mailcron ${cmd.name()}: ${str.replace(/^error: /, '').trim()} (see mailcron ${cmd.name()} --help)\n`),
    });
    cmd.showSuggestionAfterError(true);
  }
  return program;
}

/** Parses argv and runs the command; commander's own exits become exit 0 (help) or 2 (usage). */
export async function runProgram(argv: string[], version: string): Promise<void> {
  const program = buildProgram(version);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exit(ok ? EXIT.OK : EXIT.USAGE);
    }
    throw err;
  }
}
