// One device that hangs never delays another (ARCHITECTURE.md, contract 6): a real
// registry, a real mosquitto, the HTTP and SSE connector processes, eight devices on a
// "hung host" (tests/peers/hung/server.mjs: accepts TCP connections, never answers) and
// one healthy device (tests/peers/http/server.mjs). The connector runs with its default
// worker count, which is smaller than the number of hung devices, so a runtime that
// lets a blocked poll hold a worker starves the healthy device. The healthy device's
// messages must keep at least 90 % of their rate over 10 s, and each hung device must show
// Unavailable with its timeout in status once that timeout has passed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Mosquitto, waitFor, sleep } from './lib/registry.mjs';
import { Connector, MqttSub } from './lib/connector.mjs';
import { DeviceServer } from '../peers/http/server.mjs';
import { HungServer } from '../peers/hung/server.mjs';

const NS = '/api/v1/namespaces/plant';
// More hung devices than the runtime's default of 4 workers.
const HUNG = 8;
const WINDOW_MS = 10000;
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup() {
  const reg = await new Registry().start();
  cleanups.push(() => reg.cleanup());
  const mqtt = await new Mosquitto().start();
  cleanups.push(() => mqtt.cleanup());
  const dev = await new DeviceServer().start();
  cleanups.push(() => dev.stop());
  const hung = await new HungServer().start();
  cleanups.push(() => hung.stop());
  assert.equal((await reg.req('PUT', NS, { properties: {} })).status, 201);
  return { reg, mqtt, dev, hung };
}

async function put(reg, path, body) {
  const r = await reg.req('PUT', `${NS}/${path}`, body);
  assert.equal(r.status, 201, `PUT ${path}: ${r.text}`);
}

function device(type, address, config) {
  const ep = { endpointType: type, address, authentication: { method: 'Anonymous' } };
  if (config) ep.additionalConfiguration = JSON.stringify(config);
  return { properties: { endpoints: { inbound: { main: ep } } } };
}

async function startConnector(name, reg, mqtt) {
  const conn = new Connector({ name, registry: reg, broker: mqtt });
  cleanups.push(() => conn.cleanup());
  return await conn.start();
}

// The health entries of one hung device: its endpoint on the device, and the asset's
// entry (a dataset or an event group) picked by `entry`.
async function healthOf(reg, name, entry) {
  const d = (await reg.req('GET', `${NS}/devices/${name}`)).body;
  const a = (await reg.req('GET', `${NS}/assets/${name}`)).body;
  return {
    endpoint: d?.properties?.status?.endpoints?.inbound?.main?.health,
    asset: entry(a?.properties?.status ?? {})?.health,
  };
}

// Whether a health entry says Unavailable because of a timeout of timeoutMs: the message
// says "timed out" (or "timeout") and gives the time it waited, which curl reports as it
// measured it ("after 10001 milliseconds"), so any figure from timeoutMs to half as much
// again counts. URLs are left out so that a port number cannot pass for it.
function timedOut(h, timeoutMs) {
  if (h?.status !== 'Unavailable') return false;
  const text = (h.message ?? '').replace(/https?:\/\/\S+/g, '');
  const waited = (text.match(/\d+/g) ?? []).map(Number);
  return /time(d)? ?out/i.test(text) && waited.some((ms) => ms >= timeoutMs && ms < timeoutMs * 1.5);
}

// Resolves once every hung device shows Unavailable with a timeout of timeoutMs in its
// message, on the endpoint and on the asset's entry; fails at deadline with what it saw.
async function waitHungStatus(reg, names, entry, timeoutMs, deadline) {
  await waitFor(
    async () => {
      for (const n of names) {
        const h = await healthOf(reg, n, entry);
        if (!timedOut(h.endpoint, timeoutMs) || !timedOut(h.asset, timeoutMs)) throw new Error(`${n}: ${JSON.stringify(h)}`);
      }
      return true;
    },
    `every hung device Unavailable with its ${timeoutMs} ms timeout in status`,
    Math.max(deadline - Date.now(), 1000),
  );
}

