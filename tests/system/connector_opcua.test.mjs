// The OPC UA connector end to end: a real registry, a real mosquitto, the node-opcua test peer
// (tests/peers/opcua) and fieldplane-connector-opcua. Assets created through the API become
// subscriptions whose data changes arrive as dataset messages; the checks cover value types,
// timestamps, CloudEvents properties, key frames, the registered schema, point errors, in-place
// asset changes, the peer and the broker restarted, and security with a username.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, Mosquitto, waitFor, sleep, freePort } from './lib/registry.mjs';
import { Connector, MqttSub, connectorBin } from './lib/connector.mjs';
import { startPeer, runTool } from '../peers/opcua/harness.mjs';

let BIN_OK = true;
try {
  connectorBin('opcua');
} catch {
  BIN_OK = false;
}
const skip = !BIN_OK && 'connector not built';

let reg;
let mq;
let peer;
let peerPort;
let peerPki;
let conn;
const NS = 'plant';
const API = `/api/v1/namespaces/${NS}`;

const PEER_ARGS = () => ['--port', String(peerPort), '--pki', peerPki, '--auto-accept', '--items', '4', '--items-push', '--items-interval', '100'];

before(async () => {
  if (!BIN_OK) return;
  reg = await new Registry().start();
  mq = await new Mosquitto().start();
  peerPort = await freePort();
  peerPki = mkdtempSync(join(tmpdir(), 'fp-uaconn-peer-'));
  peer = await startPeer(PEER_ARGS());
  await put(API, { properties: {} });
  conn = await new Connector({ name: 'opcua', registry: reg, broker: mq }).start();
});

after(async () => {
  await conn?.stop('SIGKILL');
  await peer?.stop();
  await reg?.cleanup();
  await mq?.cleanup();
  if (conn) rmSync(conn.dataDir, { recursive: true, force: true });
  if (peerPki) rmSync(peerPki, { recursive: true, force: true });
});

