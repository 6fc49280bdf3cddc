import { MongoClient } from 'mongodb';
const uri = 'mongodb://127.0.0.1:35145/';
const specs = [{ key: { a: 1, _id: 1 }, name: 'ia' }, { key: { b: 1, c: 1 }, name: 'ib' }];
for (const [label, pre] of [['none exist', []], ['one exists', [specs[0]]], ['both exist', specs]]) {
  const c = new MongoClient(uri); await c.connect();
  const col = c.db('probe').collection('c_' + label.replace(' ', '_'));
  await col.drop().catch(() => {});
  await col.insertOne({ x: 1 });
  for (const p of pre) await col.createIndexes([p]);
  try { console.log(label, await col.createIndexes(specs)); } catch (e) { console.log(label, 'ERR', e.message); }
  await c.close();
}
// concurrent creation of the same two indexes from two clients
const c1 = new MongoClient(uri), c2 = new MongoClient(uri); await c1.connect(); await c2.connect();
const k = c1.db('probe').collection('conc'); await k.drop().catch(() => {}); await k.insertOne({ x: 1 });
const r = await Promise.allSettled([k.createIndexes(specs), c2.db('probe').collection('conc').createIndexes(specs)]);
console.log('concurrent', r.map((x) => x.status + ' ' + (x.reason?.message ?? JSON.stringify(x.value))));
await c1.close(); await c2.close();
