// The HTTP and SSE connectors end to end: a real registry, a real mosquitto, the test
// device (tests/peers/http/server.mjs) and the connector processes. Values selected from
// the device's JSON arrive on the dataset's topic, SSE events on their events' topics;
// the device going down shows in status and clears when it comes back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, Mosquitto, tempDir, waitFor, sleep } from './lib/registry.mjs';
import { Connector } from './lib/connector.mjs';
import { DeviceServer } from '../peers/http/server.mjs';

// A connector that is not built fails this file, naming the missing executable (lib/connector.mjs);
// it is never a reason to skip the tests.
const NS = '/api/v1/namespaces/plant';
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// Messages on a topic filter, as {topic, payload} (mosquitto_sub -v, one per line).
function subscribe(port, filter) {
  const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5', '-t', filter, '-v'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const msgs = [];
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const sp = line.indexOf(' ');
      msgs.push({ topic: line.slice(0, sp), payload: line.slice(sp + 1) });
    }
  });
  cleanups.push(async () => p.kill('SIGTERM'));
  return msgs;
}

// Start a connector process (tests/system/lib/connector.mjs) against reg and mqtt.
async function startConnector(name, reg, mqtt) {
  const c = new Connector({ name, registry: reg, broker: mqtt });
  cleanups.push(() => c.cleanup());
  return await c.start();
}

async function setup() {
  const dir = tempDir('fp-conn-http-');
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const reg = await new Registry().start();
  cleanups.push(() => reg.cleanup());
  const mqtt = await new Mosquitto().start();
  cleanups.push(() => mqtt.cleanup());
  const dev = await new DeviceServer().start();
  cleanups.push(() => dev.stop());
  assert.equal((await reg.req('PUT', NS, { properties: {} })).status, 201);
  return { dir, reg, mqtt, dev };
}

const statusText = async (reg, path) => JSON.stringify((await reg.req('GET', path)).body ?? {});

test('HTTP: selected values arrive, errors show in status and clear', async () => {
  const { dir, reg, mqtt, dev } = await setup();
  dev.setJson('/api/oven', { temperature: 182.5, pressure: 1.02, status: { running: true }, axes: [{ pos: 1 }, { pos: 12.5 }] });
  assert.equal((await reg.req('PUT', `${NS}/secrets/oven-api`, { data: { username: 'op', password: 'pw' } })).status, 201);
  dev.setAuth({ basic: { user: 'op', pass: 'pw' } });
  const d = await reg.req('PUT', `${NS}/devices/oven`, {
    properties: {
      endpoints: {
        inbound: {
          rest: {
            endpointType: 'Microsoft.Http',
            address: `${dev.url}/`,
            authentication: {
              method: 'UsernamePassword',
              usernamePasswordCredentials: { usernameSecretName: 'oven-api/username', passwordSecretName: 'oven-api/password' },
            },
          },
        },
      },
    },
  });
  assert.equal(d.status, 201, d.text);
  const a = await reg.req('PUT', `${NS}/assets/oven`, {
    properties: {
      deviceRef: { deviceName: 'oven', endpointName: 'rest' },
      datasets: [
        {
          name: 'telemetry',
          dataSource: '/api/oven',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [
            { name: 'temperature', dataSource: '$.temperature' },
            { name: 'pressure', dataSource: '/pressure' },
            { name: 'running', dataSource: '$.status.running' },
            { name: 'lastAxis', dataSource: '$.axes[-1].pos' },
            { name: 'missing', dataSource: '$.nope' },
          ],
          destinations: [{ target: 'Mqtt', configuration: { topic: 'plant/oven/telemetry', qos: 'Qos1' } }],
        },
      ],
    },
  });
  assert.equal(a.status, 201, a.text);
  const msgs = subscribe(mqtt.port, 'plant/oven/#');
  const conn = await startConnector('http', reg, mqtt);
  const first = await waitFor(() => msgs.find((m) => m.topic === 'plant/oven/telemetry'), `a message (log: ${conn.log.slice(-2000)})`, 20000);
  assert.deepEqual(JSON.parse(first.payload), { temperature: 182.5, pressure: 1.02, running: true, lastAxis: 12.5 });
  assert.ok(dev.requests.some((r) => r.headers.authorization === `Basic ${Buffer.from('op:pw').toString('base64')}`));
  await waitFor(async () => (await statusText(reg, `${NS}/assets/oven`)).includes('PathNotFound'), 'the missing point in status');

  dev.setStatus('/api/oven', 503);
  await waitFor(async () => (await statusText(reg, `${NS}/assets/oven`)).includes('503 Service Unavailable'), 'HttpStatus in status');
  dev.clearStatus('/api/oven');
  await dev.down();
  await waitFor(async () => (await statusText(reg, `${NS}/devices/oven`)).includes('Unreachable'), 'Unreachable in status');
  await dev.up();
  dev.setJson('/api/oven', { temperature: 20, pressure: 1, status: { running: false }, axes: [] });
  await waitFor(() => msgs.some((m) => m.payload === '{"temperature":20,"pressure":1,"running":false}'), 'a message after the device came back', 20000);
  await waitFor(async () => !(await statusText(reg, `${NS}/devices/oven`)).includes('Unreachable'), 'the error to clear');

  // An asset change (other data points, another interval) applies without a restart.
  const cur = (await reg.req('GET', `${NS}/assets/oven`)).body;
  cur.properties.datasets[0].dataPoints = [{ name: 'hot', dataSource: '$.temperature' }];
  cur.properties.datasets[0].datasetConfiguration = '{"samplingIntervalInMilliseconds": 100}';
  const upd = await reg.req('PUT', `${NS}/assets/oven`, cur);
  assert.equal(upd.status, 200, upd.text);
  await waitFor(() => msgs.some((m) => m.payload === '{"hot":20}'), 'a message of the changed dataset', 20000);
  await conn.stopClean();
});

