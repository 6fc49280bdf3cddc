// Merges flag > environment > --env-file (or ./.env) > default, then validates once in core.
import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { CONFIG_KEYS, resolveConfig, type Config, type ConfigKey, type RawConfig } from '../core/config.js';
import { UsageError } from '../core/errors.js';

/** Global flags as commander gives them (camelCase). */
export interface GlobalFlags {
  envFile?: string;
  mongodbUri?: string;
  db?: string;
  usersCollection?: string;
  smtpUrl?: string;
  from?: string;
  concurrency?: string;
  json?: boolean;
}

const FLAG_FOR: Record<ConfigKey, keyof GlobalFlags> = {
  MONGODB_URI: 'mongodbUri',
  MAILCRON_DB: 'db',
  MAILCRON_USERS: 'usersCollection',
  SMTP_URL: 'smtpUrl',
  MAIL_FROM: 'from',
  MAILCRON_CONCURRENCY: 'concurrency',
};

/** Reads the env file: an explicit --env-file must exist; ./.env is optional. */
export function readEnvFile(path: string | undefined, cwd: string): Record<string, string> {
  const file = path ?? `${cwd}/.env`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`--env-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); give a readable file`);
  }
  return parseDotenv(text);
}

/** Every source merged, nothing validated yet. Also used by commands that read extra variables. */
export function mergeSources(flags: GlobalFlags, env: NodeJS.ProcessEnv, cwd: string): { raw: RawConfig; fileEnv: Record<string, string> } {
  const fileEnv = readEnvFile(flags.envFile, cwd);
  const raw: RawConfig = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const flag = flags[FLAG_FOR[key]];
    const value = typeof flag === 'string' ? flag : (env[key] ?? fileEnv[key]);
    if (value !== undefined && value !== '') raw[key] = value;
  }
  return { raw, fileEnv };
}

export function loadConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  return resolveConfig(mergeSources(flags, env, cwd).raw);
}
