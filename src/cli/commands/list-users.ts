// `mailcron list-users`: a page, a page by key, or every user streamed, as table/json/ndjson/csv.
import { once } from 'node:events';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { UserDoc } from '../../core/ports.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../format/formats.js';
import { emitJson } from '../io.js';
import { action, type CommandContext } from '../run.js';
import { wholeNumber } from '../args.js';

const DEFAULT_FIELDS = ['_id', 'email', 'name', 'active'];
const MAX_LIMIT = 1000; // MAX_PAGE_LIMIT in core/list-users.ts, repeated here to keep --help import-light

interface ListUsersOptions {
  page?: number;
  limit?: number;
  after?: string;
  all?: boolean;
  format?: OutputFormat;
  fields: string[];
  filter?: string;
  active?: boolean;
  inactive?: boolean;
  any?: boolean;
}

export function parseFields(value: string): string[] {
  const fields = [...new Set(value.split(',').map((f) => f.trim()).filter(Boolean))];
  if (fields.length === 0) throw new InvalidArgumentError('--fields needs at least one field, e.g. --fields email,name');
  for (const f of fields) {
    if (f.startsWith('$') || f.split('.').some((part) => part === '') || /\s/.test(f)) {
      throw new InvalidArgumentError(`--fields: "${f}" is not a field path (e.g. email or address.city)`);
    }
  }
  return fields;
}

export function register(program: Command): void {
  program
    .command('list-users')
    .description('List users in _id order: one page, one page after a given _id, or all of them (streamed)')
    .option('--page <n>', 'page number, from 1 (default 1)', wholeNumber('--page', 1, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', `users per page, 1-${MAX_LIMIT} (default 50)`, wholeNumber('--limit', 1, MAX_LIMIT))
    .addOption(
      new Option('--after <id>', 'page by key: users after this _id (24 hex → ObjectId, integer → number, "…" → string)').conflicts('page'),
    )
    .addOption(new Option('--all', 'stream every matching user (bounded memory)').conflicts(['page', 'after', 'limit']))
    .addOption(
      new Option('--format <format>', 'output format (default: table on a terminal, else json; ndjson with --all)').choices(OUTPUT_FORMATS),
    )
    .addOption(
      new Option('--fields <list>', 'comma-separated fields, dotted paths allowed').argParser(parseFields).default(DEFAULT_FIELDS, DEFAULT_FIELDS.join(',')),
    )
    .option('--filter <json>', `extra condition in MongoDB extended JSON, e.g. '{"plan":"pro"}'`)
    .addOption(new Option('--active', 'only users with active: true').conflicts(['inactive', 'any']))
    .addOption(new Option('--inactive', 'only users without active: true').conflicts(['active', 'any']))
    .addOption(new Option('--any', 'active or not (the default)').conflicts(['active', 'inactive']))
    .addHelpText(
      'after',
      `
Output: --format json gives { users, total, page, limit, total_pages } (with --after:
{ users, total, limit, after, next_after }); --all streams ndjson by default. ObjectIds are
printed as hex strings and dates as ISO 8601. CSV cells that a spreadsheet would run as a
formula (= + - @ tab CR) start with a single quote.

Examples:
  $ mailcron list-users                                   # first 50 users, as a table
  $ mailcron list-users --page 2 --limit 10 --format json
  $ mailcron list-users --after 665f1c2e9b1d4a0012345678 --limit 100
  $ mailcron list-users --all --format csv --fields email,name,address.city > users.csv
  $ mailcron list-users --all --active --filter '{"plan":"pro"}' | jq -r .email`,
    )
    .action(action<ListUsersOptions>((ctx, opts) => listUsersCommand(ctx, opts)));
}

/** The `--after` argument, shell-quoted, that names `id` (see parseAfterId for the reading rules). */
export function afterArgument(id: unknown): string {
  const hex = (id as { toHexString?: () => string } | null)?.toHexString;
  if (typeof hex === 'function') return hex.call(id);
  if (typeof id === 'number') return String(id);
  const s = String(id);
  const literal = /^[0-9a-fA-F]{24}$/.test(s) || /^-?\d+$/.test(s) || /^".*"$/.test(s) ? `"${s}"` : s;
  return `'${literal.replace(/'/g, `'\\''`)}'`;
}

function chooseFormat(ctx: CommandContext, opts: ListUsersOptions): OutputFormat {
  if (ctx.json) {
    if (opts.format && opts.format !== 'json') throw new UsageError(`--json prints JSON; it cannot be combined with --format ${opts.format}`);
    return 'json';
  }
  if (opts.format) return opts.format;
  if (ctx.io.stdoutIsTTY) return 'table';
  return opts.all ? 'ndjson' : 'json';
}

async function listUsersCommand(ctx: CommandContext, opts: ListUsersOptions): Promise<number | void> {
  const format = chooseFormat(ctx, opts);
  const activity = opts.active ? 'active' : opts.inactive ? 'inactive' : 'any';
  const fields = opts.fields;
  const [{ parseFilter, audienceQuery }, { connectMongo }, { createUserQuery, parseAfterId, projectionFor }, core, fmt] = await Promise.all([
    import('../../adapters/mongo/audience.js'),
    import('../../adapters/mongo/client.js'),
    import('../../adapters/mongo/user-query.js'),
    import('../../core/list-users.js'),
    import('../format/index.js'),
  ]);
  const filter = parseFilter(opts.filter);
  const after = opts.after === undefined ? undefined : parseAfterId(opts.after);
  const { io } = ctx;
  const rows = (users: UserDoc[]) => users.map((u) => fmt.pickFields(u, fields));
  const writer = fmt.createRowWriter(format, fields, {
    width: process.stdout.columns || 120,
    header: io.stdoutIsTTY ? (t) => io.color.bold(t) : undefined,
  });

  const mongo = await connectMongo(ctx.config);
  try {
    const q = createUserQuery(mongo.users, audienceQuery(activity, filter), { projection: projectionFor(fields) });

    if (opts.all) {
      // A reader that closes the pipe early (`| head`) is not an error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
      });
      const result = await core.streamUsers(
        q.source,
        async (users) => {
          io.out(writer.write(rows(users)));
          if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
        },
        { signal: ctx.signal },
      );
      io.out(writer.end());
      if (format === 'table') io.err(`${result.count} user${result.count === 1 ? '' : 's'}\n`);
      return;
    }

    if (after !== undefined) {
      const r = await core.listAfter(q, { after, limit: opts.limit ?? core.DEFAULT_PAGE_LIMIT });
      if (format === 'json') {
        emitJson(io, { users: rows(r.users), total: r.total, limit: r.limit, after: fmt.toPlain(r.after), next_after: fmt.toPlain(r.next_after) });
        return;
      }
      io.out(writer.write(rows(r.users)) + writer.end());
      if (format === 'table') {
        io.err(`${r.users.length} users; ${r.next_after === null ? 'last page' : `next: mailcron list-users --after ${afterArgument(r.next_after)}`}\n`);
      }
      return;
    }

    const r = await core.listPage(q, { page: opts.page ?? 1, limit: opts.limit ?? core.DEFAULT_PAGE_LIMIT });
    if (format === 'json') {
      emitJson(io, { users: rows(r.users), total: r.total, page: r.page, limit: r.limit, total_pages: r.total_pages });
      return;
    }
    io.out(writer.write(rows(r.users)) + writer.end());
    if (format === 'table') io.err(`page ${r.page} of ${r.total_pages} (${r.total} users)\n`);
  } finally {
    await mongo.close();
  }
}
