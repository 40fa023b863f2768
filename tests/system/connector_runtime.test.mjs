// The connector runtime end to end, through the example connector
// (examples/connector-counter): a real registry, a real mosquitto on a loopback port
// chosen at run time, and the connector process. The counter's messages carry a number
// that grows by one per tick, so loss, order and duplicates can be checked exactly.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Mosquitto, waitFor, sleep } from './lib/registry.mjs';
import { Connector, MqttSub, mqttPub, metric } from './lib/connector.mjs';

let reg;
let mq;

before(async () => {
  reg = await new Registry().start();
  mq = await new Mosquitto().start();
});

afterEach(async () => {
  // Later tests start connectors of their own: leave them only their own assets.
  while (namespaces.length) await reg.req('DELETE', `/api/v1/namespaces/${namespaces.pop()}?cascade=true`);
});

after(async () => {
  await reg?.cleanup();
  await mq?.cleanup();
});

async function put(path, body) {
  const r = await reg.req('PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${r.text}`);
  return r.body;
}

const namespaces = [];

async function setup(ns) {
  namespaces.push(ns);
  await put(`/api/v1/namespaces/${ns}`, { properties: {} });
  await put(`/api/v1/namespaces/${ns}/devices/sim`, {
    properties: {
      externalDeviceId: 'sim-ext',
      endpoints: { inbound: { main: { endpointType: 'Example.Counter', address: 'sim://local' } } },
    },
  });
}

function asset({ topic, interval = 100, points, extra = {} }) {
  return {
    properties: {
      deviceRef: { deviceName: 'sim', endpointName: 'main' },
      datasets: [
        {
          name: 'ticks',
          datasetConfiguration: JSON.stringify({ intervalMilliseconds: interval }),
          dataPoints: points ?? [
            { name: 'n', dataSource: 'counter' },
            { name: 'b', dataSource: 'boot' },
          ],
          destinations: [{ target: 'Mqtt', configuration: { topic, qos: 'Qos1', retain: 'Keep', ttl: 60 } }],
        },
      ],
      ...extra,
    },
  };
}

async function status(ns, name) {
  const r = await reg.req('GET', `/api/v1/namespaces/${ns}/assets/${name}/status`);
  return r.body ?? {};
}

test('messages arrive with topic, payload, QoS, retain, expiry and CloudEvents properties; schema and health in status', async () => {
  await setup('rt-a');
  const sub = await new MqttSub(mq.port, 'rt-a/#').start();
  const conn = await new Connector({ name: 'counter', registry: reg, broker: mq }).start();
  try {
    await put('/api/v1/namespaces/rt-a/assets/oven', asset({ topic: 'rt-a/oven/ticks' }));
    const m = await sub.waitFor((x) => x.json?.n >= 3, 'three ticks');
    assert.equal(m.topic, 'rt-a/oven/ticks');
    assert.equal(m.qos, 1);
    assert.equal(m.retain, true);
    assert.equal(m.contentType, 'application/json');
    assert.ok(m.expiry > 0 && m.expiry <= 60, `expiry ${m.expiry}`);
    assert.deepEqual(Object.keys(m.json), ['n', 'b']);
    assert.equal(m.props.specversion, '1.0');
    assert.equal(m.props.type, 'DataSet');
    assert.equal(m.props.source, 'ms-aio:sim-ext');
    assert.equal(m.props.subject, 'oven/ticks');
    assert.equal(m.props.datacontenttype, 'application/json');
    assert.ok(!Number.isNaN(Date.parse(m.props.time)), `time ${m.props.time}`);
    const ids = new Set(sub.messages.map((x) => x.props.id));
    assert.equal(ids.size, sub.messages.length, 'every message has its own id');

    // The schema is inferred, registered once, referenced in status and in messages.
    const st = await waitFor(async () => {
      const s = await status('rt-a', 'oven');
      return s.datasets?.[0]?.messageSchemaReference && s.datasets[0].health?.status === 'Available' && s;
    }, 'schema reference and health in status');
    const ref = st.datasets[0].messageSchemaReference;
    assert.equal(ref.schemaRegistryNamespace, 'rt-a');
    const ver = await reg.req('GET', `/api/v1/namespaces/rt-a/schemas/${ref.schemaName}/versions/${ref.schemaVersion}`);
    assert.equal(ver.status, 200, ver.text);
    const schema = JSON.parse(ver.body.properties.schemaContent);
    assert.equal(schema.properties.n.type, 'integer');
    assert.equal(schema.properties.b.type, 'string');
    const withSchema = await sub.waitFor((x) => x.props.dataschema, 'a message with dataschema');
    assert.equal(withSchema.props.dataschema, `aio-sr://rt-a/${ref.schemaName}:${ref.schemaVersion}`);
    await sleep(1500);
    const versions = await reg.req('GET', `/api/v1/namespaces/rt-a/schemas/${ref.schemaName}/versions`);
    assert.equal(versions.body.value.length, 1, 'no new schema version for the same content');

    // A late subscriber gets the retained message.
    const late = await new MqttSub(mq.port, 'rt-a/oven/ticks').start();
    await late.waitFor((x) => x.retain, 'the retained message');
    await late.stop();

    // Device endpoint health, metrics and healthz.
    const dev = await reg.req('GET', '/api/v1/namespaces/rt-a/devices/sim/status');
    assert.equal(dev.body.endpoints.inbound.main.health.status, 'Available', dev.text);
    const text = await conn.metrics();
    assert.ok(metric(text, 'fieldplane_connector_messages_published_total') > 0, text);
    assert.equal(metric(text, 'fieldplane_connector_broker_connected'), 1);
    const hz = await (await fetch(`${conn.url}/healthz`)).json();
    assert.equal(hz.status, 'ok');
  } finally {
    await sub.stop();
    await conn.stopClean();
  }
});

test('configuration errors are written to status by name; the rest keeps flowing; a change applies without restart', async () => {
  await setup('rt-b');
  const sub = await new MqttSub(mq.port, 'rt-b/#').start();
  const conn = await new Connector({ name: 'counter', registry: reg, broker: mq }).start();
  try {
    const doc = asset({
      topic: 'rt-b/press/ticks',
      points: [
        { name: 'n', dataSource: 'counter' },
        { name: 'bogus', dataSource: 'nothing-here' },
      ],
    });
    doc.properties.datasets.push({
      name: 'broken',
      datasetConfiguration: JSON.stringify({ intervalMilliseconds: 'fast' }),
      dataPoints: [{ name: 'n', dataSource: 'counter' }],
      destinations: [{ target: 'Mqtt', configuration: { topic: 'rt-b/press/broken' } }],
    });
    doc.properties.datasets.push({
      name: 'slow',
      datasetConfiguration: JSON.stringify({ intervalMilliseconds: 100 }),
      dataPoints: [{ name: 'n', dataSource: 'counter' }],
      destinations: [{ target: 'Mqtt', configuration: { topic: 'rt-b/press/slow' } }],
    });
    await put('/api/v1/namespaces/rt-b/assets/press', doc);
    await sub.waitFor((x) => x.topic === 'rt-b/press/ticks' && x.json.n >= 2, 'the good dataset');
    const st = await waitFor(async () => {
      const s = await status('rt-b', 'press');
      const broken = s.datasets?.find((d) => d.name === 'broken');
      const ticks = s.datasets?.find((d) => d.name === 'ticks');
      return broken?.error && ticks?.error && s;
    }, 'errors in status');
    const broken = st.datasets.find((d) => d.name === 'broken');
    assert.match(broken.error.message, /intervalMilliseconds/);
    const ticks = st.datasets.find((d) => d.name === 'ticks');
    assert.ok(JSON.stringify(ticks.error).includes('bogus'), JSON.stringify(ticks.error));
    assert.ok(!sub.messages.some((x) => x.topic === 'rt-b/press/broken'));

    // Change the topic and interval of "ticks" only: applied in place; "slow" keeps counting.
    const slowBefore = Math.max(...sub.messages.filter((x) => x.topic === 'rt-b/press/slow').map((x) => x.json.n));
    const pid = conn.proc.pid;
    const cur = (await reg.req('GET', '/api/v1/namespaces/rt-b/assets/press')).body;
    cur.properties.datasets[0].destinations[0].configuration.topic = 'rt-b/press/ticks2';
    cur.properties.datasets[1].datasetConfiguration = JSON.stringify({ intervalMilliseconds: 100 });
    await put('/api/v1/namespaces/rt-b/assets/press', cur);
    const moved = await sub.waitFor((x) => x.topic === 'rt-b/press/ticks2', 'messages on the new topic');
    assert.ok(moved.json.n > 1, 'the counter state was kept across the update');
    await sub.waitFor((x) => x.topic === 'rt-b/press/broken', 'the fixed dataset starts');
    // The fixed dataset is sampled at once, so "slow" may not have ticked yet: wait for it.
    await sub.waitFor((x) => x.topic === 'rt-b/press/slow' && x.json.n > slowBefore, 'slow ticks on');
    const slowAfter = sub.messages.filter((x) => x.topic === 'rt-b/press/slow').map((x) => x.json.n);
    assert.ok(slowAfter[slowAfter.length - 1] > slowBefore, 'the untouched dataset kept counting');
    assert.ok(slowAfter.every((n, i) => i === 0 || n === slowAfter[i - 1] + 1), 'and was not restarted');
    assert.equal(conn.proc.pid, pid);
    assert.equal(conn.proc.exitCode, null, 'no restart');
    await waitFor(async () => {
      const s = await status('rt-b', 'press');
      return !s.datasets.find((d) => d.name === 'broken').error;
    }, 'the error to clear');

    // Deleting the asset stops its messages.
    await reg.req('DELETE', '/api/v1/namespaces/rt-b/assets/press');
    await sleep(500);
    const count = sub.messages.length;
    await sleep(700);
    assert.ok(sub.messages.length <= count + 1, 'no messages after delete');
  } finally {
    await sub.stop();
    await conn.stopClean();
  }
});

test('a management action is answered over MQTT 5 request/response', async () => {
  await setup('rt-c');
  const conn = await new Connector({ name: 'counter', registry: reg, broker: mq }).start();
  const replies = await new MqttSub(mq.port, 'rt-c/replies/#').start();
  try {
    const doc = asset({ topic: 'rt-c/mixer/ticks' });
    doc.properties.managementGroups = [
      {
        name: 'control',
        defaultTopic: 'rt-c/mixer/control',
        actions: [
          { name: 'reset', targetUri: 'ticks', actionType: 'Call' },
          { name: 'reset-missing', targetUri: 'nothing', actionType: 'Call', topic: 'rt-c/mixer/missing' },
          { name: 'shared-a', targetUri: 'ticks', actionType: 'Call', topic: 'rt-c/mixer/shared' },
          { name: 'shared-b', targetUri: 'nothing', actionType: 'Call', topic: 'rt-c/mixer/shared' },
        ],
      },
    ];
    await put('/api/v1/namespaces/rt-c/assets/mixer', doc);
    const sub = await new MqttSub(mq.port, 'rt-c/mixer/ticks').start();
    await sub.waitFor((x) => x.json.n >= 5, 'ticks');
    await sleep(300);
    mqttPub(mq.port, 'rt-c/mixer/control', '{}', ['-D', 'publish', 'response-topic', 'rt-c/replies/1', '-D', 'publish', 'correlation-data', 'abc123']);
    const ok = await replies.waitFor((x) => x.topic === 'rt-c/replies/1', 'the reply');
    assert.equal(ok.correlation, 'abc123');
    assert.equal(ok.props.status, '200');
    assert.ok(ok.json.previous >= 5, ok.payload);
    mqttPub(mq.port, 'rt-c/mixer/missing', '{}', ['-D', 'publish', 'response-topic', 'rt-c/replies/2', '-D', 'publish', 'correlation-data', 'x2']);
    const bad = await replies.waitFor((x) => x.topic === 'rt-c/replies/2', 'the error reply');
    assert.equal(bad.props.status, '404');
    assert.equal(bad.json.error.code, 'NotFound');
    // Two actions on one topic: the request names its action in the user property `action`.
    mqttPub(mq.port, 'rt-c/mixer/shared', '{}', ['-D', 'publish', 'response-topic', 'rt-c/replies/3', '-D', 'publish', 'correlation-data', 'x3']);
    const amb = await replies.waitFor((x) => x.topic === 'rt-c/replies/3', 'the ambiguous reply');
    assert.equal(amb.props.status, '400');
    assert.equal(amb.json.error.code, 'AmbiguousAction');
    mqttPub(mq.port, 'rt-c/mixer/shared', '{}', ['-D', 'publish', 'response-topic', 'rt-c/replies/4', '-D', 'publish', 'correlation-data', 'x4',
      '-D', 'publish', 'user-property', 'action', 'shared-a']);
    const named = await replies.waitFor((x) => x.topic === 'rt-c/replies/4', 'the named reply');
    assert.equal(named.props.status, '200', named.payload);
    assert.equal(named.correlation, 'x4');
    // An empty request is a request too.
    mqttPub(mq.port, 'rt-c/mixer/control', '', ['-D', 'publish', 'response-topic', 'rt-c/replies/5', '-D', 'publish', 'correlation-data', 'x5']);
    const empty = await replies.waitFor((x) => x.topic === 'rt-c/replies/5', 'the reply to an empty request');
    assert.equal(empty.props.status, '200', empty.payload);
    await sub.stop();
  } finally {
    await replies.stop();
    await conn.stopClean();
  }
});

// Numbers of one boot, in arrival order.
function seqOf(sub, topic, boot) {
  return sub.messages.filter((x) => x.topic === topic && x.json?.b === boot).map((x) => x.json.n);
}

// Every number 1..max arrived, in order; a repeat is only a re-send of a contiguous run.
function assertComplete(seq, what) {
  const max = Math.max(...seq);
  const seen = new Set(seq);
  for (let i = 1; i <= max; i++) assert.ok(seen.has(i), `${what}: ${i} of ${max} is missing`);
  let hi = 0;
  for (const n of seq) {
    if (n > hi) {
      assert.equal(n, hi + 1, `${what}: ${n} arrived before ${hi + 1}`);
      hi = n;
    }
  }
  return max;
}

test('the broker stopped for 30 s during a steady flow: every message arrives, in order', async () => {
  await setup('rt-d');
  const sub = await new MqttSub(mq.port, 'rt-d/#', { id: 'rt-d-sub' }).start();
  const conn = await new Connector({ name: 'counter', registry: reg, broker: mq }).start();
  try {
    await put('/api/v1/namespaces/rt-d/assets/line', asset({ topic: 'rt-d/line/ticks', interval: 50 }));
    const first = await sub.waitFor((x) => x.topic === 'rt-d/line/ticks' && x.json.n >= 10, 'a steady flow');
    const boot = first.json.b;
    await mq.stop();
    await sleep(30000);
    const queued = metric(await conn.metrics(), 'fieldplane_connector_messages_queued');
    assert.ok(queued > 300, `messages are queued while the broker is down (${queued})`);
    await mq.start();
    await waitFor(async () => metric(await conn.metrics(), 'fieldplane_connector_messages_queued') < 5, 'the queue to drain', 60000);
    await sleep(1000);
    const max = assertComplete(seqOf(sub, 'rt-d/line/ticks', boot), 'after the outage');
    assert.ok(max > 600, `the flow went on (${max} messages)`);
  } finally {
    await sub.stop();
    await conn.stopClean();
  }
});

test('the connector killed with SIGKILL while the broker is down: its queue is delivered after restart', async () => {
  await setup('rt-e');
  const sub = await new MqttSub(mq.port, 'rt-e/#', { id: 'rt-e-sub' }).start();
  const dataDir = (await import('./lib/registry.mjs')).tempDir('fp-conn-kill-');
  let conn = await new Connector({ name: 'counter', registry: reg, broker: mq, dataDir }).start();
  try {
    await put('/api/v1/namespaces/rt-e/assets/kiln', asset({ topic: 'rt-e/kiln/ticks', interval: 20 }));
    const first = await sub.waitFor((x) => x.json?.n >= 5, 'the flow');
    const boot = first.json.b;
    await mq.stop();
    await sleep(2000);
    const queued = metric(await conn.metrics(), 'fieldplane_connector_messages_queued');
    assert.ok(queued > 20, `queued while down: ${queued}`);
    await conn.stop('SIGKILL');
    await mq.start();
    conn = await new Connector({ name: 'counter', registry: reg, broker: mq, dataDir, port: conn.port }).start();
    // The restarted process sends the old queue first; wait until it drained.
    await waitFor(async () => metric(await conn.metrics(), 'fieldplane_connector_messages_queued') < 5, 'the old queue to drain', 30000);
    await sleep(1000);
    const max = Math.max(0, ...seqOf(sub, 'rt-e/kiln/ticks', boot));
    assert.ok(max >= first.json.n + 20, `the messages queued before the kill arrived (up to ${max}, queued ${queued})`);
    assertComplete(seqOf(sub, 'rt-e/kiln/ticks', boot), 'the killed process');
  } finally {
    await sub.stop();
    await conn.stopClean();
  }
});

test('Storage and BrokerStateStore destinations; discovered assets reported once and onboarded', async () => {
  const { readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const { BIN } = await import('./lib/registry.mjs');
  await setup('rt-f');
  const dev = (await reg.req('GET', '/api/v1/namespaces/rt-f/devices/sim')).body;
  dev.properties.endpoints.inbound.main.additionalConfiguration = JSON.stringify({ discoverAssets: 2 });
  await put('/api/v1/namespaces/rt-f/devices/sim', dev);
  let conn = await new Connector({ name: 'counter', registry: reg, broker: mq }).start();
  try {
    const doc = asset({ topic: 'unused' });
    doc.properties.datasets[0].destinations = [
      { target: 'Storage', configuration: { path: 'line/ticks.jsonl' } },
      { target: 'BrokerStateStore', configuration: { key: 'kiln-state' } },
    ];
    await put('/api/v1/namespaces/rt-f/assets/kiln', doc);
    const file = join(conn.dataDir, 'data', 'storage', 'line', 'ticks.jsonl');
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 3, 'lines in the storage file');
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.every((l, i) => i === 0 || l.n === lines[i - 1].n + 1), 'one line per message, in order');
    const state = await new MqttSub(mq.port, 'fieldplane/state/rt-f/kiln-state').start();
    const m = await state.waitFor((x) => x.retain && x.json?.n > 0, 'the retained state');
    assert.equal(m.props.subject, 'kiln/ticks');
    await state.stop();

    // A Storage path that leaves the root is refused by name.
    doc.properties.datasets[0].destinations = [{ target: 'Storage', configuration: { path: '../escape.jsonl' } }];
    await put('/api/v1/namespaces/rt-f/assets/kiln', doc);
    await waitFor(async () => JSON.stringify((await status('rt-f', 'kiln')).datasets?.[0]?.error ?? '').includes('path'), 'the Storage path error');

    // Discovery: two assets, reported again after a restart without new versions.
    const list = async () => (await reg.req('GET', '/api/v1/namespaces/rt-f/discoveredAssets')).body.value;
    await waitFor(async () => (await list()).length === 2, 'two discovered assets');
    const before = (await list()).map((a) => [a.name, a.properties.version]);
    await conn.stopClean();
    conn = await new Connector({ name: 'counter', registry: reg, broker: mq, dataDir: conn.dataDir, port: conn.port }).start();
    await sleep(1500);
    assert.deepEqual((await list()).map((a) => [a.name, a.properties.version]), before, 'repeats change nothing');

    // Onboarding one turns it into a real asset that starts flowing.
    const sub = await new MqttSub(mq.port, 'fieldplane/data/rt-f/#').start();
    execFileSync(BIN, ['discovered', 'asset', 'onboard', 'sim-counter-1', '--namespace', 'rt-f', '--as', 'counter-one', '--server', reg.url], {
      env: { ...process.env, FIELDPLANE_TOKEN: reg.token },
    });
    const flow = await sub.waitFor((x) => x.topic === 'fieldplane/data/rt-f/counter-one/ticks', 'messages of the onboarded asset');
    assert.ok(flow.json.n >= 1);
    await sub.stop();
  } finally {
    await conn.stopClean();
  }
});

