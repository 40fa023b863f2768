// Live data: the registry subscribes to an asset's destination topics on a real
// mosquitto and streams what arrives as server-sent events; a viewer whose token is
// revoked is cut off within a second.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Registry, Mosquitto, readFixture, readSse, waitFor, sleep, BIN } from './lib/registry.mjs';

let reg, mq;
after(async () => {
  await reg?.cleanup();
  await mq?.cleanup();
});

test('live values of an asset arrive as server-sent events', async () => {
  mq = await new Mosquitto().start();
  reg = await new Registry({ args: ['--broker', mq.url] }).start();
  const NS = '/api/v1/namespaces/plant-l';
  await reg.req('PUT', NS, { properties: {} });
  await reg.req('PUT', `${NS}/secrets/plc-c01`, { data: { username: 'u', password: 'p' } });
  await reg.req('PUT', `${NS}/secrets/plant3-ca`, { value: 'x' });
  assert.equal((await reg.req('PUT', `${NS}/devices/plc-c01`, readFixture('device-opcua-userpass.json'))).status, 201);
  const asset = readFixture('asset-press.json');
  const r = await reg.req('PUT', `${NS}/assets/press`, asset);
  assert.equal(r.status, 201, r.text);
  const topic = r.body.properties.datasets[0].destinations?.[0]?.configuration?.topic ??
    r.body.properties.defaultDatasetsDestinations[0].configuration.topic;

  const ac = new AbortController();
  const res = await fetch(`${reg.url}${NS}/assets/press/live?access_token=${reg.token}`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const events = [];
  const done = readSse(res, events);
  await waitFor(() => events.some((e) => e.event === 'topics'), 'the topics event');
  const hello = events.find((e) => e.event === 'topics').data;
  assert.ok(hello.topics.some((t) => t.topic === topic && t.source.startsWith('dataset/')));
  // Publish until the registry's subscription is in place.
  await waitFor(() => {
    mq.publish(topic, JSON.stringify({ pressure: { Value: 42.5 } }));
    return events.some((e) => e.event === 'message');
  }, 'a live value');
  const msg = events.find((e) => e.event === 'message').data;
  assert.equal(msg.topic, topic);
  assert.equal(msg.payload.pressure.Value, 42.5);
  assert.ok(msg.receivedAt);
  ac.abort();
  await done;

  // A second viewer gets the last value at once.
  const ac2 = new AbortController();
  const res2 = await fetch(`${reg.url}${NS}/assets/press/live`, {
    headers: { authorization: `Bearer ${reg.token}` },
    signal: ac2.signal,
  });
  const ev2 = [];
  const done2 = readSse(res2, ev2);
  await waitFor(() => ev2.some((e) => e.event === 'message'), 'the replayed last value');
  ac2.abort();
  await done2;

  // A viewer whose token is revoked (offline, on the data directory) is cut off within 1 s.
  const tok = reg.tokenFor('viewer');
  const res3 = await fetch(`${reg.url}${NS}/assets/press/live?access_token=${tok}`);
  assert.equal(res3.status, 200);
  const ev3 = [];
  let ended3 = 0;
  const done3 = readSse(res3, ev3).then(() => (ended3 = Date.now()));
  await waitFor(() => ev3.some((e) => e.event === 'topics'), 'the revoked viewer\'s topics event');
  execFileSync(BIN, ['token', 'revoke', '--data', reg.dataDir, /^fpt_([0-9a-f]+)_/.exec(tok)[1]]);
  const revokedAt = Date.now();
  await Promise.race([done3, sleep(5000)]);
  assert.ok(ended3 && ended3 - revokedAt <= 1000, `the live stream ended ${ended3 ? `after ${ended3 - revokedAt} ms` : 'not within 5 s'}`);
  assert.ok(ev3.some((e) => e.event === 'error' && e.data.code === 'Unauthorized'), JSON.stringify(ev3));

  assert.equal((await reg.req('GET', `${NS}/assets/ghost/live`)).status, 404);
  // Without the token the stream is refused.
  assert.equal((await fetch(`${reg.url}${NS}/assets/press/live`)).status, 401);
  await reg.stopClean();
});

test('without --broker the live endpoint says how to enable it', async () => {
  const plain = await new Registry().start();
  try {
    await plain.req('PUT', '/api/v1/namespaces/plant-x', { properties: {} });
    const r = await plain.req('GET', '/api/v1/namespaces/plant-x/assets/any/live');
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /--broker/);
  } finally {
    await plain.cleanup();
  }
});
