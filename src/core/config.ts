// Connection and identity settings shared by every command. Sources are merged by the CLI
// (flag > environment > --env-file/.env > default) and validated here once.
import { z } from 'zod';
import { redactUri } from './redact.js';
import { parseWith } from './validate.js';

/** Where messages go: a real SMTP server, `.eml` files in a directory, or JSON lines on stdout. */
export type TransportConfig =
  | { kind: 'smtp'; url: string; secure: boolean; host: string; port: number; user?: string; pass?: string }
  | { kind: 'outbox'; dir: string }
  | { kind: 'json' };

export interface Config {
  /** MONGODB_URI. Default `mongodb://127.0.0.1:27017/mailcron`. */
  mongodbUri: string;
  /** MAILCRON_DB. Default: the URI's database, else `mailcron`. */
  dbName: string;
  /** MAILCRON_USERS. Default `users`. */
  usersCollection: string;
  /** SMTP_URL: `smtp://user:pass@host:587`, `smtps://…`, `outbox:<dir>` or `json`. Default `smtp://127.0.0.1:25`. */
  transport: TransportConfig;
  /** MAIL_FROM. Default `mailcron <mailcron@localhost>`. */
  mailFrom: string;
  /** MAILCRON_CONCURRENCY: concurrent SMTP sends and pooled connections. Default 15. */
  concurrency: number;
  /** Values that must never be printed (passwords from the URIs). */
  secrets: string[];
}

/** The settings by environment-variable name; the CLI fills this from flags, env and .env. */
export type RawConfig = Partial<Record<ConfigKey, string>>;

export const CONFIG_KEYS = {
  MONGODB_URI: '--mongodb-uri',
  MAILCRON_DB: '--db',
  MAILCRON_USERS: '--users-collection',
  SMTP_URL: '--smtp-url',
  MAIL_FROM: '--from',
  MAILCRON_CONCURRENCY: '--concurrency',
} as const;
export type ConfigKey = keyof typeof CONFIG_KEYS;

export const CONFIG_DEFAULTS: Record<ConfigKey, string | undefined> = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017/mailcron',
  MAILCRON_DB: undefined,
  MAILCRON_USERS: 'users',
  SMTP_URL: 'smtp://127.0.0.1:25',
  MAIL_FROM: 'mailcron <mailcron@localhost>',
  MAILCRON_CONCURRENCY: '15',
};

const dbName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[^/\\. "$*<>:|?]+$/, 'is not a valid MongoDB database name');

const schema = z.object({
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must start with mongodb:// or mongodb+srv:// (e.g. mongodb://127.0.0.1:27017/app)'),
  MAILCRON_DB: dbName.optional(),
  MAILCRON_USERS: z.string().min(1).regex(/^[^$\0]+$/, 'is not a valid collection name'),
  SMTP_URL: z.string().min(1),
  MAIL_FROM: z
    .string()
    .min(3)
    .refine((v) => /[^\s@<>]+@[^\s@<>]+/.test(v) && !/[\r\n]/.test(v), 'must be an address, e.g. "News <news@example.com>"'),
  MAILCRON_CONCURRENCY: z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(500, 'must be at most 500'),
});

export function parseTransport(value: string): TransportConfig | string {
  if (value === 'json') return { kind: 'json' };
  if (value.startsWith('outbox:')) {
    const dir = value.slice('outbox:'.length);
    return dir ? { kind: 'outbox', dir } : 'outbox: needs a directory, e.g. outbox:./outbox';
  }
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'must be smtp://[user:pass@]host[:port], smtps://…, outbox:<dir> or json';
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') {
    return `scheme ${u.protocol} is not supported: use smtp://, smtps://, outbox:<dir> or json`;
  }
  if (!u.hostname) return 'has no host';
  const secure = u.protocol === 'smtps:';
  const t: TransportConfig = {
    kind: 'smtp',
    url: value,
    secure,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
  };
  if (u.username) t.user = decodeURIComponent(u.username);
  if (u.password) t.pass = decodeURIComponent(u.password);
  return t;
}

function databaseFromUri(uri: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]*)/.exec(uri);
  const name = m?.[1] ? decodeURIComponent(m[1]) : '';
  return name || undefined;
}

function uriPassword(uri: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]*)@/i.exec(uri);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/**
 * Validates the merged settings. Throws ConfigError listing every problem, each named by the flag
 * and variable that set it (`--concurrency/MAILCRON_CONCURRENCY: must be at least 1`).
 */
export function resolveConfig(raw: RawConfig): Config {
  const merged: Record<string, string | undefined> = {};
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) merged[k] = raw[k] ?? CONFIG_DEFAULTS[k];
  const names = Object.fromEntries(Object.entries(CONFIG_KEYS).map(([env, flag]) => [env, `${flag}/${env}`]));
  const transport = parseTransport(merged.SMTP_URL ?? '');
  const extra = z.object({}).superRefine((_v, ctx) => {
    if (typeof transport === 'string') ctx.addIssue({ code: 'custom', path: ['SMTP_URL'], message: transport });
  });
  const v = parseWith(schema.and(extra), merged, names);
  const db = v.MAILCRON_DB ?? databaseFromUri(v.MONGODB_URI) ?? 'mailcron';
  const dbCheck = dbName.safeParse(db);
  if (!dbCheck.success) parseWith(z.object({ MAILCRON_DB: dbName }), { MAILCRON_DB: db }, names);
  const t = transport as TransportConfig;
  const secrets = [uriPassword(v.MONGODB_URI), t.kind === 'smtp' ? t.pass : undefined].filter((s): s is string => !!s);
  return {
    mongodbUri: v.MONGODB_URI,
    dbName: db,
    usersCollection: v.MAILCRON_USERS,
    transport: t,
    mailFrom: v.MAIL_FROM,
    concurrency: v.MAILCRON_CONCURRENCY,
    secrets,
  };
}

/** The config as it may be shown: passwords replaced by `***`. */
export function describeConfig(c: Config): Record<string, string | number> {
  return {
    MONGODB_URI: redactUri(c.mongodbUri),
    MAILCRON_DB: c.dbName,
    MAILCRON_USERS: c.usersCollection,
    SMTP_URL:
      c.transport.kind === 'smtp'
        ? redactUri(c.transport.url)
        : c.transport.kind === 'outbox'
          ? `outbox:${c.transport.dir}`
          : 'json',
    MAIL_FROM: c.mailFrom,
    MAILCRON_CONCURRENCY: c.concurrency,
  };
}
