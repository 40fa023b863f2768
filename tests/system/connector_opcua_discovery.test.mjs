// Discovery and trust of the OPC UA connector, end to end: a real registry, a real mosquitto,
// the node-opcua test peer (tests/peers/opcua) and fieldplane-connector-opcua. The device's
// endpoint asks for Basic256Sha256 without auto-accept, so the peer's certificate is first
// rejected; `trust list` shows it, `trust accept` moves it and the session comes up. Then the
// peer's objects with variables become discovered assets (a restart of the connector neither
// duplicates them nor bumps their version), the peer itself a discovered device with its
// endpoints, and one discovered asset onboarded with the CLI starts publishing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, readdirSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, Mosquitto, waitFor, sleep, BIN, tempDir } from './lib/registry.mjs';
import { Connector, MqttSub, connectorBin } from './lib/connector.mjs';
import { startPeer } from '../peers/opcua/harness.mjs';

// A connector that is not built fails this file, naming the missing executable; it is never
// a reason to skip the tests.
connectorBin('opcua');

const NS = 'disc';
const API = `/api/v1/namespaces/${NS}`;
let reg;
let mq;
let peer;
let conn;
let dataDir; // the connector's --data (its PKI is DATA/pki)

before(async () => {
  reg = await new Registry().start();
  mq = await new Mosquitto().start();
  // --auto-accept: the peer trusts our client certificate; the other direction is the test.
  peer = await startPeer(['--auto-accept']);
  await put(API, { properties: {} });
  conn = await new Connector({ name: 'opcua', registry: reg, broker: mq }).start();
  dataDir = join(conn.dataDir, 'data');
});

after(async () => {
  await conn?.cleanup();
  await peer?.stop();
  await reg?.cleanup();
  await mq?.cleanup();
});

