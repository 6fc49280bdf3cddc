import { MongoClient } from 'mongodb';
const c = new MongoClient('mongodb://127.0.0.1:35145/');
await c.connect();
const db = c.db('scale');
await db.dropDatabase();
const users = db.collection('users');
let t = Date.now();
const NOW = new Date('2025-03-10T08:05:00Z');
for (let from = 1; from <= 50000; from += 5000) {
  await users.insertMany(Array.from({ length: 5000 }, (_, k) => { const i = from + k; const b = { _id: i, name: 'U' + i, email: `u${i}@x.test`, active: true };
    if (i <= 100) return { ...b, schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' }, mailcron: { nextAt: new Date('2025-03-10T08:00:00Z'), scheduleHash: 'h1' } };
    if (i <= 30000) return { ...b, schedule: { cron: '0 18 * * *', timezone: 'UTC' }, mailcron: { nextAt: new Date('2025-03-10T18:00:00Z'), scheduleHash: 'h2' } };
    return b; }), { ordered: false });
}
console.log('seed', Date.now() - t); t = Date.now();
await users.createIndex({ 'mailcron.nextAt': 1, _id: 1 }, { name: 'mailcron_nextAt' });
await users.createIndex({ 'mailcron.scheduleHash': 1, schedule: 1 }, { name: 'mailcron_plan' });
console.log('index', Date.now() - t); t = Date.now();
console.log((await users.find({ 'mailcron.nextAt': { $lte: NOW } }).sort({ 'mailcron.nextAt': 1, _id: 1 }).limit(100).toArray()).length, 'due', Date.now() - t); t = Date.now();
console.log((await users.find({ 'mailcron.scheduleHash': null, schedule: { $ne: null } }).sort({ _id: 1 }).toArray()).length, 'plan', Date.now() - t); t = Date.now();
console.log(await users.countDocuments({ 'mailcron.nextAt': { $lte: NOW } }), 'count', Date.now() - t); t = Date.now();
console.log(await users.findOne({ 'mailcron.nextAt': { $gt: NOW } }, { sort: { 'mailcron.nextAt': 1, _id: 1 } }), 'nextDue', Date.now() - t); t = Date.now();
await c.close();
