// The human summary of a schedule run: "next due" is shown when the run looked it up, and left
// out when only a scan of every user could have told (a server without a usable index).
import { describe, expect, it } from 'vitest';
import { Chalk } from 'chalk';
import { formatRun } from '../../../src/cli/schedule-output.js';
import type { Io } from '../../../src/cli/io.js';
import type { ScheduleRunRecord } from '../../../src/core/schedule/types.js';

const io = { color: new Chalk({ level: 0 }) } as unknown as Io;
const at = new Date('2025-03-10T08:05:00Z');
const record = (more: Partial<ScheduleRunRecord>): ScheduleRunRecord => ({
  _id: 'r',
  kind: 'schedule',
  owner: 'h:1:x',
  now: at,
  startedAt: at,
  finishedAt: at,
  dryRun: false,
  planned: 0,
  replanned: 0,
  invalid: 0,
  dueUsers: 2,
  deferred: 0,
  advanced: 2,
  counts: { sent: 2, failed: 0, skipped: 0, missed: 0, uncertain: 0, uncertainResent: 0, alreadyDone: 0, retried: 0, retryable: 0, seen: 2 },
  problems: [],
  reads: { planning: 0, due: 2, replan: 0 },
  ...more,
});

describe('formatRun', () => {
  it('shows next due when known, "-" when nothing is planned, nothing when not looked up', () => {
    expect(formatRun(record({ nextDueAt: new Date('2025-03-11T08:00:00Z'), dueAccess: 'index' }), io)).toMatch(/2 due users, 0 planned, next due 2025-03-11T08:00:00\.000Z\n$/);
    expect(formatRun(record({ nextDueAt: null }), io)).toMatch(/, next due -\n$/);
    const scan = formatRun(record({ dueAccess: 'scan' }), io);
    expect(scan).toMatch(/2 due users, 0 planned\n$/);
    expect(scan).not.toMatch(/next due/);
  });
});
