// Delivery keys: the ledger `_id`s. Built from a user's `_id` in a way that keeps BSON types
// apart (the string "42" and the number 42 are different users), without importing the driver.

/** A stable text form of a user `_id`: `oid:<hex>`, `s:<string>`, `n:<number>`, else `j:<json>`. */
export function userKey(id: unknown): string {
  if (typeof id === 'string') return `s:${id}`;
  if (typeof id === 'number' || typeof id === 'bigint') return `n:${String(id)}`;
  if (id && typeof id === 'object') {
    const o = id as { toHexString?: () => string; _bsontype?: string; toString(): string };
    if (typeof o.toHexString === 'function') return `oid:${o.toHexString()}`;
    if (id instanceof Date) return `d:${id.toISOString()}`;
    if (o._bsontype === 'Long' || o._bsontype === 'Int32' || o._bsontype === 'Double') return `n:${o.toString()}`;
  }
  return `j:${JSON.stringify(id)}`;
}

/** Ledger scope of a broadcast: what `status` counts by. */
export function broadcastScope(broadcastId: string): string {
  return `broadcast:${broadcastId}`;
}

/** Delivery key of one user in one broadcast. */
export function broadcastDeliveryKey(broadcastId: string, userId: unknown): string {
  return `b:${broadcastId}:${userKey(userId)}`;
}
