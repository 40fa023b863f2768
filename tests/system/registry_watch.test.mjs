// The watch stream: list, then watch from the list's revision; events in
// revision order as they commit; resume after a disconnect and after a
// registry restart without missing anything; 410 for compacted revisions and for
// revisions newer than the registry's (a database restored from a backup).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, readFixture, waitFor } from './lib/registry.mjs';

const NS = '/api/v1/namespaces/plant-w';
const regs = [];
after(async () => {
  for (const r of regs) await r.cleanup();
});

// Open a watch; collects parsed events into w.events until w.close().
function openWatch(reg, query) {
  const ac = new AbortController();
  const w = { events: [], ac, done: null, status: null };
  w.done = (async () => {
    const res = await fetch(`${reg.url}/api/v1/watch?${query}`, {
      headers: { authorization: `Bearer ${reg.token}` },
      signal: ac.signal,
    });
    w.status = res.status;
    if (res.status !== 200) {
      w.body = await res.json();
      return;
    }
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) w.events.push(JSON.parse(line));
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
  })();
  w.close = async () => {
    ac.abort();
    await w.done.catch(() => {});
  };
  return w;
}

function device(i) {
  return {
    tags: { i: String(i) },
    properties: { endpoints: { inbound: { ep: { endpointType: 'Microsoft.Http', address: `http://10.0.0.${i % 250}/` } } } },
  };
}

test('events arrive in revision order and resume across a restart', async () => {
  const reg = await new Registry({ args: ['--keepalive', '1'] }).start();
  regs.push(reg);
  assert.equal((await reg.req('PUT', NS, { properties: {} })).status, 201);
  for (let i = 0; i < 5; i++) await reg.req('PUT', `${NS}/devices/dev-${i}`, device(i));
  const list = await reg.req('GET', `${NS}/devices`);
  assert.equal(list.body.value.length, 5);
  const rev = list.body.revision;

  const w = openWatch(reg, `since=${rev}&namespace=plant-w&kinds=Device,Asset`);
  await waitFor(() => w.events.length >= 1, 'the first bookmark');
  assert.equal(w.events[0].type, 'BOOKMARK');
  await reg.req('PUT', `${NS}/devices/dev-5`, device(5));
  await reg.req('PATCH', `${NS}/devices/dev-1`, { tags: { i: 'changed' } });
  await reg.req('PUT', `${NS}/secrets/not-watched`, { value: 'x' });
  await reg.req('DELETE', `${NS}/devices/dev-2`);
  await waitFor(() => w.events.filter((e) => e.type !== 'BOOKMARK').length >= 3, 'three events');
  const evs = w.events.filter((e) => e.type !== 'BOOKMARK');
  assert.deepEqual(evs.map((e) => [e.type, e.name]), [['ADDED', 'dev-5'], ['MODIFIED', 'dev-1'], ['DELETED', 'dev-2']]);
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i].revision > evs[i - 1].revision);
  assert.equal(evs[1].object.tags.i, 'changed');
  assert.equal(evs[2].object.name, 'dev-2', 'a delete carries the last state');
  // Keep-alive bookmarks keep an idle stream open.
  const nb = w.events.filter((e) => e.type === 'BOOKMARK').length;
  await waitFor(() => w.events.filter((e) => e.type === 'BOOKMARK').length > nb, 'a keep-alive bookmark', 5000);
  await w.close();
  const last = evs[evs.length - 1].revision;

  // Changes while nobody watches, then a restart of the registry.
  await reg.req('PUT', `${NS}/devices/dev-6`, device(6));
  await reg.stopClean();
  await reg.start();
  await reg.req('PUT', `${NS}/devices/dev-7`, device(7));
  const w2 = openWatch(reg, `since=${last}&namespace=plant-w&kinds=Device`);
  await waitFor(() => w2.events.filter((e) => e.type !== 'BOOKMARK').length >= 2, 'resumed events');
  const evs2 = w2.events.filter((e) => e.type !== 'BOOKMARK');
  assert.deepEqual(evs2.map((e) => e.name), ['dev-6', 'dev-7']);
  // And live events keep coming on the resumed stream.
  await reg.req('PUT', `${NS}/devices/dev-8`, device(8));
  await waitFor(() => w2.events.some((e) => e.name === 'dev-8'), 'a live event after resume');
  await w2.close();
  const m = await reg.req('GET', '/metrics');
  assert.match(m.text, /fieldplane_watch_clients \d+/);
});