test('a full disk queue drops the oldest, counts them and shows QueueFull in health until it has room', async () => {
  await setup('rt-g');
  const sub = await new MqttSub(mq.port, 'rt-g/#', { id: 'rt-g-sub' }).start();
  const conn = await new Connector({ name: 'counter', registry: reg, broker: mq, args: ['--queue-max-kb', '32'] }).start();
  const health = async () => (await reg.req('GET', '/api/v1/namespaces/rt-g/devices/sim/status')).body?.endpoints?.inbound?.main?.health;
  try {
    await put('/api/v1/namespaces/rt-g/assets/mill', asset({ topic: 'rt-g/mill/ticks', interval: 20 }));
    const first = await sub.waitFor((x) => x.json?.n >= 5, 'the flow');
    const boot = first.json.b;
    await mq.stop();
    const full = await waitFor(async () => {
      const h = await health();
      return h?.reasonCode === 'QueueFull' && h;
    }, 'QueueFull in the endpoint health', 30000);
    assert.equal(full.status, 'Unavailable');
    assert.match(full.message, /dropped/);
    const dropped = metric(await conn.metrics(), 'fieldplane_connector_messages_dropped_total');
    assert.ok(dropped > 0, `dropped ${dropped}`);
    await mq.start();
    await waitFor(async () => metric(await conn.metrics(), 'fieldplane_connector_messages_queued') < 5, 'the queue to drain', 30000);
    // The oldest were dropped: after the outage the numbers jump forward, then run on.
    const seq = seqOf(sub, 'rt-g/mill/ticks', boot);
    const jump = seq.findIndex((n, i) => i > 0 && n > seq[i - 1] + 1);
    assert.ok(jump > 0, 'a gap where the oldest messages were dropped');
    assert.ok(seq.slice(jump).every((n, i, a) => i === 0 || n >= a[i - 1]), 'in order after it');
    await waitFor(async () => (await health())?.status === 'Available', 'health Available again', 30000);
  } finally {
    await sub.stop();
    await conn.stopClean();
  }
});

