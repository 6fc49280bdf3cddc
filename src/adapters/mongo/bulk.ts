// How big one update command may be.

/**
 * Statements per bulk update command. FerretDB v1.24 holds one SQLite connection per update
 * statement until the whole command ends, out of a pool of 100: a command of 100 statements never
 * answers, and two concurrent commands of 50 (a ledger flush and a claim) can starve each other.
 * 25 keeps both, plus the reads beside them, well inside the pool; on MongoDB it only means more
 * round trips.
 */
export const MAX_UPDATE_STATEMENTS = 25;

/** Consecutive slices of at most `size` items. */
export function* slices<T>(items: readonly T[], size = MAX_UPDATE_STATEMENTS): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