async function put(path, body) {
  const r = await reg.req('PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function get(path) {
  return (await reg.req('GET', path)).body ?? {};
}

function device(extra = {}, config = {}) {
  return {
    properties: {
      externalDeviceId: 'plc-ext',
      endpoints: {
        inbound: {
          opc: {
            endpointType: 'Microsoft.OpcUa',
            address: peer.url,
            additionalConfiguration: JSON.stringify({
              session: { reconnectPeriodMilliseconds: 200, reconnectExponentialBackOffMilliseconds: 1000 },
              ...config,
            }),
            ...extra,
          },
        },
      },
    },
  };
}

function dataset(name, topic, points, config = {}) {
  return {
    name,
    datasetConfiguration: JSON.stringify({ publishingInterval: 100, samplingInterval: 50, ...config }),
    dataPoints: points.map(([n, src, cfg]) => ({ name: n, dataSource: src, ...(cfg ? { dataPointConfiguration: JSON.stringify(cfg) } : {}) })),
    destinations: [{ target: 'Mqtt', configuration: { topic, qos: 'Qos1' } }],
  };
}

function asset(deviceName, datasets) {
  return { properties: { deviceRef: { deviceName, endpointName: 'opc' }, datasets } };
}

const endpointHealth = async (dev) => (await get(`${API}/devices/${dev}/status`)).endpoints?.inbound?.opc?.health;

// The server's CurrentSubscriptionCount (ServerDiagnosticsSummary), read with the tool.
async function serverSubscriptions() {
  const r = await runTool(['read', peer.url, 'i=2285']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return Number(r.stdout.trim());
}

test('every value type arrives with timestamps, CloudEvents properties, key frames and a schema', { skip }, async () => {
  await put(`${API}/devices/plc`, device());
  const sub = await new MqttSub(mq.port, `${NS}/line/#`).start();
  try {
    await put(`${API}/assets/line`, asset('plc', [
      dataset('values', `${NS}/line/values`, [
        ['double', 'ns=1;s=Scalar.Double'],
        ['int32', 'ns=1;s=Scalar.Int32'],
        ['bool', 'ns=1;s=Scalar.Boolean'],
        ['text', 'ns=1;s=Scalar.String'],
        ['when', 'ns=1;s=Scalar.DateTime'],
        ['bytes', 'ns=1;s=Scalar.ByteString'],
        ['doubles', 'ns=1;s=Array.Double'],
        ['ints', 'ns=1;s=Array.Int32'],
        ['temp', 'nsu=urn:fieldplane:test-peer;s=Plant.Area1.Line1.Machine1.Temperature'],
        ['counter', 'ns=1;s=Dynamic.Counter'],
        ['missing', 'ns=1;s=No.Such.Node'],
        ['garbled', 'ns=1;x=what'],
      ], { keyFrameCount: 3 }),
    ]));
    const first = await sub.waitFor((m) => m.json?.double, 'a message with every point');
    const v = first.json;
    assert.equal(v.double.Value, 3.14159);
    assert.equal(v.int32.Value, -123456);
    assert.equal(v.bool.Value, true);
    assert.equal(v.text.Value, 'hello fieldplane');
    assert.equal(v.when.Value, '2024-01-02T03:04:05.678Z');
    assert.equal(v.bytes.Value, '3q2+7w==');
    assert.deepEqual(v.doubles.Value, [1.25, -0.5, 1e100]);
    assert.deepEqual(v.ints.Value, [-2147483648, 0, 2147483647]);
    assert.equal(v.temp.Value, 21.5);
    assert.equal(typeof v.counter.Value, 'number');
    assert.ok(!('missing' in v) && !('garbled' in v));
    for (const k of Object.keys(v)) assert.ok(!Number.isNaN(Date.parse(v[k].SourceTimestamp)), `${k}: ${JSON.stringify(v[k])}`);
    assert.equal(first.props.specversion, '1.0');
    assert.equal(first.props.type, 'DataSet');
    assert.match(first.props.source, /^ms-aio:plc-ext/);
    assert.equal(first.props.subject, 'line/values');
    assert.ok(!Number.isNaN(Date.parse(first.props.time)));

    // Key frames: every third message holds every point, the others only what changed.
    await waitFor(() => sub.messages.filter((m) => m.topic === `${NS}/line/values`).length >= 10, 'ten messages');
    const msgs = sub.messages.filter((m) => m.topic === `${NS}/line/values`);
    const start = msgs.indexOf(first);
    const full = (m) => Object.keys(m.json).length === 10;
    for (let i = start; i < start + 9; i++) {
      assert.equal(full(msgs[i]), (i - start) % 3 === 0, `message ${i - start}: ${msgs[i].payload}`);
    }
    assert.ok(msgs.slice(start + 1, start + 9).some((m) => Object.keys(m.json).join() === 'counter'), 'deltas hold only the counter');
    const counters = msgs.slice(start).map((m) => m.json.counter.Value);
    assert.ok(counters.every((c, i) => i === 0 || c > counters[i - 1]), `counter grows: ${counters}`);

    // Status: the bad points by name, the dataset's schema and health.
    const st = await waitFor(async () => {
      const s = await get(`${API}/assets/line/status`);
      const d = s.datasets?.find((x) => x.name === 'values');
      return d?.messageSchemaReference && d?.health?.status === 'Available' && JSON.stringify(d).includes('BadNodeIdInvalid') && d;
    }, 'schema reference, health and point errors in status');
    const text = JSON.stringify(st);
    assert.match(text, /missing/);
    assert.match(text, /BadNodeIdUnknown/);
    assert.match(text, /garbled/);
    assert.match(st.health.message, /10 of 12/);
    const ver = await reg.req('GET', `${API}/schemas/${st.messageSchemaReference.schemaName}/versions/${st.messageSchemaReference.schemaVersion}`);
    assert.equal(ver.status, 200, ver.text);
    assert.equal((await endpointHealth('plc')).status, 'Available');
  } finally {
    await sub.stop();
  }
});
