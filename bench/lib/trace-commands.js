// Preload for a child process (NODE_OPTIONS=--import=<this file>, TRACE_OUT=<json file>): counts
// and times every MongoDB command the process sends, by command and collection, and writes the
// totals at exit. bench/schedule-scan.js uses it to count the queries one schedule run makes.
import { writeFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';

const started = new Map();
const totals = new Map();
const connect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (...args) {
  this.monitorCommands = true;
  this.on('commandStarted', (e) => {
    const c = e.command;
    const coll = c[e.commandName];
    const target = e.commandName === 'getMore' ? c.collection : typeof coll === 'string' ? coll : '';
    started.set(e.requestId, { at: performance.now(), key: `${e.commandName} ${target}`.trim(), statements: c.updates?.length ?? c.documents?.length ?? c.deletes?.length ?? 1 });
  });
  const done = (e) => {
    const s = started.get(e.requestId);
    if (!s) return;
    started.delete(e.requestId);
    const t = totals.get(s.key) ?? { commands: 0, statements: 0, ms: 0, maxMs: 0 };
    const ms = performance.now() - s.at;
    t.commands += 1;
    t.statements += s.statements;
    t.ms += ms;
    t.maxMs = Math.max(t.maxMs, ms);
    totals.set(s.key, t);
  };
  this.on('commandSucceeded', done);
  this.on('commandFailed', done);
  return connect.apply(this, args);
};

process.on('exit', () => {
  if (!process.env.TRACE_OUT) return;
  const out = Object.fromEntries([...totals].sort((a, b) => b[1].ms - a[1].ms).map(([k, t]) => [k, { ...t, ms: Math.round(t.ms), maxMs: Math.round(t.maxMs) }]));
  writeFileSync(process.env.TRACE_OUT, JSON.stringify(out, null, 1));
});
