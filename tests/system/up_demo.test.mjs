// `fieldplane simulate` (the demo device) and `fieldplane up --demo`: the simulator's
// HTTP and SSE answers; up starts it and the built connectors, registers the demo
// namespace, device and assets, and data reaches the broker on demo/oven/telemetry.
// The last part needs the HTTP and SSE connectors built in this tree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tempDir, waitFor } from './lib/registry.mjs';

const BUILD_DIR = process.env.FP_BUILD_DIR ?? join(BIN, '../..');
const dirs = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pidsOf(pattern) {
  const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

// Start a process and collect its output; stop() sends SIGTERM and resolves the exit.
function run(args) {
  const p = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const h = { proc: p, out: '' };
  p.stdout.on('data', (d) => (h.out += d));
  p.stderr.on('data', (d) => (h.out += d));
  h.exited = new Promise((r) => p.once('exit', (code, sig) => r({ code, sig })));
  h.stop = async () => {
    if (p.exitCode === null && !p.signalCode) p.kill('SIGTERM');
    return h.exited;
  };
  return h;
}

// Read raw SSE blocks (split on a blank line) until n blocks arrived.
async function sseBlocks(url, n, headers = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const dec = new TextDecoder();
  const blocks = [];
  let buf = '';
  try {
    for await (const chunk of res.body) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        blocks.push(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
      if (blocks.length >= n) break;
    }
  } finally {
    ctl.abort();
  }
  return blocks;
}

// An SSE block as {id, event, data (lines joined by "\n"), retry}.
function parseBlock(b) {
  const ev = { data: [] };
  for (const line of b.split('\n')) {
    const m = line.match(/^([a-z]+): ?(.*)$/i);
    if (!m) continue;
    if (m[1] === 'data') ev.data.push(m[2]);
    else ev[m[1]] = m[2];
  }
  ev.data = ev.data.join('\n');
  return ev;
}

test('simulate serves changing JSON and an event stream that resumes from Last-Event-ID', async () => {
  const dir = tempDir('fp-sim-');
  dirs.push(dir);
  const portFile = join(dir, 'sim.url');
  const sim = run(['simulate', '--listen', '127.0.0.1:0', '--port-file', portFile]);
  try {
    const url = await waitFor(() => existsSync(portFile) && readFileSync(portFile, 'utf8').trim(), 'the port file');
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(() => sim.out.includes(`simulator listening on ${url}`), 'the listening line');

    const a = await (await fetch(`${url}/api/oven`)).json();
    const b = await (await fetch(`${url}/api/oven`)).json();
    for (const r of [a, b]) {
      assert.equal(typeof r.temperature, 'number');
      assert.equal(typeof r.pressure, 'number');
      assert.deepEqual(r.status, { running: true, mode: 'auto' });
      assert.equal(r.counters.length, 2);
      assert.ok(!Number.isNaN(Date.parse(r.time)), r.time);
    }
    assert.notDeepEqual(a, b, 'every call gives new values');
    const press = await (await fetch(`${url}/api/press`)).json();
    assert.equal(typeof press.force, 'number');
    assert.equal(typeof press.hydraulics.pressureBar, 'number');
    assert.equal((await fetch(`${url}/nothing`)).status, 404);
    assert.equal((await fetch(`${url}/api/oven`, { method: 'POST', body: '{}' })).status, 405);

    const blocks = (await sseBlocks(`${url}/events`, 4)).map(parseBlock);
    assert.equal(blocks[0].retry, '2000', 'retry comes first');
    const events = blocks.slice(1);
    assert.deepEqual(events.map((e) => e.id), ['1', '2', '3']);
    for (const e of events) {
      assert.ok(['alarm', 'cycle'].includes(e.event), e.event);
      assert.equal(typeof JSON.parse(e.data), 'object');
    }
    const alarm = events.find((e) => e.event === 'alarm');
    assert.ok(alarm.data.includes('\n'), 'alarm data spans several data: lines');
    assert.ok(JSON.parse(alarm.data).code);

    const resumed = (await sseBlocks(`${url}/events`, 2, { 'Last-Event-ID': '41' })).map(parseBlock);
    assert.equal(resumed[1].id, '42', 'numbering continues after Last-Event-ID');
  } finally {
    const { code } = await sim.stop();
    assert.equal(code, 0, sim.out);
  }
});

test('up --help documents the connectors and the demo', () => {
  const r = spawnSync(BIN, ['up', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const flag of ['--demo', '--no-connectors', '--connectors-dir']) assert.ok(r.stdout.includes(flag), flag);
  assert.match(r.stdout, /mosquitto_sub .*demo\/#/);
  const help = spawnSync(BIN, ['help'], { encoding: 'utf8' });
  assert.match(help.stdout, /simulate\s+serve a demo device/);
});

test('up --demo registers the demo device and its data reaches the broker', async (t) => {
  const data = tempDir('fp-demo-');
  dirs.push(data);
  const args = ['up', '--data', data, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0', '--demo'];
  let up = run(args);
  let sub = null;
  try {
    await waitFor(() => up.out.includes("-t 'demo/#' -v"), 'the demo banner', 30000);
    const m = up.out.match(/mosquitto_sub -h 127\.0\.0\.1 -p (\d+) -t 'demo\/#' -v/);
    assert.ok(m, up.out);
    const mqttPort = m[1];
    assert.doesNotMatch(up.out, /registration FAILED/);
    const url = readFileSync(join(data, 'registry.url'), 'utf8').trim();
    const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
    const get = async (path) => {
      const res = await fetch(`${url}/api/v1/namespaces/demo${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, `GET ${path}`);
      return res.json();
    };

    await t.test('the registry has the demo resources', async () => {
      const simPort = readFileSync(join(data, 'simulator.port'), 'utf8').trim();
      const dev = await get('/devices/demo-sim');
      const inbound = dev.properties.endpoints.inbound;
      assert.equal(inbound.rest.endpointType, 'Microsoft.Http');
      assert.equal(inbound.rest.address, `http://127.0.0.1:${simPort}`);
      assert.equal(inbound.events.endpointType, 'Microsoft.SSEHttp');
      assert.equal(inbound.events.address, `http://127.0.0.1:${simPort}`);
      // The simulator behind that address answers.
      // (it is a child of up of its own and may still be starting on a loaded machine)
      const reading = await waitFor(
        () => fetch(`http://127.0.0.1:${simPort}/api/oven`).then((r) => r.json()),
        'the simulator to answer',
        30000,
      );
      assert.equal(typeof reading.temperature, 'number');

      const oven = await get('/assets/oven');
      assert.deepEqual(oven.properties.deviceRef, { deviceName: 'demo-sim', endpointName: 'rest' });
      const ds = oven.properties.datasets[0];
      assert.equal(ds.name, 'telemetry');
      assert.equal(ds.dataSource, '/api/oven');
      assert.deepEqual(JSON.parse(ds.datasetConfiguration), { samplingIntervalInMilliseconds: 1000 });
      assert.deepEqual(
        ds.dataPoints.map((p) => [p.name, p.dataSource]),
        [
          ['temperature', '$.temperature'],
          ['pressure', '/pressure'],
          ['running', '$.status.running'],
        ],
      );
      assert.deepEqual(ds.destinations, [{ target: 'Mqtt', configuration: { topic: 'demo/oven/telemetry', qos: 'Qos1' } }]);

      const line = await get('/assets/line');
      assert.deepEqual(line.properties.deviceRef, { deviceName: 'demo-sim', endpointName: 'events' });
      const eg = line.properties.eventGroups[0];
      assert.equal(eg.name, 'alarms');
      assert.equal(eg.dataSource, '/events');
      assert.deepEqual(eg.events.map((e) => e.name), ['alarm', 'cycle']);
      assert.equal(eg.defaultDestinations[0].configuration.topic, 'demo/line/events');
    });

    await t.test('a message arrives on demo/oven/telemetry', async () => {
      const built = ['http', 'sse'].map((n) => join(BUILD_DIR, 'connectors', n, `fieldplane-connector-${n}`));
      for (const exe of built) assert.ok(existsSync(exe), `${exe} is not built: the demo needs the connectors`);
      // up lists each connector's /metrics (its port is chosen at start: DATA/connectors/NAME/ops.url).
      const m = /Connector http +(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(up.out);
      assert.ok(m, `up lists the HTTP connector's /metrics:\n${up.out}`);
      assert.equal(readFileSync(join(data, 'connectors', 'http', 'ops.url'), 'utf8').trim(), m[1]);
      assert.match(await (await fetch(`${m[1]}/metrics`)).text(), /^fieldplane_connector_/m);
      const tok = join(data, 'connectors', 'http.token');
      assert.equal(statSync(tok).mode & 0o777, 0o600);
      // Both topics; -C 2 ends after the first message of each kind we wait for.
      const msgs = [];
      sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', mqttPort, '-t', 'demo/#', '-v', '-q', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      sub.stdout.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          msgs.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      const oven = await waitFor(() => msgs.find((l) => l.startsWith('demo/oven/telemetry ')), 'a message on demo/oven/telemetry', 30000);
      const payload = JSON.parse(oven.slice('demo/oven/telemetry '.length));
      const text = JSON.stringify(payload);
      for (const k of ['temperature', 'pressure', 'running']) assert.ok(text.includes(`"${k}"`), `${k} in ${text}`);
      await waitFor(() => msgs.find((l) => l.startsWith('demo/line/events ')), 'a message on demo/line/events', 30000);
    });

    // A restart keeps the tokens and leaves the demo resources as they are.
    const before = await get('/assets/oven');
    const tokBefore = existsSync(join(data, 'connectors', 'http.token')) ? readFileSync(join(data, 'connectors', 'http.token'), 'utf8') : null;
    const { code } = await up.stop();
    assert.equal(code, 0, up.out);
    up = run(args);
    await waitFor(() => up.out.includes("-t 'demo/#' -v"), 'the demo banner again', 30000);
    const url2 = readFileSync(join(data, 'registry.url'), 'utf8').trim();
    const res = await fetch(`${url2}/api/v1/namespaces/demo/assets/oven`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await res.json()).properties.version, before.properties.version);
    if (tokBefore !== null) assert.equal(readFileSync(join(data, 'connectors', 'http.token'), 'utf8'), tokBefore);
  } finally {
    if (sub) sub.kill('SIGTERM');
    const { code } = await up.stop();
    assert.equal(code, 0, up.out);
  }
  assert.deepEqual(pidsOf(`simulate --listen 127.0.0.1:\\d+ --port-file ${data}`), [], 'no simulator left running');
  assert.deepEqual(pidsOf(`--data ${data}/connectors/`), [], 'no connector left running');
});
