import { MongoClient } from 'mongodb';
const c = new MongoClient('mongodb://127.0.0.1:35145/');
await c.connect();
const db = c.db('smoke');
await db.dropDatabase();
await db.collection('users').insertMany([
  { _id: 1, name: 'A', email: 'a@example.test', active: true, schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', template: 'digest' } },
  { _id: 2, name: 'B', email: 'b@example.test', active: true, schedule: { cron: '30 2 * * *', timezone: 'Europe/Berlin', template: 'digest' } },
  { _id: 3, name: 'C', email: 'c@example.test', active: true, schedule: { cron: '30 2 * * *', timezone: 'Mars/Base' } },
  { _id: 4, name: 'D', email: 'd@example.test', active: true },
]);
await c.close();
