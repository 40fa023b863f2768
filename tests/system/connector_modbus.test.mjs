// The Modbus connector end to end: a real registry, a real mosquitto, the connector process
// and a Modbus server nobody here wrote (pymodbus, tests/peers/modbus/). Values of every
// type in every byte and word order are written into the server and must arrive exactly in
// the dataset's MQTT messages; a refused address is that point's error while the others go
// on; bad configuration names the point; the server killed and started again is reconnected
// and health follows; writes and reads as management actions change the server's registers
// and answer over MQTT 5 request/response; a unit id scan reports the units that answer.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, Mosquitto, freePort, waitFor, tempDir } from './lib/registry.mjs';
import { Connector, MqttSub, mqttPub, mqttRequest, metric } from './lib/connector.mjs';
import { ModbusPeer } from '../peers/modbus/peer.mjs';
import { HungServer } from '../peers/hung/server.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let reg, mq, conn;
before(async () => {
  reg = await new Registry().start();
  cleanups.push(() => reg.cleanup());
  mq = await new Mosquitto().start();
  cleanups.push(() => mq.cleanup());
  conn = await new Connector({ name: 'modbus', registry: reg, broker: mq }).start();
  cleanups.push(() => conn.cleanup());
});

async function put(path, body) {
  const r = await reg.req('PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${r.text}`);
}

async function peer(opts) {
  const p = await new ModbusPeer(opts).start();
  cleanups.push(() => p.kill());
  return p;
}

async function namespace(ns) {
  await put(`/api/v1/namespaces/${ns}`, { properties: {} });
}

function device(port, config = {}) {
  return {
    properties: {
      endpoints: {
        inbound: {
          main: {
            endpointType: 'Fieldplane.Modbus',
            address: `modbus-tcp://127.0.0.1:${port}`,
            authentication: { method: 'Anonymous' },
            additionalConfiguration: JSON.stringify(config),
          },
        },
      },
    },
  };
}

const explain = (what) => `${what}\nconnector log: ${conn.log.slice(-3000)}`;

// ---- register encodings, written here independently of the connector's codec ----
const REGS = { int16: 1, uint16: 1, int32: 2, uint32: 2, int64: 4, uint64: 4, float32: 2, float64: 4 };
const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
const VALUES = {
  int16: -12345,
  uint16: 54321,
  int32: -123456789,
  uint32: 3123456789,
  int64: -1234567890123456789n,
  uint64: 12345678901234567890n,
  float32: 3.14159,
  float64: -2.718281828459045,
};

// The registers that carry value as type in order, as the wire has them.
function registers(type, value, order) {
  const b = Buffer.alloc(2 * REGS[type]);
  ({
    int16: () => b.writeInt16BE(value),
    uint16: () => b.writeUInt16BE(value),
    int32: () => b.writeInt32BE(value),
    uint32: () => b.writeUInt32BE(value),
    int64: () => b.writeBigInt64BE(value),
    uint64: () => b.writeBigUInt64BE(value),
    float32: () => b.writeFloatBE(value),
    float64: () => b.writeDoubleBE(value),
  })[type]();
  let words = [];
  for (let i = 0; i < b.length; i += 2) words.push([b[i], b[i + 1]]);
  if (order === 'CDAB' || order === 'DCBA') words.reverse();
  if (order === 'BADC' || order === 'DCBA') words = words.map(([h, l]) => [l, h]);
  return words.map(([h, l]) => (h << 8) | l);
}

const statusOf = async (path) => (await reg.req('GET', path)).body?.properties?.status ?? {};

test('values of every type and order arrive exactly; faults are per point; bad configuration names the point', async () => {
  const ns = 'mb-a';
  await namespace(ns);
  const port = await freePort();
  const srv = await peer({ port });

  const points = [];
  let addr = 0;
  for (const order of ORDERS) {
    for (const type of Object.keys(REGS)) {
      const name = `${type}_${order}`;
      await srv.set('hr', addr, registers(type, VALUES[type], order));
      points.push({ name, dataSource: `hr:${addr}`, dataPointConfiguration: JSON.stringify({ type, byteOrder: order }) });
      addr += REGS[type];
    }
  }
  assert.equal(addr, 80);
  await srv.set('hr', 90, [1, 0b1000]);
  await srv.set('hr', 100, [...Buffer.from('Fieldplane')].reduce((a, c, i) => (i % 2 ? (a[a.length - 1] |= c, a) : [...a, c << 8]), []));
  await srv.set('hr', 110, [1, 2]);
  await srv.set('hr', 120, [4242]);
  await srv.set('ir', 10, [615]);
  await srv.set('co', 7, [1]);
  await srv.set('di', 3, [1]);
  points.push(
    { name: 'flag', dataSource: 'hr:90', dataPointConfiguration: '{"type": "bool"}' },
    { name: 'bit3', dataSource: 'hr:91.3' },
    { name: 'bit2', dataSource: 'hr:91', dataPointConfiguration: '{"type": "bit", "bit": 2}' },
    { name: 'name', dataSource: 'hr:100', dataPointConfiguration: '{"type": "string", "length": 5}' },
    { name: 'raw32', dataSource: 'hr:110', dataPointConfiguration: '{"type": "uint32", "includeRaw": true}' },
    { name: 'ref', dataSource: 'holding:40121' },
    { name: 'temp', dataSource: 'ir:10', dataPointConfiguration: '{"type": "int16", "scale": 0.1, "offset": -40}' },
    { name: 'coil7', dataSource: 'coil:7' },
    { name: 'di3', dataSource: 'di:3' },
  );
  await put(`/api/v1/namespaces/${ns}/devices/plc`, device(port, { timeoutMilliseconds: 500 }));
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  await put(`/api/v1/namespaces/${ns}/assets/line`, {
    properties: {
      deviceRef: { deviceName: 'plc', endpointName: 'main' },
      datasets: [
        {
          name: 'values',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: points,
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/values`, qos: 'Qos1' } }],
        },
        {
          name: 'faults',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [
            { name: 'ok995', dataSource: 'hr:995' },
            { name: 'ok998', dataSource: 'hr:998', dataPointConfiguration: '{"type": "float32"}' },
            { name: 'past', dataSource: 'hr:999', dataPointConfiguration: '{"type": "float32"}' },
            { name: 'badEnd', dataSource: 'hr:65535', dataPointConfiguration: '{"type": "float32"}' },
            { name: 'oddOrder', dataSource: 'hr:0', dataPointConfiguration: '{"type": "float32", "byteOrder": "ACBD"}' },
            { name: 'badSource', dataSource: 'holding:30001' },
          ],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/faults`, qos: 'Qos1' } }],
        },
        {
          name: 'unit300',
          datasetConfiguration: '{"unitId": 300}',
          dataPoints: [{ name: 'x', dataSource: 'hr:0' }],
        },
      ],
    },
  });

  const m = await sub.waitFor((x) => x.topic === `${ns}/values`, explain('a message of the values dataset'));
  const j = m.json;
  assert.ok(j, m.payload);
  for (const order of ORDERS) {
    for (const type of ['int16', 'uint16', 'int32', 'uint32']) assert.equal(j[`${type}_${order}`], VALUES[type], `${type}_${order}`);
    // 64-bit integers beyond 2^53: compared as the text of the message.
    assert.match(m.payload, new RegExp(`"int64_${order}":${VALUES.int64}[,}]`));
    assert.match(m.payload, new RegExp(`"uint64_${order}":${VALUES.uint64}[,}]`));
    assert.equal(Math.fround(j[`float32_${order}`]), Math.fround(VALUES.float32), `float32_${order}`);
    assert.equal(j[`float32_${order}`], 3.14159, 'float32 in its shortest form');
    assert.equal(j[`float64_${order}`], VALUES.float64, `float64_${order}`);
  }
  assert.equal(j.flag, true);
  assert.equal(j.bit3, true);
  assert.equal(j.bit2, false);
  assert.equal(j.name, 'Fieldplane');
  assert.deepEqual(j.raw32, { Value: 65538, Raw: [1, 2] });
  assert.equal(j.ref, 4242);
  assert.equal(j.temp, 21.5);
  assert.equal(j.coil7, true);
  assert.equal(j.di3, true);
  assert.equal(Object.keys(j).length, points.length);

  // A value changed in the server shows in a later message.
  await srv.set('hr', 0, registers('int16', 777, 'ABCD'));
  await sub.waitFor((x) => x.topic === `${ns}/values` && x.json?.int16_ABCD === 777, explain('the changed value'));

  // 41 points in 5 requests: holding 0..79 and 90..120, input, coils, discrete inputs.
  await waitFor(async () => {
    const s = await statusOf(`/api/v1/namespaces/${ns}/assets/line`);
    const h = s.datasets?.find((d) => d.name === 'values')?.health;
    return h?.status === 'Available' && h.message === `${points.length} of ${points.length} data points in 5 requests` ? h : null;
  }, explain('the values dataset Available with its request count'));

  // Faults: the refused address is its point's error by name; the rest of the dataset goes on.
  const f = await sub.waitFor((x) => x.topic === `${ns}/faults`, explain('a message of the faults dataset'));
  assert.deepEqual(Object.keys(f.json).sort(), ['ok995', 'ok998']);
  const details = await waitFor(async () => {
    const s = await statusOf(`/api/v1/namespaces/${ns}/assets/line`);
    const d = s.datasets?.find((x) => x.name === 'faults')?.error?.details ?? [];
    return d.some((x) => x.target === 'past') ? d : null;
  }, explain('the faults in status'));
  const by = Object.fromEntries(details.map((d) => [d.target, d]));
  assert.equal(by.past.code, 'IllegalDataAddress', JSON.stringify(by.past));
  assert.match(by.past.message, /hr:999: unit 1 answered exception 2 \(IllegalDataAddress\)/);
  assert.equal(by.badEnd.code, 'BadConfiguration');
  assert.match(by.badEnd.message, /data point "badEnd": hr:65535 float32 needs 2 registers, only 1 left/);
  assert.match(by.oddOrder.message, /data point "oddOrder": order "ACBD" is not a byte order/);
  assert.match(by.badSource.message, /data point "badSource": holding reference "30001"/);
  assert.equal(by.ok995, undefined);

  // A unit id of 300 is a configuration error of its dataset; 0 one of its endpoint.
  await waitFor(async () => {
    const s = await statusOf(`/api/v1/namespaces/${ns}/assets/line`);
    return /unitId = 300 is out of range/.test(JSON.stringify(s.datasets?.find((x) => x.name === 'unit300') ?? {}));
  }, explain('the unit id 300 in status'));
  await put(`/api/v1/namespaces/${ns}/devices/zero`, device(port, { unitId: 0 }));
  await waitFor(async () => /unitId = 0 is out of range/.test(JSON.stringify(await statusOf(`/api/v1/namespaces/${ns}/devices/zero`))),
    explain('the unit id 0 in status'));
});