// Messages of `topic` that arrived within WINDOW_MS of the first one; waits for the window
// to close (and a moment for delivery). Zero when none came before firstBy.
async function countInWindow(sub, topic, firstBy) {
  const first = await waitFor(() => sub.messages.find((m) => m.topic === topic), `a first message on ${topic}`, Math.max(firstBy - Date.now(), 1000)).catch(
    () => null,
  );
  if (!first) return { count: 0, start: Date.now() };
  const wait = first.at + WINDOW_MS + 300 - Date.now();
  if (wait > 0) await sleep(wait);
  const count = sub.messages.filter((m) => m.topic === topic && m.at >= first.at && m.at < first.at + WINDOW_MS).length;
  return { count, start: first.at };
}

test('HTTP: 8 hung devices do not slow a healthy one polled every 200 ms', async (t) => {
  const { reg, mqtt, dev, hung } = await setup();
  const TIMEOUT = 10000;
  dev.setJson('/api/line', { speed: 1.5 });
  const asset = (name, path) => ({
    properties: {
      deviceRef: { deviceName: name, endpointName: 'main' },
      datasets: [
        {
          name: 'telemetry',
          dataSource: path,
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [{ name: 'speed', dataSource: '$.speed' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: `plant/${name}/telemetry`, qos: 'Qos1' } }],
        },
      ],
    },
  });
  const names = Array.from({ length: HUNG }, (_, i) => `hung-${i}`);
  await put(reg, 'devices/healthy', device('Microsoft.Http', `${dev.url}/`));
  await put(reg, 'assets/healthy', asset('healthy', '/api/line'));
  await Promise.all(
    names.map(async (n) => {
      await put(reg, `devices/${n}`, device('Microsoft.Http', `${hung.url}/`, { timeoutMilliseconds: TIMEOUT }));
      await put(reg, `assets/${n}`, asset(n, `/api/${n}`));
    }),
  );
  const sub = await new MqttSub(mqtt.port, 'plant/#').start();
  cleanups.push(() => sub.stop());
  const conn = await startConnector('http', reg, mqtt);
  const started = Date.now();

  // The hung status only appears after the 10 s timeout: wait for it alongside the window.
  const status = waitHungStatus(reg, names, (s) => s.datasets?.[0], TIMEOUT, started + 25000).then(
    () => null,
    (e) => e,
  );
  const { count } = await countInWindow(sub, 'plant/healthy/telemetry', started + 15000);
  const statusErr = await status;
  const expected = WINDOW_MS / 200;
  t.diagnostic(`healthy: ${count} of ${expected} messages in ${WINDOW_MS / 1000} s; hung status: ${statusErr ? statusErr.message : 'ok'}`);
  assert.ok(
    count >= expected * 0.9,
    `the healthy device published ${count} messages in ${WINDOW_MS / 1000} s next to ${HUNG} hung devices ` +
      `(expected ${expected}, at least ${expected * 0.9}); hung connections accepted ${hung.accepted}, open ${hung.open}` +
      `\nconnector log: ${conn.log.slice(-2000)}`,
  );
  if (statusErr) throw statusErr;
  assert.ok(hung.accepted >= HUNG, `every hung device was polled (${hung.accepted} connections)`);
  assert.equal(sub.messages.filter((m) => m.topic.startsWith('plant/hung-')).length, 0, 'nothing published for hung devices');

  // The runtime owns the polling: the hung datasets' ticks were skipped, not queued, and
  // /metrics counts them per endpoint; the healthy one skipped none worth speaking of; the
  // pool grew past its 4 workers for the blocked polls.
  const metrics = await (await fetch(`${conn.url}/metrics`)).text();
  const metric = (name, ep) => {
    const re = new RegExp(`^${name}\\{connector="http",endpoint="plant/${ep}/main"\\} (\\d+)$`, 'm');
    const m = metrics.match(re);
    assert.ok(m, `${name} for ${ep} in /metrics:\n${metrics}`);
    return Number(m[1]);
  };
  assert.ok(metric('fieldplane_connector_samples_skipped_total', 'hung-0') >= 20, 'a hung dataset skips its ticks');
  assert.ok(metric('fieldplane_connector_samples_total', 'healthy') >= 45, 'the healthy dataset was sampled');
  assert.ok(metric('fieldplane_connector_samples_skipped_total', 'healthy') <= 5, 'the healthy dataset skipped (almost) nothing');
  const peak = Number(metrics.match(/^fieldplane_connector_worker_threads_peak\{connector="http"\} (\d+)$/m)?.[1]);
  assert.ok(peak >= HUNG + 1, `the pool grew for the blocked polls (peak ${peak} threads)`);

  // A poll in flight holds a clean stop for up to its timeout: let the hung host go first,
  // so the polls end at once and the stop stays quick.
  await hung.stop();
  await conn.stopClean();
});

