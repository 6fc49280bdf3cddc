// The low watermark: the highest stream position below which every task's outcome is recorded
// and final. A checkpoint stored from it never skips a user whose outcome is unknown, whatever
// order the concurrent sends finish in. Anything between the watermark and the point of a crash
// is made idempotent by the ledger.

export interface WatermarkEntry {
  position: unknown;
  state: 'open' | 'final' | 'stuck';
}

export class Watermark {
  private entries: WatermarkEntry[] = [];
  private head = 0;
  private frozen = false;
  /** The current low watermark (undefined until the first position is final). */
  value: unknown = undefined;
  /** Whether `value` changed since the last `take()`. */
  private changed = false;

  /** Registers the next position in stream order. */
  enter(position: unknown): WatermarkEntry {
    const e: WatermarkEntry = { position, state: 'open' };
    // A non-final outcome holds the watermark for the rest of the run; no need to track more.
    if (!this.frozen) this.entries.push(e);
    return e;
  }

  /** Marks an entry's outcome as stored: final (sent, permanent failure, skipped, done) or not. */
  settle(e: WatermarkEntry, final: boolean): void {
    if (e.state !== 'open') return;
    e.state = final ? 'final' : 'stuck';
    if (this.frozen) return;
    while (this.head < this.entries.length) {
      const h = this.entries[this.head]!;
      if (h.state === 'open') break;
      if (h.state === 'stuck') {
        this.frozen = true;
        this.entries = [];
        this.head = 0;
        return;
      }
      this.value = h.position;
      this.changed = true;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Returns the watermark if it moved since the last call. */
  take(): { moved: boolean; value: unknown } {
    const moved = this.changed;
    this.changed = false;
    return { moved, value: this.value };
  }

  /** Positions registered and not yet passed (for tests and memory checks). */
  get tracked(): number {
    return this.entries.length - this.head;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }
}