test('a server killed and started again: the endpoint reconnects and health follows', async () => {
  const ns = 'mb-b';
  await namespace(ns);
  const port = await freePort();
  let srv = await peer({ port });
  await srv.set('hr', 5, [11]);
  await put(`/api/v1/namespaces/${ns}/devices/plc`, device(port, { timeoutMilliseconds: 300, retries: 0 }));
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  await put(`/api/v1/namespaces/${ns}/assets/tank`, {
    properties: {
      deviceRef: { deviceName: 'plc', endpointName: 'main' },
      datasets: [
        {
          name: 'level',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 100}',
          dataPoints: [{ name: 'level', dataSource: 'hr:5' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/level`, qos: 'Qos1' } }],
        },
      ],
    },
  });
  await sub.waitFor((x) => x.topic === `${ns}/level` && x.json?.level === 11, explain('the first value'));
  const health = async () => (await statusOf(`/api/v1/namespaces/${ns}/devices/plc`)).endpoints?.inbound?.main?.health;
  await waitFor(async () => (await health())?.status === 'Available', explain('the endpoint Available'));

  await srv.kill();
  const down = await waitFor(async () => {
    const h = await health();
    return h?.status === 'Unavailable' ? h : null;
  }, explain('the endpoint Unavailable after the server was killed'));
  assert.match(down.reasonCode, /Unreachable|Timeout/);
  const dsDown = await waitFor(async () => {
    const h = (await statusOf(`/api/v1/namespaces/${ns}/assets/tank`)).datasets?.[0]?.health;
    return h?.status === 'Unavailable' ? h : null;
  }, explain('the dataset Unavailable after the server was killed'));
  // Health's own time is the failure's; the message says when the last good read was.
  const lastOk = Date.parse(dsDown.message.match(/last successful read (\S+)$/)?.[1]);
  assert.ok(lastOk > Date.now() - 60000 && lastOk <= Date.parse(dsDown.lastUpdateTime), dsDown.message);

  srv = await peer({ port });
  await srv.set('hr', 5, [12]);
  await sub.waitFor((x) => x.topic === `${ns}/level` && x.json?.level === 12, explain('a value after the restart'));
  await waitFor(async () => (await health())?.status === 'Available', explain('the endpoint Available again'));
  await waitFor(async () => (await statusOf(`/api/v1/namespaces/${ns}/assets/tank`)).datasets?.[0]?.health?.status === 'Available',
    explain('the dataset Available again'));
  const failures = metric(await conn.metrics(), 'fieldplane_connector_modbus_connect_failures_total', `endpoint="${ns}/plc/main"`);
  assert.ok(failures >= 1, `connect failures counted in /metrics: ${failures}`);
});

test('devices that never answer: timeouts in status and /metrics, and a healthy device keeps its rate', async (t) => {
  // More hung devices than the connector's 4 workers: a blocked read must not hold a worker
  // that the healthy device needs (one device never delays another).
  const ns = 'mb-e';
  const HUNG = 6;
  const TIMEOUT = 1000;
  await namespace(ns);
  const port = await freePort();
  const srv = await peer({ port });
  await srv.set('hr', 0, [5]);
  const hung = await new HungServer().start();
  cleanups.push(() => hung.stop());
  const asset = (dev) => ({
    properties: {
      deviceRef: { deviceName: dev, endpointName: 'main' },
      datasets: [
        {
          name: 'fast',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [{ name: 'v', dataSource: 'hr:0' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/${dev}`, qos: 'Qos1' } }],
        },
      ],
    },
  });
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  const names = Array.from({ length: HUNG }, (_, i) => `hung-${i}`);
  for (const n of names) {
    await put(`/api/v1/namespaces/${ns}/devices/${n}`, device(hung.port, { timeoutMilliseconds: TIMEOUT, retries: 1 }));
    await put(`/api/v1/namespaces/${ns}/assets/${n}`, asset(n));
  }
  await put(`/api/v1/namespaces/${ns}/devices/healthy`, device(port));
  await put(`/api/v1/namespaces/${ns}/assets/healthy`, asset('healthy'));
  const first = await sub.waitFor((x) => x.topic === `${ns}/healthy`, explain('a first message of the healthy device'));
  const WINDOW = 5000;
  await new Promise((r) => setTimeout(r, WINDOW + 300));
  const count = sub.messages.filter((m) => m.topic === `${ns}/healthy` && m.at >= first.at && m.at < first.at + WINDOW).length;
  t.diagnostic(`healthy: ${count} of ${WINDOW / 200} messages in ${WINDOW / 1000} s next to ${HUNG} hung devices`);
  assert.ok(count >= (WINDOW / 200) * 0.9, explain(`the healthy device published ${count} messages in ${WINDOW / 1000} s`));
  assert.equal(sub.messages.filter((m) => m.topic.startsWith(`${ns}/hung-`)).length, 0);

  for (const n of names) {
    await waitFor(async () => {
      const h = (await statusOf(`/api/v1/namespaces/${ns}/devices/${n}`)).endpoints?.inbound?.main?.health;
      return h?.status === 'Unavailable' && h.reasonCode === 'Timeout' && h.message.includes(`did not answer within ${TIMEOUT} ms`);
    }, explain(`${n} Unavailable with its timeout`));
  }
  const text = await conn.metrics();
  const timeouts = metric(text, 'fieldplane_connector_modbus_timeouts_total', `endpoint="${ns}/hung-0/main"`);
  // Each sample of a hung device is one request and its retry, each ending in a timeout.
  assert.ok(timeouts >= 2, `modbus timeouts of hung-0 in /metrics: ${timeouts}\n${text}`);
  assert.equal(metric(text, 'fieldplane_connector_modbus_timeouts_total', `endpoint="${ns}/healthy/main"`), 0);
  assert.ok(metric(text, 'fieldplane_connector_modbus_requests_total', `endpoint="${ns}/healthy/main"`) >= 20);
  // Stop the hung devices first, so no read is left waiting for its timeout.
  for (const n of names) await reg.req('DELETE', `/api/v1/namespaces/${ns}/assets/${n}`);
  await hung.stop();
});