test('SSE: 8 hung streams do not slow a healthy stream', async (t) => {
  const { reg, mqtt, dev, hung } = await setup();
  const TIMEOUT = 3000;
  const ch = dev.sse('/ticks');
  const group = (name, path, topic) => ({
    properties: {
      deviceRef: { deviceName: name, endpointName: 'main' },
      eventGroups: [
        {
          name: 'ticks',
          dataSource: path,
          eventGroupConfiguration: '{"retryMilliseconds": 500, "maxBackoffMilliseconds": 2000}',
          events: [{ name: 'tick', dataSource: 'tick', destinations: [{ target: 'Mqtt', configuration: { topic, qos: 'Qos1' } }] }],
        },
      ],
    },
  });
  const names = Array.from({ length: HUNG }, (_, i) => `hung-sse-${i}`);
  await put(reg, 'devices/healthy-sse', device('Microsoft.SSEHttp', dev.url));
  await put(reg, 'assets/healthy-sse', group('healthy-sse', '/ticks', 'plant/sse/healthy'));
  await Promise.all(
    names.map(async (n) => {
      await put(reg, `devices/${n}`, device('Microsoft.SSEHttp', hung.url, { connectTimeoutMilliseconds: TIMEOUT }));
      await put(reg, `assets/${n}`, group(n, `/events/${n}`, `plant/sse/${n}`));
    }),
  );
  const sub = await new MqttSub(mqtt.port, 'plant/#').start();
  cleanups.push(() => sub.stop());

  // The healthy device emits an event every 100 ms from now on; the times it pushed are
  // the expected rate (timers under load drift, so the count is compared with them).
  const pushed = [];
  let n = 0;
  const ticker = setInterval(() => {
    n++;
    ch.push({ id: String(n), event: 'tick', data: { n } });
    pushed.push(Date.now());
  }, 100);
  cleanups.push(async () => clearInterval(ticker));

  const conn = await startConnector('sse', reg, mqtt);
  const started = Date.now();
  const status = waitHungStatus(reg, names, (s) => s.eventGroups?.[0], TIMEOUT, started + 15000).then(
    () => null,
    (e) => e,
  );
  const { count, start } = await countInWindow(sub, 'plant/sse/healthy', started + 10000);
  clearInterval(ticker);
  const statusErr = await status;
  const expected = pushed.filter((at) => at >= start && at < start + WINDOW_MS).length || WINDOW_MS / 100;
  t.diagnostic(`healthy: ${count} of ${expected} events in ${WINDOW_MS / 1000} s; hung status: ${statusErr ? statusErr.message : 'ok'}`);
  assert.ok(
    count >= expected * 0.9,
    `the healthy stream delivered ${count} events in ${WINDOW_MS / 1000} s next to ${HUNG} hung streams ` +
      `(pushed ${expected}); hung connections accepted ${hung.accepted}, open ${hung.open}` +
      `\nconnector log: ${conn.log.slice(-2000)}`,
  );
  if (statusErr) throw statusErr;
  assert.ok(hung.accepted >= HUNG, `every hung stream was opened (${hung.accepted} connections)`);
  // A stream's task stops on request even while it waits on the hung host.
  await conn.stopClean();
});
