// The OPC UA connector end to end: a real registry, a real mosquitto, the node-opcua test peer
// (tests/peers/opcua) and fieldplane-connector-opcua. Assets created through the API become
// subscriptions whose data changes arrive as dataset messages; the checks cover value types,
// timestamps, CloudEvents properties, key frames, the registered schema, point errors, in-place
// asset changes, the peer and the broker restarted, security with a username, and endpoints
// that hold no thread of their own (settings changed, removed with their sessions closed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, Mosquitto, waitFor, sleep, freePort } from './lib/registry.mjs';
import { Connector, MqttSub, connectorBin } from './lib/connector.mjs';
import { startPeer, runTool } from '../peers/opcua/harness.mjs';

// A connector that is not built fails this file, naming the missing executable; it is never
// a reason to skip the tests.
connectorBin('opcua');

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

test('every value type arrives with timestamps, CloudEvents properties, key frames and a schema', async () => {
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
        ['counter', 'ns=1;s=Dynamic.Counter', { samplingInterval: 0, queueSize: 10 }],
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

test('an asset change applies in place: a point added, one removed, one re-sampled; the rest keeps flowing', async () => {
  const sub = await new MqttSub(mq.port, `${NS}/line/values`).start();
  try {
    await sub.waitFor((m) => m.json?.counter, 'the counter flowing');
    const subsBefore = await serverSubscriptions();
    const pid = conn.proc.pid;
    const cur = await get(`${API}/assets/line`);
    const ds = cur.properties.datasets[0];
    ds.dataPoints = ds.dataPoints.filter((p) => p.name !== 'bool');
    ds.dataPoints.push({ name: 'sine', dataSource: 'ns=1;s=Dynamic.Sine' });
    ds.dataPoints.find((p) => p.name === 'double').dataPointConfiguration = JSON.stringify({ samplingInterval: 500, queueSize: 2 });
    const changedAt = sub.messages.length;
    await put(`${API}/assets/line`, cur);
    const withSine = await sub.waitFor((m) => m.json?.sine, 'the added point');
    await waitFor(() => sub.messages.length > sub.messages.indexOf(withSine) + 10, 'ten more messages');
    assert.ok(sub.messages.slice(sub.messages.indexOf(withSine)).every((m) => !('bool' in m.json)), 'the removed point is gone');
    // Key frames hold the new set of points (a message of changes may hold a few of them).
    const newSet = ['bytes', 'counter', 'double', 'doubles', 'int32', 'ints', 'sine', 'temp', 'text', 'when'];
    const keyFrame = await waitFor(
      () => sub.messages.slice(changedAt).find((m) => JSON.stringify(Object.keys(m.json).sort()) === JSON.stringify(newSet)),
      'a key frame with the new set of points', 20000);
    assert.ok(keyFrame);
    assert.ok(sub.messages.slice(changedAt).every((m) => Object.keys(m.json).every((k) => newSet.includes(k) || k === 'bool')));
    // The counter (sampled on every change) never stopped: no gap across the change.
    const counters = sub.messages.slice(Math.max(0, changedAt - 5)).filter((m) => m.json.counter).map((m) => m.json.counter.Value);
    // (a loaded peer may skip a sample now and then; a restarted subscription would lose
    // seconds of them, or start again)
    for (let i = 1; i < counters.length; i++) assert.ok(counters[i] - counters[i - 1] <= 5 && counters[i] >= counters[i - 1], `counter ${counters[i - 1]} -> ${counters[i]}`);
    assert.equal(conn.proc.pid, pid);
    assert.equal(conn.proc.exitCode, null, 'the connector kept running');
    assert.equal(await serverSubscriptions(), subsBefore, 'the same subscriptions on the server');
    const st = await waitFor(async () => {
      const d = (await get(`${API}/assets/line/status`)).datasets?.find((x) => x.name === 'values');
      return /10 of 12/.test(d?.health?.message ?? '') && d;
    }, 'health after the change');
    assert.equal(st.health.status, 'Available');
  } finally {
    await sub.stop();
  }
});

test('the peer killed and restarted: Unavailable, then Available, data again, no duplicate subscriptions', async () => {
  const sub = await new MqttSub(mq.port, `${NS}/line/values`).start();
  try {
    await sub.waitFor((m) => m.json?.counter, 'the counter flowing');
    const subsBefore = await serverSubscriptions();
    assert.ok(subsBefore >= 1, `subscriptions ${subsBefore}`);
    for (let round = 0; round < 2; round++) {
      peer.proc.kill('SIGKILL');
      await peer.stop();
      const down = await waitFor(async () => {
        const h = await endpointHealth('plc');
        return h?.status === 'Unavailable' && h;
      }, 'the endpoint Unavailable', 20000);
      assert.match(down.reasonCode, /^Bad/);
      const dsDown = await waitFor(async () => {
        const d = (await get(`${API}/assets/line/status`)).datasets?.find((x) => x.name === 'values');
        return d?.health?.status === 'Unavailable' && d;
      }, 'the dataset Unavailable');
      assert.ok(dsDown);
      peer = await startPeer(PEER_ARGS());
      await waitFor(async () => (await endpointHealth('plc'))?.status === 'Available', 'the endpoint Available again', 40000);
      const n = sub.messages.length;
      // The restarted peer counts from 0 again.
      await waitFor(() => sub.messages.slice(n).some((m) => m.json?.counter), 'data after the restart', 20000);
      await sleep(500);
      assert.equal(await serverSubscriptions(), subsBefore, `round ${round}: no duplicate subscriptions`);
    }
    const d = (await get(`${API}/assets/line/status`)).datasets?.find((x) => x.name === 'values');
    assert.equal(d.health.status, 'Available');
    // The items were taken to the new session once, by the client; nothing raced it.
    assert.doesNotMatch(conn.log, /BadSubscriptionIdInvalid|failed on recreate|not recreated/);
  } finally {
    await sub.stop();
  }
});

test('the broker stopped and restarted: no value lost', async () => {
  await put(`${API}/assets/load`, asset('plc', [
    dataset('pushed', `${NS}/load/pushed`, [['v0', 'ns=1;s=Load.0'], ['v1', 'ns=1;s=Load.1']], { samplingInterval: 0, queueSize: 20, publishingInterval: 200 }),
  ]));
  const sub = await new MqttSub(mq.port, `${NS}/load/pushed`, { id: 'uaconn-load' }).start();
  try {
    await waitFor(() => sub.messages.filter((m) => m.json?.v0).length >= 5, 'values flowing');
    await mq.stop();
    await sleep(3000);
    await mq.start();
    const resumed = sub.messages.length;
    await waitFor(() => sub.messages.length > resumed + 10, 'values after the restart', 30000);
    await sleep(1000);
    const values = [...new Set(sub.messages.filter((m) => m.json?.v0).map((m) => m.json.v0.Value))].sort((a, b) => a - b);
    for (let i = 1; i < values.length; i++) assert.equal(values[i], values[i - 1] + 1, `v0 ${values[i - 1]} then ${values[i]}`);
    assert.ok(values.length > 40, `${values.length} values`);
  } finally {
    await sub.stop();
    await reg.req('DELETE', `${API}/assets/load`);
  }
});

test('Basic256Sha256 SignAndEncrypt with user1: untrusted first, then trusted through the device trust list', async () => {
  const { readFileSync } = await import('node:fs');
  assert.equal((await reg.req('PUT', `${API}/secrets/plc-user`, { data: { username: 'user1', password: 'password1' } })).status, 201);
  const auth = {
    method: 'UsernamePassword',
    usernamePasswordCredentials: { usernameSecretName: 'plc-user/username', passwordSecretName: 'plc-user/password' },
  };
  const security = { security: { securityPolicy: 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256', securityMode: 'SignAndEncrypt' } };
  await put(`${API}/devices/secure`, device({ authentication: auth }, security));
  await put(`${API}/assets/vault`, asset('secure', [dataset('values', `${NS}/vault/values`, [['counter', 'ns=1;s=Dynamic.Counter']])]));
  const bad = await waitFor(async () => {
    const h = await endpointHealth('secure');
    return h?.reasonCode === 'BadCertificateUntrusted' && h;
  }, 'BadCertificateUntrusted in the endpoint health', 30000);
  assert.equal(bad.status, 'Unavailable');
  assert.match(bad.message, /trust add|autoAccept/);

  const sub = await new MqttSub(mq.port, `${NS}/vault/values`).start();
  try {
    assert.equal((await reg.req('PUT', `${API}/secrets/plc-trust`, { value: readFileSync(join(peerPki, 'own/certs/certificate.pem'), 'utf8') })).status, 201);
    await put(`${API}/devices/secure`, device({ authentication: auth, trustSettings: { trustList: 'plc-trust' } }, { ...security, applicationName: 'fieldplane test' }));
    await waitFor(async () => (await endpointHealth('secure'))?.status === 'Available', 'the secure endpoint Available', 30000);
    const m = await sub.waitFor((x) => x.json?.counter, 'data over the encrypted session', 20000);
    assert.equal(typeof m.json.counter.Value, 'number');
  } finally {
    await sub.stop();
    await reg.req('DELETE', `${API}/assets/vault`);
  }
});

test('Certificate authentication with an intermediate CA: the identity token carries the chain', async () => {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  // root CA -> intermediate CA -> client certificate, made with the openssl command.
  const dir = mkdtempSync(join(tmpdir(), 'fp-ua-chain-'));
  const ssl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment\n' +
      'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:urn:fieldplane:test-chain,DNS:localhost\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '30', '-subj', '/CN=fieldplane test root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=fieldplane test intermediate');
    ssl('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'int.pem', '-days', '30', '-extfile', 'ca.ext');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=fieldplane test client');
    ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '30', '-extfile', 'leaf.ext');
    // The peer knows the root CA and both CAs' (empty) revocation lists, never the
    // intermediate itself: that can only come from the chains the connector sends, in
    // OpenSecureChannel (the application certificate) and in the X509IdentityToken (without
    // it the peer answers BadIdentityTokenRejected). The certificate's URI is the session's
    // ApplicationUri (else BadCertificateUriInvalid).
    const crl = (name, cert, key) => {
      writeFileSync(join(dir, `${name}.cnf`), `[ca]\ndefault_ca=d\n[d]\ndatabase=${name}.idx\ncrlnumber=${name}.num\ndefault_md=sha256\ndefault_crl_days=30\n`);
      writeFileSync(join(dir, `${name}.idx`), '');
      writeFileSync(join(dir, `${name}.num`), '01\n');
      ssl('ca', '-config', `${name}.cnf`, '-gencrl', '-keyfile', key, '-cert', cert, '-out', `${name}.crl`);
    };
    crl('root', 'root.pem', 'root.key');
    crl('int', 'int.pem', 'int.key');
    for (const base of [peerPki, join(peerPki, 'user')]) {
      writeFileSync(join(base, 'issuers/certs/fp-test-root.pem'), readFileSync(join(dir, 'root.pem')));
      writeFileSync(join(base, 'issuers/crl/fp-test-root.crl'), readFileSync(join(dir, 'root.crl')));
      writeFileSync(join(base, 'issuers/crl/fp-test-int.crl'), readFileSync(join(dir, 'int.crl')));
    }
    const r = await reg.req('PUT', `${API}/secrets/plc-x509`, {
      data: { cert: readFileSync(join(dir, 'leaf.pem'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8'), chain: readFileSync(join(dir, 'int.pem'), 'utf8') },
    });
    assert.equal(r.status, 201, r.text);
    if ((await reg.req('GET', `${API}/secrets/plc-trust`)).status !== 200)
      assert.equal((await reg.req('PUT', `${API}/secrets/plc-trust`, { value: readFileSync(join(peerPki, 'own/certs/certificate.pem'), 'utf8') })).status, 201);
    const auth = {
      method: 'Certificate',
      x509Credentials: { certificateSecretName: 'plc-x509/cert', keySecretName: 'plc-x509/key', intermediateCertificatesSecretName: 'plc-x509/chain' },
    };
    const security = { security: { securityPolicy: 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256', securityMode: 'SignAndEncrypt' } };
    const sub = await new MqttSub(mq.port, `${NS}/badge/values`).start();
    try {
      await put(`${API}/devices/badge`, device({ authentication: auth, trustSettings: { trustList: 'plc-trust' } }, security));
      await put(`${API}/assets/badge`, asset('badge', [dataset('values', `${NS}/badge/values`, [['counter', 'ns=1;s=Dynamic.Counter']])]));
      let last;
      await waitFor(async () => (last = await endpointHealth('badge'))?.status === 'Available', 'the endpoint with a certificate identity Available', 30000)
        .catch((e) => assert.fail(`${e.message}: ${JSON.stringify(last)}`));
      const m = await sub.waitFor((x) => x.json?.counter, 'data in a session of the X.509 identity', 20000);
      assert.equal(typeof m.json.counter.Value, 'number');
    } finally {
      await sub.stop();
      await reg.req('DELETE', `${API}/assets/badge`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Endpoints are served on their strands through a watch of their loop's descriptor: more
// endpoints add no threads, a settings change opens a new session on the same watch, and a
// removed endpoint closes its session and leaves no watch behind.
test('endpoints hold no thread of their own: eight connect, one changes settings, all go cleanly', async () => {
  const { readdirSync } = await import('node:fs');
  const threads = () => readdirSync(`/proc/${conn.proc.pid}/task`).length;
  const sessions = async () => {
    const r = await runTool(['read', peer.url, 'i=2277']); // CurrentSessionCount
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return Number(r.stdout.trim());
  };
  const names = Array.from({ length: 8 }, (_, i) => `idle${i}`);
  const before = threads();
  const sessionsBefore = await sessions();
  try {
    for (const n of names) await put(`${API}/devices/${n}`, device());
    for (const n of names)
      await waitFor(async () => (await endpointHealth(n))?.status === 'Available', `${n} Available`, 30000);
    assert.equal(await sessions(), sessionsBefore + names.length);
    // A thread per endpoint would add eight; the pool grows only while every worker blocks.
    assert.ok(threads() < before + 4, `threads ${before} -> ${threads()}`);

    await put(`${API}/devices/idle0`, device({}, { session: { timeoutMilliseconds: 30000, reconnectPeriodMilliseconds: 200 } }));
    await waitFor(async () => conn.log.includes(`${NS}/idle0/opc: session up on ${peer.url} (2)`), 'idle0 on a new session', 30000);
    // The log line comes first; the status write that says so follows (coalesced, 250 ms).
    await waitFor(async () => (await endpointHealth('idle0'))?.status === 'Available', 'idle0 Available again', 10000);
  } finally {
    for (const n of names) await reg.req('DELETE', `${API}/devices/${n}`);
  }
  for (const n of names)
    await waitFor(async () => conn.log.includes(`endpoint ${NS}/${n}/opc removed`), `${n} removed`, 20000);
  await waitFor(async () => (await sessions()) === sessionsBefore, 'the sessions closed', 20000);
  assert.ok(!conn.log.includes('still watched'), 'every watch was removed by its endpoint');
  assert.equal(conn.proc.exitCode, null);
});

test('the connector stops cleanly', async () => {
  await conn.stopClean();
});