test('a unit id per asset: two assets on one endpoint read and write their own unit', async () => {
  const ns = 'mb-h';
  await namespace(ns);
  const port = await freePort();
  const srv = await peer({ port, units: [1, 2] });
  await srv.set('hr', 0, [111], 1);
  await srv.set('hr', 0, [222], 2);
  await put(`/api/v1/namespaces/${ns}/devices/gateway`, device(port));
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  const asset = (name, unit) => ({
    properties: {
      deviceRef: { deviceName: 'gateway', endpointName: 'main' },
      ...(unit ? { defaultDatasetsConfiguration: JSON.stringify({ unitId: unit }), defaultManagementGroupsConfiguration: JSON.stringify({ unitId: unit }) } : {}),
      datasets: [
        {
          name: 'd',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [{ name: 'v', dataSource: 'hr:0' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/${name}`, qos: 'Qos1' } }],
        },
      ],
      managementGroups: [{ name: 'ops', actions: [{ name: 'set', targetUri: 'hr:1', actionType: 'Write', topic: `${ns}/${name}/set` }] }],
    },
  });
  await put(`/api/v1/namespaces/${ns}/assets/first`, asset('first'));
  await put(`/api/v1/namespaces/${ns}/assets/second`, asset('second', 2));
  await sub.waitFor((x) => x.topic === `${ns}/first` && x.json?.v === 111, explain('unit 1 through the endpoint\'s unit id'));
  await sub.waitFor((x) => x.topic === `${ns}/second` && x.json?.v === 222, explain('unit 2 through the asset\'s unit id'));
  // The asset's write goes to its unit too.
  await waitFor(async () => {
    mqttPub(mq.port, `${ns}/second/set`, '77', ['-D', 'publish', 'response-topic', `${ns}/replies/w`, '-D', 'publish', 'correlation-data', 'w']);
    await new Promise((r) => setTimeout(r, 500));
    return (await srv.get('hr', 1, 1, 2))[0] === 77;
  }, explain('the write of the second asset in unit 2'));
  assert.deepEqual(await srv.get('hr', 1, 1, 1), [0], 'unit 1 untouched');
});

test('the inter-request delay spaces the requests of an endpoint', async () => {
  // Three requests per sample (three tables), 300 ms between two requests: a sample takes at
  // least 600 ms, so a 100 ms sampling interval gives at most about two samples a second, and
  // the servers' request count grows by three per message.
  const ns = 'mb-g';
  await namespace(ns);
  const port = await freePort();
  const srv = await peer({ port });
  await put(`/api/v1/namespaces/${ns}/devices/slow`, device(port, { interRequestDelayMilliseconds: 300 }));
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  await put(`/api/v1/namespaces/${ns}/assets/slow`, {
    properties: {
      deviceRef: { deviceName: 'slow', endpointName: 'main' },
      datasets: [
        {
          name: 'three',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 100}',
          dataPoints: [
            { name: 'h', dataSource: 'hr:1' },
            { name: 'i', dataSource: 'ir:1' },
            { name: 'c', dataSource: 'coil:1' },
          ],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/three`, qos: 'Qos1' } }],
        },
      ],
    },
  });
  const first = await sub.waitFor((x) => x.topic === `${ns}/three`, explain('a first message'));
  const r0 = await srv.requests();
  await new Promise((r) => setTimeout(r, 3000));
  const r1 = await srv.requests();
  const n = sub.messages.filter((m) => m.topic === `${ns}/three` && m.at > first.at).length;
  assert.ok(n >= 2 && n <= 6, `${n} messages in 3 s with 3 requests 300 ms apart per sample`);
  // 3 s at one request per 300 ms at most (and the delay before the first one).
  assert.ok(r1 - r0 <= 11, `${r1 - r0} requests in 3 s with a delay of 300 ms between them`);
  assert.ok(r1 - r0 >= 6, `${r1 - r0} requests in 3 s`);
  await reg.req('DELETE', `/api/v1/namespaces/${ns}/assets/slow`);
});