test('SSE: events arrive on their topics, a quiet stream stays open, and the stream resumes after the device was down', async () => {
  const { dir, reg, mqtt, dev } = await setup();
  const ch = dev.sse('/events');
  ch.push({ id: '1', event: 'alarm', data: { code: 'OVERTEMP' } });
  // connectTimeoutMilliseconds is short, so that the quiet time below passes it several
  // times over.
  const putDevice = async (config) => {
    const events = { endpointType: 'Microsoft.SSEHttp', address: dev.url, authentication: { method: 'Anonymous' }, additionalConfiguration: JSON.stringify(config) };
    const d = await reg.req('PUT', `${NS}/devices/oven-sse`, { properties: { endpoints: { inbound: { events } } } });
    assert.ok(d.status === 200 || d.status === 201, d.text);
  };
  await putDevice({ connectTimeoutMilliseconds: 300 });
  const a = await reg.req('PUT', `${NS}/assets/oven-sse`, {
    properties: {
      deviceRef: { deviceName: 'oven-sse', endpointName: 'events' },
      eventGroups: [
        {
          name: 'alarms',
          dataSource: '/events',
          eventGroupConfiguration: '{"retryMilliseconds": 200, "maxBackoffMilliseconds": 1000}',
          defaultDestinations: [{ target: 'Mqtt', configuration: { topic: 'plant/sse/other', qos: 'Qos1' } }],
          events: [{ name: 'alarm', dataSource: 'alarm', destinations: [{ target: 'Mqtt', configuration: { topic: 'plant/sse/alarm', qos: 'Qos1' } }] }],
        },
      ],
    },
  });
  assert.equal(a.status, 201, a.text);
  const msgs = subscribe(mqtt.port, 'plant/sse/#');
  const conn = await startConnector('sse', reg, mqtt);
  await waitFor(() => msgs.find((m) => m.topic === 'plant/sse/alarm'), `the alarm (log: ${conn.log.slice(-2000)})`, 20000);
  assert.deepEqual(JSON.parse(msgs.find((m) => m.topic === 'plant/sse/alarm').payload), { code: 'OVERTEMP' });
  // The timeout ends the wait for the headers only: an accepted stream that stays silent
  // for longer is kept, not reopened.
  await sleep(2000);
  const opened = dev.requests.filter((r) => r.path === '/events').length;
  assert.equal(opened, 1, `the quiet stream was opened ${opened} times (log: ${conn.log.slice(-2000)})`);
  assert.match(await statusText(reg, `${NS}/assets/oven-sse`), /streaming/);
  ch.push({ id: '2', data: 'door\nopen' });
  await waitFor(() => msgs.find((m) => m.topic === 'plant/sse/other'), 'the plain event');
  assert.equal(JSON.parse(msgs.find((m) => m.topic === 'plant/sse/other').payload), 'door\nopen');

  await dev.down();
  await waitFor(async () => (await statusText(reg, `${NS}/assets/oven-sse`)).includes('Unreachable'), 'Unreachable in status');
  await dev.up();
  ch.push({ id: '3', event: 'alarm', data: '{"code": "BACK"}' });
  await waitFor(() => msgs.some((m) => m.payload === '{"code":"BACK"}'), 'the event after the device came back', 20000);
  const resumed = dev.requests.filter((r) => r.path === '/events').pop();
  assert.equal(resumed.headers['last-event-id'], '2');
  assert.equal(msgs.filter((m) => m.payload === '{"code":"OVERTEMP"}').length, 1, 'no replay of old events');

  // A refused endpoint change shows in status; the next good one starts the stream again
  // (and the clean stop below finds nothing leaked on the way).
  await putDevice({ connectTimeoutMilliseconds: 300, authentication: 'bogus' });
  await waitFor(async () => (await statusText(reg, `${NS}/devices/oven-sse`)).includes('BadConfiguration'), 'BadConfiguration in status');
  await putDevice({ connectTimeoutMilliseconds: 400 });
  ch.push({ id: '4', event: 'alarm', data: '{"code": "AGAIN"}' });
  await waitFor(() => msgs.some((m) => m.payload === '{"code":"AGAIN"}'), 'the event after the endpoint was fixed', 20000);
  await conn.stopClean();
});

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
function makePki(dir) {
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  o(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=fieldplane-test-ca']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [['srv', '127.0.0.1', ['-extfile', 'san.ext']], ['cli', 'connector', []]]) {
    o(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...ext]);
  }
  const r = (f) => readFileSync(join(dir, f), 'utf8');
  return { ca: r('ca.pem'), srvKey: r('srv.key'), srvCert: r('srv.pem'), cliKey: r('cli.key'), cliCert: r('cli.pem') };
}