test('--registry-cafile is checked before anything starts', async () => {
  const { spawnSync } = await import('node:child_process');
  const { connectorBin } = await import('./lib/connector.mjs');
  const run = (...args) => spawnSync(connectorBin('counter'), ['--token', 't', ...args], { encoding: 'utf8', timeout: 10000 });
  const plain = run('--registry', 'http://127.0.0.1:1', '--registry-cafile', '/etc/hostname');
  assert.notEqual(plain.status, 0);
  assert.match(plain.stderr, /--registry-cafile needs an https:\/\/ registry, not http:\/\/127\.0\.0\.1:1/);
  const missing = run('--registry', 'https://127.0.0.1:1', '--registry-cafile', '/nonexistent/ca.pem');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /--registry-cafile \/nonexistent\/ca\.pem: No such file or directory/);
  const help = spawnSync(connectorBin('counter'), ['--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /--registry-cafile F/);
});

// The export the web UI's forms and the docs check are built from (docs/connector-sdk.md):
// every row, with its default typed and its range, in the order of the table.
test('--help-config --json exports the configuration rows', async () => {
  const { spawnSync } = await import('node:child_process');
  const { connectorBin } = await import('./lib/connector.mjs');
  const run = (...args) => spawnSync(connectorBin('counter'), args, { encoding: 'utf8', timeout: 10000 });
  for (const args of [['--help-config', '--json'], ['--json', '--help-config']]) {
    const r = run(...args);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.connector, 'counter');
    assert.equal(doc.description, 'Example connector: simulated counters, one message per dataset tick');
    assert.deepEqual(doc.endpointTypes, ['Example.Counter']);
    assert.deepEqual(doc.keys.map((k) => `${k.scope} ${k.key}`), ['endpoint discoverAssets', 'dataset intervalMilliseconds', 'dataset step']);
    assert.deepEqual(doc.keys[1], {
      scope: 'dataset', key: 'intervalMilliseconds', type: 'integer', default: 1000, min: 10, max: 3600000,
      description: 'How often the dataset is sampled and published.',
    });
    assert.equal(doc.keys[0].default, 0);
  }
  const alone = run('--json');
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /--json goes with --help-config/);
  const text = run('--help-config');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^dataset +intervalMilliseconds +int +1000 +How often/m);
});