test('writes and reads as management actions round-trip over MQTT 5 request/response', async () => {
  const ns = 'mb-c';
  await namespace(ns);
  const port = await freePort();
  const srv = await peer({ port });
  await srv.set('hr', 210, [0b0001]);
  await put(`/api/v1/namespaces/${ns}/devices/plc`, device(port));
  const t = (n) => `${ns}/press/${n}`;
  const cfg = (c) => JSON.stringify(c);
  await put(`/api/v1/namespaces/${ns}/assets/press`, {
    properties: {
      deviceRef: { deviceName: 'plc', endpointName: 'main' },
      managementGroups: [
        {
          name: 'ops',
          actions: [
            { name: 'setpoint', targetUri: 'hr:200', actionType: 'Write', topic: t('setpoint'), actionConfiguration: cfg({ type: 'float32', byteOrder: 'CDAB' }) },
            { name: 'readSetpoint', targetUri: 'hr:200', actionType: 'Read', topic: t('read'), actionConfiguration: cfg({ type: 'float32', byteOrder: 'CDAB' }) },
            { name: 'counter', targetUri: 'holding:40203', actionType: 'Write', topic: t('counter'), actionConfiguration: cfg({ type: 'int32' }) },
            { name: 'motor', targetUri: 'coil:5', actionType: 'Write', topic: t('motor') },
            { name: 'lamp', targetUri: 'hr:210.3', actionType: 'Write', topic: t('lamp') },
            { name: 'label', targetUri: 'hr:220', actionType: 'Write', topic: t('label'), actionConfiguration: cfg({ type: 'string', length: 4 }) },
            { name: 'scaled', targetUri: 'hr:230', actionType: 'Write', topic: t('scaled'), actionConfiguration: cfg({ type: 'int16', scale: 0.1, offset: -40 }) },
            { name: 'missing', targetUri: 'hr:5000', actionType: 'Write', topic: t('missing') },
            { name: 'readonly', targetUri: 'ir:0', actionType: 'Write', topic: t('readonly') },
          ],
        },
      ],
    },
  });
  const replies = await new MqttSub(mq.port, `${ns}/replies/#`).start();
  cleanups.push(() => replies.stop());
  let n = 0;
  // Send a request; resolves to the reply (sent again while the action is not subscribed yet).
  const ask = (action, payload) =>
    mqttRequest({ port: mq.port, replies, topic: t(action), payload, replyPrefix: `${ns}/replies`, id: `c${++n}`, explain });

  const w = await ask('setpoint', '{"Value": 12.5}');
  assert.equal(w.props.status, '200', w.payload);
  assert.deepEqual(w.json, { Value: 12.5, Raw: registers('float32', 12.5, 'CDAB') });
  assert.deepEqual(await srv.get('hr', 200, 2), registers('float32', 12.5, 'CDAB'));
  const r = await ask('read', '{}');
  assert.equal(r.props.status, '200', r.payload);
  assert.equal(r.json.Value, 12.5);
  await srv.set('hr', 200, registers('float32', -0.25, 'CDAB'));
  assert.equal((await ask('read', '')).json.Value, -0.25);

  assert.equal((await ask('counter', '-7')).props.status, '200');
  assert.deepEqual(await srv.get('hr', 202, 2), registers('int32', -7, 'ABCD'));
  assert.equal((await ask('motor', '{"Value": true}')).props.status, '200');
  assert.deepEqual(await srv.get('co', 5), [1]);
  const lamp = await ask('lamp', 'true');
  assert.equal(lamp.props.status, '200', lamp.payload);
  assert.deepEqual(await srv.get('hr', 210), [0b1001], 'only bit 3 changed');
  assert.equal((await ask('label', '"abc"')).props.status, '200');
  assert.deepEqual(await srv.get('hr', 220, 4), [0x6162, 0x6300, 0, 0]);
  assert.equal((await ask('scaled', '21.5')).props.status, '200');
  assert.deepEqual(await srv.get('hr', 230), [615]);

  const missing = await ask('missing', '1');
  assert.equal(missing.props.status, '404', missing.payload);
  assert.equal(missing.json.error.code, 'IllegalDataAddress');
  const ro = await ask('readonly', '1');
  assert.equal(ro.props.status, '400', ro.payload);
  const tooBig = await ask('counter', '1e12');
  assert.equal(tooBig.props.status, '400', tooBig.payload);
  assert.match(tooBig.json.error.message, /out of the range of int32/);
  const notJson = await ask('motor', 'on');
  assert.equal(notJson.props.status, '400', notJson.payload);
});