test('HTTP over TLS: the device trust list and a client certificate', async () => {
  const { dir, reg, mqtt } = await setup();
  const pki = makePki(dir);
  const dev = await new DeviceServer({ tls: { key: pki.srvKey, cert: pki.srvCert, ca: pki.ca, requestCert: true } }).start();
  cleanups.push(() => dev.stop());
  dev.setJson('/v', { t: 1.5 });
  assert.equal((await reg.req('PUT', `${NS}/secrets/tls-ca`, { value: pki.ca })).status, 201);
  assert.equal((await reg.req('PUT', `${NS}/secrets/tls-client`, { data: { cert: pki.cliCert, key: pki.cliKey } })).status, 201);
  const device = (trust) => ({
    properties: {
      endpoints: {
        inbound: {
          rest: {
            endpointType: 'Microsoft.Http',
            address: dev.url,
            authentication: { method: 'Certificate', x509Credentials: { certificateSecretName: 'tls-client/cert', keySecretName: 'tls-client/key' } },
            ...(trust ? { trustSettings: { trustList: 'tls-ca' } } : {}),
          },
        },
      },
    },
  });
  // First without the trust list: the server's certificate is not trusted.
  assert.equal((await reg.req('PUT', `${NS}/devices/tls`, device(false))).status, 201);
  const a = await reg.req('PUT', `${NS}/assets/tls`, {
    properties: {
      deviceRef: { deviceName: 'tls', endpointName: 'rest' },
      datasets: [
        {
          name: 'd',
          dataSource: 'v',
          datasetConfiguration: '{"samplingIntervalInMilliseconds": 200}',
          dataPoints: [{ name: 't', dataSource: '/t' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: 'plant/tls', qos: 'Qos1' } }],
        },
      ],
    },
  });
  assert.equal(a.status, 201, a.text);
  const msgs = subscribe(mqtt.port, 'plant/tls');
  const conn = await startConnector('http', reg, mqtt);
  await waitFor(async () => (await statusText(reg, `${NS}/devices/tls`)).includes('TlsError'), `TlsError in status (log: ${conn.log.slice(-2000)})`, 20000);
  assert.equal(msgs.length, 0);
  // The endpoint changes (trust list added): applied without a restart.
  assert.equal((await reg.req('PUT', `${NS}/devices/tls`, device(true))).status, 200);
  await waitFor(() => msgs.find((m) => m.payload === '{"t":1.5}'), 'a message over TLS', 20000);
  assert.ok(dev.requests.some((r) => r.clientCert === 'connector'), 'the client certificate was presented');
  await waitFor(async () => !(await statusText(reg, `${NS}/devices/tls`)).includes('TlsError'), 'the TLS error to clear');
  await conn.stopClean();
});
