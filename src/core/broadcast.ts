// `mailcron broadcast` in core: identity, lease and resume around the shared delivery pipeline.
export { runBroadcast, type BroadcastDeps, type BroadcastInput, type BroadcastPlan, type BroadcastResult } from './broadcast/run-broadcast.js';
export { assertSameDefinition, checkBroadcastId, definitionChanges, deriveBroadcastId } from './broadcast/identity.js';
export type { BeginInput, BroadcastDefinition, BroadcastDoc, BroadcastStatus, BroadcastStore, Lease, RunOwner } from './broadcast/store.js';
