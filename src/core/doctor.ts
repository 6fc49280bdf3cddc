// `mailcron doctor`: checks configuration, MongoDB, the users collection, the indexes mailcron's
// queries need, and the SMTP server stage by stage, and says what to fix. Every network check is
// bounded by the adapters' timeouts, so a dead server makes doctor fail fast, not hang.

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  /** True unless the check failed (warnings and skipped checks do not fail doctor). */
  ok: boolean;
  detail: string;
  /** What to do about a failure or warning. */
  fix?: string;
}

export interface DoctorReport {
  /** True when no check failed. */
  ok: boolean;
  /** True when the configuration itself is invalid (the CLI exits 2 then). */
  configInvalid: boolean;
  checks: Check[];
}

/** One required index as the database adapter sees it. */
export interface IndexState {
  collection: string;
  name: string;
  key: Record<string, unknown>;
  present: boolean;
  /** Present under another name (same key). */
  existingName?: string;
  why: string;
  command: string;
  /** The index is on the configured users collection. */
  onUsers: boolean;
}

/** What doctor asks of MongoDB. Every call is bounded (a few seconds) by the adapter. */
export interface DoctorDatabase {
  /** Server version (buildInfo) and, for compatible servers, their own name and version. */
  server(): Promise<{ version: string; product?: string }>;
  /** Whether the users collection exists, its (estimated) size, and the database's other collections. */
  users(): Promise<{ name: string; exists: boolean; count?: number; collections: string[] }>;
  indexes(): Promise<IndexState[]>;
  /** Creates the given missing indexes. */
  createIndexes(missing: IndexState[]): Promise<void>;
  close(): Promise<void>;
}

/** One stage of an SMTP session, probed without sending anything. */
export interface SmtpStage {
  stage: 'connect' | 'ehlo' | 'tls' | 'auth';
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorInput {
  /** Every configuration problem (`name: message`); empty when the configuration is valid. */
  configIssues: string[];
  /** The configuration as it may be shown (passwords redacted). */
  configSummary?: Record<string, string | number>;
  /** Opens the database; rejects with a secret-free message when it is unreachable. */
  openDatabase?: () => Promise<DoctorDatabase>;
  /** Probes the SMTP server, or says why there is nothing to probe. */
  smtp?: { probe(): Promise<SmtpStage[]> } | { skip: string };
  /** Create missing indexes (`--fix`). Default false. */
  fix?: boolean;
}

const check = (name: string, status: CheckStatus, detail: string, fix?: string): Check => ({
  name,
  status,
  ok: status !== 'fail',
  detail,
  ...(fix ? { fix } : {}),
});

function keyText(key: Record<string, unknown>): string {
  return `{ ${Object.entries(key)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ')} }`;
}

async function databaseChecks(open: () => Promise<DoctorDatabase>, fix: boolean): Promise<Check[]> {
  let db: DoctorDatabase;
  try {
    db = await open();
  } catch (err) {
    return [
      check('mongodb', 'fail', (err as Error).message, 'check MONGODB_URI (host, port, credentials) and that the server is running'),
      check('users collection', 'skip', 'MongoDB is unreachable'),
      check('indexes', 'skip', 'MongoDB is unreachable'),
    ];
  }
  const out: Check[] = [];
  try {
    const server = await db.server();
    out.push(check('mongodb', 'ok', `reachable, MongoDB ${server.version}${server.product ? ` (${server.product})` : ''}`));
    const users = await db.users();
    if (users.exists) {
      out.push(check('users collection', 'ok', `${users.name}: ${users.count ?? '?'} documents`));
    } else {
      const others = users.collections.slice(0, 10).join(', ') || 'none';
      out.push(
        check(
          'users collection',
          'fail',
          `${users.name} does not exist in this database (collections: ${others})`,
          'set MAILCRON_DB / --db and MAILCRON_USERS / --users-collection to where your users are',
        ),
      );
    }
    const indexes = await db.indexes();
    const missing = indexes.filter((i) => !i.present && (users.exists || !i.onUsers));
    let created = new Set<IndexState>();
    if (fix && missing.length > 0) {
      await db.createIndexes(missing);
      created = new Set(missing);
    }
    for (const ix of indexes) {
      const name = `index ${ix.name}`;
      const what = `${ix.collection} ${keyText(ix.key)}, for ${ix.command}: ${ix.why}`;
      if (ix.present) out.push(check(name, 'ok', `${ix.collection} ${keyText(ix.key)}${ix.existingName ? ` (as ${ix.existingName})` : ''}`));
      else if (created.has(ix)) out.push(check(name, 'ok', `created ${what}`));
      else if (ix.onUsers && !users.exists) out.push(check(name, 'skip', 'the users collection does not exist'));
      else out.push(check(name, 'fail', `missing ${what}`, 'run mailcron doctor --fix to create it'));
    }
  } catch (err) {
    out.push(check('mongodb', 'fail', (err as Error).message, 'check the server log and that the user may run buildInfo, listCollections and listIndexes'));
  } finally {
    await db.close().catch(() => {});
  }
  return out;
}

async function smtpChecks(smtp: NonNullable<DoctorInput['smtp']>): Promise<Check[]> {
  if ('skip' in smtp) return [check('smtp', 'skip', smtp.skip)];
  try {
    const stages = await smtp.probe();
    return stages.map((s) => check(`smtp ${s.stage === 'tls' ? 'TLS' : s.stage === 'ehlo' ? 'EHLO' : s.stage === 'auth' ? 'AUTH' : 'connect'}`, s.status, s.detail, s.fix));
  } catch (err) {
    return [check('smtp connect', 'fail', (err as Error).message)];
  }
}

/**
 * Runs every check that the configuration allows: with invalid configuration only the
 * configuration check runs (failing, with every problem listed). MongoDB and SMTP are probed
 * concurrently, so doctor takes as long as the slower of the two, not their sum.
 */
export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  if (input.configIssues.length > 0) {
    const checks = [
      check('configuration', 'fail', input.configIssues.join('; '), 'fix the settings named above (flags, environment or --env-file)'),
      check('mongodb', 'skip', 'configuration is invalid'),
      check('smtp', 'skip', 'configuration is invalid'),
    ];
    return { ok: false, configInvalid: true, checks };
  }
  const summary = input.configSummary
    ? Object.entries(input.configSummary)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : 'valid';
  const [db, smtp] = await Promise.all([
    input.openDatabase ? databaseChecks(input.openDatabase, input.fix ?? false) : Promise.resolve([]),
    input.smtp ? smtpChecks(input.smtp) : Promise.resolve([]),
  ]);
  const checks = [check('configuration', 'ok', summary), ...db, ...smtp];
  return { ok: checks.every((c) => c.ok), configInvalid: false, checks };
}
