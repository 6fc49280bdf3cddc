import { MongoClient } from 'mongodb';
const c = new MongoClient('mongodb://127.0.0.1:35145/');
await c.connect();
const users = c.db('smoke').collection('users');
try { console.log(await users.createIndexes([{ key: { 'mailcron.nextAt': 1, _id: 1 }, name: 'mailcron_nextAt' }])); } catch (e) { console.log('ERR1', e.message); }
try { console.log(await users.createIndexes([{ key: { 'mailcron.scheduleHash': 1, schedule: 1 }, name: 'mailcron_plan' }])); } catch (e) { console.log('ERR2', e.message); }
try { console.log(await users.createIndexes([{ key: { 'mailcron.nextAt': 1, _id: 1 }, name: 'mailcron_nextAt' }, { key: { 'mailcron.scheduleHash': 1, schedule: 1 }, name: 'mailcron_plan' }])); } catch (e) { console.log('ERR3', e.message); }
await c.close();