test('a unit id scan reports the units that answer as discovered devices', async () => {
  const ns = 'mb-d';
  await namespace(ns);
  const port = await freePort();
  await peer({ port, units: [1, 3] });
  await put(`/api/v1/namespaces/${ns}/devices/gateway`, device(port, {
    discovery: { scanUnitIds: true, firstUnitId: 1, lastUnitId: 5, requestsPerSecond: 50, timeoutMilliseconds: 200 },
  }));
  const list = async () => (await reg.req('GET', `/api/v1/namespaces/${ns}/discoveredDevices`)).body?.value ?? [];
  const found = await waitFor(async () => {
    const l = await list();
    return l.length >= 2 ? l : null;
  }, explain('two discovered devices'), 30000);
  // Give the rest of the scan time to finish, then nothing else may have been found.
  await waitFor(() => /scan of .* done, 2 unit ids answered/.test(conn.log), explain('the end of the scan'), 30000);
  const names = (await list()).map((d) => d.name).sort();
  assert.deepEqual(names, ['gateway-unit-1', 'gateway-unit-3']);
  const one = found.find((d) => d.name === 'gateway-unit-3') ?? (await list()).find((d) => d.name === 'gateway-unit-3');
  const ep = one.properties.endpoints.inbound.main;
  assert.equal(ep.endpointType, 'Fieldplane.Modbus');
  assert.equal(ep.address, `modbus-tcp://127.0.0.1:${port}`);
  assert.deepEqual(JSON.parse(ep.additionalConfiguration), { unitId: 3 });
});

