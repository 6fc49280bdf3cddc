// Broadcast identity: `--id`, or a name derived from what is sent and to whom, so running the
// same command again resumes the same broadcast instead of starting another.
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { BroadcastDefinition, BroadcastDoc } from './store.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks an operator-given `--id`; throws UsageError naming the rule. */
export function checkBroadcastId(id: string): string {
  if (!ID.test(id)) throw new UsageError(`--id: ${JSON.stringify(id)} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  return id;
}

/** `b-` + 16 hex of sha256(message hash, audience, collection). */
export function deriveBroadcastId(d: Pick<BroadcastDefinition, 'messageHash' | 'audience' | 'collection'>): string {
  const h = createHash('sha256').update(`${d.messageHash}\0${d.audience}\0${d.collection}`).digest('hex');
  return `b-${h.slice(0, 16)}`;
}

/** What differs between a stored definition and this run's ('message', 'audience', 'collection'). */
export function definitionChanges(stored: BroadcastDefinition, now: BroadcastDefinition): string[] {
  const out: string[] = [];
  if (stored.messageHash !== now.messageHash) out.push('message');
  if (stored.audience !== now.audience) out.push('audience');
  if (stored.collection !== now.collection) out.push('collection');
  return out;
}

/**
 * An `--id` reused with another message or audience would mix two broadcasts in one ledger
 * scope: refuse unless `--force`, which continues under the new definition (users who already
 * got the old message are not sent the new one) and rescans the audience from the start.
 */
export function assertSameDefinition(existing: BroadcastDoc, now: BroadcastDefinition, force: boolean): boolean {
  const changes = definitionChanges(existing.definition, now);
  if (changes.length === 0) return false;
  if (force) return true;
  throw new UsageError(
    `broadcast ${existing._id} was started with a different ${changes.join(' and ')}; use another --id for a new broadcast, or --force to continue this one with the new definition (users it already reached are not sent again)`,
  );
}
