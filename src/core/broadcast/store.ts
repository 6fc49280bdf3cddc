// The broadcast registry port (`mailcron_broadcasts`): definition, status, counts, the low
// watermark and a lease so two runs never work on one broadcast at once.
import type { PipelineCounts } from '../pipeline/types.js';

export type BroadcastStatus = 'running' | 'completed' | 'partial' | 'aborted' | 'interrupted';

/** What identifies a broadcast's content and audience. */
export interface BroadcastDefinition {
  /** CompiledMessage.hash. */
  messageHash: string;
  /** The subject template, for `status`. */
  subject: string;
  /** The audience query as canonical extended JSON. */
  audience: string;
  /** Database and users collection. */
  collection: string;
}

/** Who runs a broadcast: a unique id plus, when known, the host and pid (to spot a dead holder at once). */
export interface RunOwner {
  id: string;
  host?: string;
  pid?: number;
}

export interface Lease extends RunOwner {
  since: Date;
  expiresAt: Date;
}

export interface BroadcastDoc {
  _id: string;
  definition: BroadcastDefinition;
  status: BroadcastStatus;
  lease?: Lease | null;
  /** Every user with `_id` ≤ this has a final outcome in the ledger; a resume streams after it. */
  lowWatermark?: unknown;
  /** Audience size counted at the start of the latest run. */
  audienceCount?: number;
  /** Counts of the latest run. */
  lastRun?: { owner: string; startedAt: Date; finishedAt?: Date; counts?: PipelineCounts; error?: string };
  runs: number;
  createdAt: Date;
  startedAt: Date;
  finishedAt?: Date;
}

export interface BeginInput {
  id: string;
  definition: BroadcastDefinition;
  owner: RunOwner;
  now: Date;
  leaseMs: number;
  /** Audience size, when already counted (otherwise set later with setAudience). */
  audienceCount?: number;
  /** Lease holder id we found and decided to take over (expired or dead), or null when free. */
  takeOverFrom: string | null;
  /** Replace the stored definition and restart the watermark (`--force`). */
  redefine: boolean;
}

export interface BroadcastStore {
  get(id: string): Promise<BroadcastDoc | null>;
  /**
   * Creates the broadcast or takes its lease by compare-and-set on the holder found earlier.
   * Returns the document after the update, or null when someone else got the lease first.
   */
  begin(input: BeginInput): Promise<BroadcastDoc | null>;
  /** Extends the lease; false when it is no longer ours. */
  heartbeat(id: string, owner: string, expiresAt: Date): Promise<boolean>;
  /** Stores the audience size counted during the run (only while we hold the lease). */
  setAudience(id: string, owner: string, audienceCount: number): Promise<void>;
  /** Stores the low watermark (only while we hold the lease). */
  checkpoint(id: string, owner: string, lowWatermark: unknown): Promise<void>;
  /** Records the end of a run and releases the lease. */
  finish(id: string, owner: string, end: { status: BroadcastStatus; finishedAt: Date; counts: PipelineCounts; lowWatermark?: unknown; error?: string }): Promise<void>;
  /** Latest broadcasts first. */
  list(limit: number): Promise<BroadcastDoc[]>;
}