async function put(path, body) {
  const r = await reg.req('PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function get(path) {
  return (await reg.req('GET', path)).body ?? {};
}

// Run a program; resolves to { code, stdout, stderr }.
function run(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const trust = (...args) => run(connectorBin('opcua'), ['trust', ...args, '--data', dataDir]);

const health = async () => (await get(`${API}/devices/line/status`)).endpoints?.inbound?.opc?.health;

async function discoveredAssets() {
  return ((await get(`${API}/discoveredAssets`)).value ?? []).filter((a) => a.properties.deviceRef?.deviceName === 'line');
}

test('an untrusted server certificate is rejected, listed, accepted with `trust accept`, and the session comes up', async () => {
  await put(`${API}/devices/line`, {
    properties: {
      endpoints: {
        inbound: {
          opc: {
            endpointType: 'Microsoft.OpcUa',
            address: peer.url,
            authentication: { method: 'Anonymous' },
            additionalConfiguration: JSON.stringify({
              runAssetDiscovery: true,
              discovery: { discoveryUrl: peer.url },
              security: { securityPolicy: 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256', securityMode: 'signAndEncrypt' },
              session: { reconnectPeriodMilliseconds: 200, reconnectExponentialBackOffMilliseconds: 1000 },
            }),
          },
        },
      },
    },
  });
  // While no session can be made, the server is still listed as a discovered device.
  await waitFor(async () => (await reg.req('GET', `${API}/discoveredDevices/fieldplane-test-peer`)).status === 200,
    'the discovered device before any session', 30000);
  const h = await waitFor(async () => {
    const x = await health();
    return x?.status === 'Unavailable' && /BadCertificateUntrusted|not trusted/.test(`${x.reasonCode} ${x.message}`) && x;
  }, 'endpoint health BadCertificateUntrusted', 60000);
  assert.match(h.message, /trust/);

  const listed = await waitFor(async () => {
    const r = await trust('list', '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).find((c) => c.folder === 'rejected');
  }, 'the rejected certificate in `trust list`');
  assert.match(listed.thumbprint, /^[0-9a-f]{40}$/);
  assert.ok(listed.notAfter && listed.subject, JSON.stringify(listed));
  const table = await trust('list');
  assert.match(table.stdout, new RegExp(`rejected\\s+${listed.thumbprint}`));
  // The same through `fieldplane opcua trust`, whose --data is the data directory of `up`.
  const upData = tempDir('fp-up-layout-');
  mkdirSync(join(upData, 'connectors'));
  symlinkSync(dataDir, join(upData, 'connectors', 'opcua'));
  const viaCli = await run(BIN, ['opcua', 'trust', 'list', '--output', 'json', '--data', upData]);
  assert.equal(viaCli.code, 0, viaCli.stderr);
  assert.ok(JSON.parse(viaCli.stdout).some((c) => c.thumbprint === listed.thumbprint));

  const bad = await trust('accept', '0123456789abcdef');
  assert.equal(bad.code, 3, 'an unknown thumbprint is not found');
  assert.match(bad.stderr, /no rejected certificate/);
  assert.equal((await trust('accept', 'xyz')).code, 2);

  const acc = await trust('accept', listed.thumbprint.slice(0, 10).toUpperCase());
  assert.equal(acc.code, 0, acc.stderr);
  assert.match(acc.stdout, /accepted/);
  const after = JSON.parse((await trust('list', '-o', 'json')).stdout);
  assert.ok(after.some((c) => c.folder === 'trusted' && c.thumbprint === listed.thumbprint), JSON.stringify(after));
  assert.ok(!after.some((c) => c.folder === 'rejected' && c.thumbprint === listed.thumbprint));

  await waitFor(async () => (await health())?.status === 'Available', 'the session up after trust accept', 30000);
});

test('the peer is reported as a discovered device with its endpoints, security and authentication', async () => {
  const dev = await waitFor(async () => {
    const r = await reg.req('GET', `${API}/discoveredDevices/fieldplane-test-peer`);
    return r.status === 200 && r.body;
  }, 'discovered device fieldplane-test-peer', 30000);
  const p = dev.properties;
  assert.equal(p.model, 'Fieldplane OPC UA test peer');
  assert.equal(p.attributes.applicationUri, 'urn:fieldplane:test-peer');
  assert.ok(p.discoveryId && p.version >= 1);
  const inbound = p.endpoints.inbound;
  for (const name of ['none', 'basic256sha256-sign', 'basic256sha256-signandencrypt']) {
    assert.ok(inbound[name], `endpoint ${name} in ${Object.keys(inbound)}`);
    assert.equal(inbound[name].endpointType, 'Microsoft.OpcUa');
    assert.match(inbound[name].address, /^opc\.tcp:\/\//);
    assert.deepEqual([...inbound[name].supportedAuthenticationMethods].sort(), ['Anonymous', 'Certificate', 'UsernamePassword']);
  }
  const sec = JSON.parse(inbound['basic256sha256-signandencrypt'].additionalConfiguration).security;
  assert.deepEqual(sec, { securityPolicy: 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256', securityMode: 'signAndEncrypt' });
  assert.equal(JSON.parse(inbound.none.additionalConfiguration).security.securityMode, 'none');
});

test('objects with variables become discovered assets; a restart neither duplicates them nor bumps their version', async (t) => {
  const machine = await waitFor(async () => {
    const r = await reg.req('GET', `${API}/discoveredAssets/line-machine1`);
    return r.status === 200 && r.body;
  }, 'discovered asset line-machine1', 30000);
  const p = machine.properties;
  assert.deepEqual(p.deviceRef, { deviceName: 'line', endpointName: 'opc' });
  assert.equal(p.displayName, 'Machine1');
  assert.equal(p.datasets.length, 1);
  const ds = p.datasets[0];
  assert.equal(ds.name, 'default');
  assert.match(ds.dataSource, /^nsu=.*;s=Plant\.Area1\.Line1\.Machine1$/);
  const byName = Object.fromEntries(ds.dataPoints.map((d) => [d.name, d.dataSource]));
  assert.match(byName.Temperature, /^nsu=[^;]+;s=Plant\.Area1\.Line1\.Machine1\.Temperature$/);
  assert.match(byName.SerialNumber, /;s=Plant\.Area1\.Line1\.Machine1\.SerialNumber$/);
  // Properties of the object are not data points; folders without variables are not assets.
  assert.ok(!('EURange' in byName));

  await sleep(1000); // let the first round's writes settle
  const before1 = await discoveredAssets();
  const names = before1.map((a) => a.name).sort();
  t.diagnostic(`discovered assets: ${names.join(', ')}`);
  assert.ok(names.includes('line-scalars'), names.join(','));
  assert.ok(!names.some((n) => /server|methods|plant$/.test(n)), `unexpected assets: ${names}`);
  const versions = Object.fromEntries(before1.map((a) => [a.name, a.properties.version]));
  const devVersion = (await get(`${API}/discoveredDevices/fieldplane-test-peer`)).properties.version;

  // Restart the connector on the same data directory: the walk runs again on the new session.
  await conn.stopClean();
  assert.doesNotMatch(conn.log, /runtime error|AddressSanitizer|LeakSanitizer/);
  conn = await new Connector({ name: 'opcua', registry: reg, broker: mq, dataDir: conn.dataDir }).start();
  await waitFor(() => /asset discovery browsed/.test(conn.log), 'the second walk', 60000);
  await waitFor(() => /reported as discovered device/.test(conn.log), 'the second server discovery', 30000);
  await sleep(1500);
  const after1 = await discoveredAssets();
  assert.deepEqual(after1.map((a) => a.name).sort(), names, 'no new discovered assets');
  for (const a of after1) assert.equal(a.properties.version, versions[a.name], `version of ${a.name}`);
  assert.equal((await get(`${API}/discoveredDevices/fieldplane-test-peer`)).properties.version, devVersion);
});

test('a discovered asset onboarded with the CLI publishes its data', async () => {
  const sub = await new MqttSub(mq.port, `fieldplane/data/${NS}/#`).start();
  try {
    const r = await run(BIN, ['discovered', 'asset', 'onboard', 'line-machine1', '--namespace', NS, '--as', 'machine1', '-o', 'json'], {
      FIELDPLANE_URL: reg.url,
      FIELDPLANE_TOKEN: reg.token,
    });
    assert.equal(r.code, 0, r.stderr);
    const asset = await get(`${API}/assets/machine1`);
    assert.deepEqual(asset.properties.discoveredAssetRefs, ['line-machine1']);
    const m = await sub.waitFor((x) => x.topic === `fieldplane/data/${NS}/machine1/default` && x.json?.Temperature, 'a message of the onboarded asset', 30000);
    assert.equal(m.json.Temperature.Value, 21.5);
    assert.equal(m.props.subject, 'machine1/default');
  } finally {
    await sub.stop();
  }
});

test('trust add and remove; bad input is named', async () => {
  const list = JSON.parse((await trust('list', '-o', 'json')).stdout);
  const peerCert = list.find((c) => c.folder === 'trusted' && /test/i.test(c.subject + c.file)) ?? list.find((c) => c.folder === 'trusted');
  assert.ok(peerCert, JSON.stringify(list));

  const rm = await trust('remove', peerCert.thumbprint);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /removed/);
  assert.ok(!JSON.parse((await trust('list', '-o', 'json')).stdout).some((c) => c.thumbprint === peerCert.thumbprint && c.folder === 'trusted'));
  assert.equal((await trust('remove', peerCert.thumbprint)).code, 3);

  // Add it back from the peer's own PKI (node-opcua keeps it in own/certs).
  const own = join(peer.pki, 'own', 'certs');
  const files = existsSync(own) ? readdirSync(own).filter((f) => /\.(pem|der)$/.test(f)) : [];
  assert.ok(files.length > 0, `no certificate in ${own}`);
  const add = await trust('add', join(own, files[0]));
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`trusted ${peerCert.thumbprint}`));

  const junk = join(conn.dataDir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const bad = await trust('add', junk);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not an X\.509 certificate/);
  assert.equal((await trust('add', join(conn.dataDir, 'missing.pem'))).code, 2);
  assert.equal((await trust('frobnicate')).code, 2);
  const help = await run(connectorBin('opcua'), ['trust', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /DATA\/connectors\/opcua/);

  // The connector's own certificate, made at its start by a child process: the same one on
  // every call, with the client's URI.
  const own1 = await trust('own');
  assert.equal(own1.code, 0, own1.stderr);
  assert.match(own1.stdout, /^certificate: .*\/pki\/own\/certs\/cert\.der\nthumbprint: [0-9a-f]{40}\napplicationUri: urn:fieldplane:opcua-client\n$/);
  assert.equal((await trust('own')).stdout, own1.stdout);
  assert.equal((await trust('own', 'extra')).code, 2);
});

test('the connector stops cleanly (no sanitizer report)', async () => {
  await conn.stopClean();
  assert.doesNotMatch(conn.log, /runtime error|AddressSanitizer|LeakSanitizer/);
});