test('a watch that is far behind gets 410 with the current revision', async () => {
  const reg = await new Registry({ args: ['--history', '10'] }).start();
  regs.push(reg);
  await reg.req('PUT', NS, { properties: {} });
  // Compaction runs every 1024 revisions: make enough changes to pass one.
  const work = [];
  for (let i = 0; i < 1100; i++) {
    work.push(reg.req('PUT', `${NS}/devices/dev-${i % 50}`, device(i)));
    if (work.length === 8) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
  const w = openWatch(reg, 'since=1');
  await w.done;
  assert.equal(w.status, 410);
  assert.equal(w.body.error.code, 'Gone');
  assert.ok(w.body.error.currentRevision >= 1100);
  // Relisting and watching from the list's revision works.
  const list = await reg.req('GET', `${NS}/devices?top=1000`);
  assert.equal(list.body.value.length, 50);
  const w2 = openWatch(reg, `since=${list.body.revision}`);
  await reg.req('PUT', `${NS}/devices/late-1`, device(1));
  await waitFor(() => w2.events.some((e) => e.name === 'late-1'), 'event after relist');
  await w2.close();
  const bad = await reg.req('GET', '/api/v1/watch?since=abc');
  assert.equal(bad.status, 400);
  const badKind = await reg.req('GET', '/api/v1/watch?kinds=Gadget');
  assert.equal(badKind.status, 400);
});

test('a watch from a revision newer than the registry\'s gets 410 (restored backup)', async () => {
  const reg = await new Registry().start();
  regs.push(reg);
  await reg.req('PUT', NS, { properties: {} });
  await reg.req('PUT', `${NS}/devices/kept`, device(1));
  // The documented backup: the database file of a stopped registry.
  await reg.stopClean();
  const db = join(reg.dataDir, 'registry.db');
  copyFileSync(db, `${db}.bak`);
  await reg.start();
  for (let i = 0; i < 5; i++) await reg.req('PUT', `${NS}/devices/lost-${i}`, device(i));
  const newer = (await reg.req('GET', `${NS}/devices`)).body.revision;
  await reg.stopClean();
  // Restore: the file back as registry.db, without the newer WAL.
  copyFileSync(`${db}.bak`, db);
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
  await reg.start();
  const current = (await reg.req('GET', '/healthz')).body.revision;
  assert.ok(current < newer, `restored revision ${current} is older than ${newer}`);
  // A changed device after the restore must not be skipped by a watcher at `newer`.
  await reg.req('PUT', `${NS}/devices/after-restore`, device(7));
  const w = openWatch(reg, `since=${newer}`);
  await waitFor(() => w.status !== null, 'the watch to answer');
  if (w.status === 200) await w.close(); // an open stream: the failure below
  await w.done;
  assert.equal(w.status, 410, JSON.stringify(w.body ?? w.events));
  assert.equal(w.body.error.code, 'Gone');
  assert.equal(w.body.error.currentRevision, current + 1);
  assert.match(w.body.error.message, new RegExp(`revision ${newer} is newer than the registry's revision ${current + 1}`));
  // The current revision itself is fine: nothing to skip.
  const w2 = openWatch(reg, `since=${current + 1}`);
  await waitFor(() => w2.events.length >= 1, 'the first bookmark');
  assert.equal(w2.status, 200);
  await w2.close();
});