test('Modbus RTU over a pseudo-terminal pair made by socat: reads and a write', async () => {
  const ns = 'mb-f';
  await namespace(ns);
  const dir = tempDir('fp-mb-rtu-');
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const [ours, theirs] = [join(dir, 'plc'), join(dir, 'server')];
  // Two linked pseudo-terminals: what one end writes, the other reads, as on a serial line.
  const socat = spawn('socat', [`pty,raw,echo=0,link=${ours}`, `pty,raw,echo=0,link=${theirs}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let socatLog = '';
  socat.stderr.on('data', (d) => (socatLog += d));
  const socatExit = new Promise((r) => socat.once('exit', r));
  socat.once('error', (e) => (socatLog += `socat: ${e.message}`));
  cleanups.push(async () => {
    if (socat.exitCode === null) socat.kill('SIGTERM');
    await socatExit;
  });
  await waitFor(() => existsSync(ours) && existsSync(theirs), `socat's pseudo-terminals (${socatLog})`);
  const srv = await peer({ serial: theirs, units: [7] });
  await srv.set('hr', 3, registers('float32', 42.75, 'CDAB'), 7);
  await srv.set('co', 1, [1], 7);
  await put(`/api/v1/namespaces/${ns}/devices/rtu-plc`, {
    properties: {
      endpoints: {
        inbound: {
          main: {
            endpointType: 'Fieldplane.Modbus',
            address: `modbus-rtu://${ours}?baud=19200&parity=E&data=8&stop=1`,
            authentication: { method: 'Anonymous' },
            additionalConfiguration: JSON.stringify({ unitId: 7, timeoutMilliseconds: 1000, interRequestDelayMilliseconds: 5 }),
          },
        },
      },
    },
  });
  const sub = await new MqttSub(mq.port, `${ns}/#`).start();
  cleanups.push(() => sub.stop());
  await put(`/api/v1/namespaces/${ns}/assets/oven`, {
    properties: {
      deviceRef: { deviceName: 'rtu-plc', endpointName: 'main' },
      datasets: [
        {
          name: 'state',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 300}',
          dataPoints: [
            { name: 'temp', dataSource: 'hr:3', dataPointConfiguration: '{"type": "float32", "byteOrder": "CDAB"}' },
            { name: 'door', dataSource: 'coil:1' },
          ],
          destinations: [{ target: 'Mqtt', configuration: { topic: `${ns}/state`, qos: 'Qos1' } }],
        },
      ],
      managementGroups: [
        { name: 'ops', actions: [{ name: 'setpoint', targetUri: 'hr:10', actionType: 'Write', topic: `${ns}/oven/setpoint`, actionConfiguration: '{"type": "uint32"}' }] },
      ],
    },
  });
  const m = await sub.waitFor((x) => x.topic === `${ns}/state`, explain(`a message over RTU (socat: ${socatLog})`));
  assert.deepEqual(m.json, { temp: 42.75, door: true });
  // A write over the serial line.
  const replies = await new MqttSub(mq.port, `${ns}/replies/#`).start();
  cleanups.push(() => replies.stop());
  await waitFor(async () => {
    mqttPub(mq.port, `${ns}/oven/setpoint`, '123456', ['-D', 'publish', 'response-topic', `${ns}/replies/1`, '-D', 'publish', 'correlation-data', 'x']);
    return await waitFor(() => replies.messages.find((x) => x.topic === `${ns}/replies/1`), 'a reply', 2000).catch(() => null);
  }, explain('a reply to the write over RTU'), 20000);
  const reply = replies.messages.find((x) => x.topic === `${ns}/replies/1`);
  assert.equal(reply.props.status, '200', reply.payload);
  assert.deepEqual(await srv.get('hr', 10, 2, 7), registers('uint32', 123456, 'ABCD'));
});

test('the connector stops cleanly', async () => {
  await conn.stopClean();
});
