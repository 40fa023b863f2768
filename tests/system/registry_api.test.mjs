// The registry's REST API over real HTTP: resources, ARM semantics, validation,
// preconditions, paging, filters, status, secrets, roles, audit, metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, readFixture } from './lib/registry.mjs';

const NS = '/api/v1/namespaces/plant-a';
let reg;

before(async () => {
  reg = await new Registry().start();
  assert.equal((await reg.req('PUT', NS, { properties: {} })).status, 201);
  assert.equal((await reg.req('PUT', `${NS}/secrets/plc-c01`, { data: { username: 'op', password: 'pw' } })).status, 201);
  assert.equal((await reg.req('PUT', `${NS}/secrets/plant3-ca`, { value: 'PEM' })).status, 201);
  const dev = await reg.req('PUT', `${NS}/devices/plc-c01`, readFixture('device-opcua-userpass.json'));
  assert.equal(dev.status, 201, dev.text);
});

after(async () => {
  await reg?.stopClean();
  await reg?.cleanup();
});

test('healthz is open, everything else needs a valid token', async () => {
  const h = await reg.req('GET', '/healthz', undefined, { token: null });
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok');
  const none = await reg.req('GET', '/api/v1/namespaces', undefined, { token: null });
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'Unauthorized');
  const bad = await reg.req('GET', '/api/v1/namespaces', undefined, { token: 'fpt_0000000000000000_' + '0'.repeat(48) });
  assert.equal(bad.status, 401);
  assert.equal((await reg.req('GET', '/metrics', undefined, { token: null })).status, 401);
  const who = await reg.req('GET', '/api/v1/whoami');
  assert.equal(who.body.role, 'admin');
});

test('the web UI gets the name rules the registry enforces as /ui/model.js', async () => {
  const res = await reg.req('GET', '/ui/model.js', undefined, { token: null });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  const { nameRules } = await import('data:text/javascript,' + encodeURIComponent(res.text));
  assert.deepEqual(Object.keys(nameRules),
    ['Namespace', 'Device', 'Asset', 'DiscoveredDevice', 'DiscoveredAsset', 'Schema', 'SchemaVersion', 'Secret']);
  assert.deepEqual(nameRules.Device, {
    minLength: 3, maxLength: 63, pattern: '^[0-9a-zA-Z][a-zA-Z0-9-]*$',
    text: "letters, digits and '-', starting with a letter or digit",
  });
  // The pattern says what the registry does: try it on names both ways.
  for (const [name, ok] of [['plc-1', true], ['-plc', false], ['PLC', false], ['ab', false]]) {
    const r = nameRules.DiscoveredDevice;
    assert.equal(new RegExp(r.pattern).test(name) && name.length >= r.minLength, ok, name);
    const put = await reg.req('PUT', `${NS}/discoveredDevices/${name}`, {
      properties: { discoveryId: 'scan-1', version: 1 },
    });
    assert.equal(put.status === 400, !ok, `${name}: ${put.text}`);
    if (ok) assert.equal((await reg.req('DELETE', `${NS}/discoveredDevices/${name}`)).status, 204);
  }
});

test('a device exported from Azure is accepted unchanged and echoed with server fields', async () => {
  const doc = readFixture('device-opcua-userpass.json');
  const got = await reg.req('GET', `${NS}/devices/plc-c01`);
  assert.equal(got.status, 200);
  const d = got.body;
  assert.equal(d.name, 'plc-c01');
  assert.equal(d.type, 'Microsoft.DeviceRegistry/namespaces/devices');
  assert.equal(d.location, doc.location);
  assert.deepEqual(d.tags, doc.tags);
  assert.match(d.properties.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(d.properties.version, 1);
  assert.equal(d.properties.provisioningState, 'Succeeded');
  assert.ok(d.systemData.createdAt && d.systemData.lastModifiedBy);
  assert.equal(got.headers.get('etag'), d.etag);
  for (const k of Object.keys(doc.properties)) {
    if (['uuid', 'version', 'provisioningState', 'status', 'lastTransitionTime'].includes(k)) continue;
    assert.deepEqual(d.properties[k], doc.properties[k], `properties.${k} echoed`);
  }
  // Putting back what GET answered changes nothing: same version, same ETag.
  const again = await reg.req('PUT', `${NS}/devices/plc-c01`, d);
  assert.equal(again.status, 200);
  assert.equal(again.body.properties.version, 1);
  assert.equal(again.headers.get('etag'), got.headers.get('etag'));
});

test('version rises on a spec change only; status writes keep version and ETag', async () => {
  const a0 = await reg.req('PUT', `${NS}/assets/press`, readFixture('asset-press.json'));
  assert.equal(a0.status, 201, a0.text);
  assert.equal(a0.body.properties.version, 1);
  assert.equal(a0.headers.get('location'), `${NS}/assets/press`);
  const p = await reg.req('PATCH', `${NS}/assets/press`, { properties: { description: 'new text' } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.properties.version, 2);
  assert.equal(p.body.properties.description, 'new text');
  assert.notEqual(p.headers.get('etag'), a0.headers.get('etag'));
  const st = await reg.req('PUT', `${NS}/assets/press/status`, { config: { version: 2 }, datasets: [{ name: 'hydraulics', error: { code: 'x', message: 'y' } }] });
  assert.equal(st.status, 200, st.text);
  assert.equal(st.body.properties.version, 2);
  assert.equal(st.headers.get('etag'), p.headers.get('etag'));
  assert.equal(st.body.properties.status.datasets[0].name, 'hydraulics');
  // A spec write keeps the status; PATCH of status merges.
  const p2 = await reg.req('PATCH', `${NS}/assets/press`, { properties: { description: 'again' } });
  assert.equal(p2.body.properties.status.config.version, 2);
  const sp = await reg.req('PATCH', `${NS}/assets/press/status`, { config: { version: 3 } });
  assert.equal(sp.body.properties.status.config.version, 3);
  assert.equal(sp.body.properties.status.datasets[0].name, 'hydraulics');
  const sg = await reg.req('GET', `${NS}/assets/press/status`);
  assert.equal(sg.body.config.version, 3);
  // PATCH with null removes a field (RFC 7396).
  const p3 = await reg.req('PATCH', `${NS}/assets/press`, { properties: { description: null } });
  assert.equal(p3.body.properties.description, undefined);
});

test('If-Match and If-None-Match give 412 on stale or existing resources', async () => {
  const cur = await reg.req('GET', `${NS}/devices/plc-c01`);
  const etag = cur.headers.get('etag');
  const stale = await reg.req('PATCH', `${NS}/devices/plc-c01`, { properties: { model: 'X' } }, { headers: { 'if-match': '"1234567"' } });
  assert.equal(stale.status, 412);
  assert.equal(stale.body.error.code, 'PreconditionFailed');
  const ok = await reg.req('PATCH', `${NS}/devices/plc-c01`, { properties: { model: 'X' } }, { headers: { 'if-match': etag } });
  assert.equal(ok.status, 200, ok.text);
  const again = await reg.req('PATCH', `${NS}/devices/plc-c01`, { properties: { model: 'Y' } }, { headers: { 'if-match': etag } });
  assert.equal(again.status, 412, 'the old ETag is stale now');
  const create = await reg.req('PUT', `${NS}/devices/plc-c01`, cur.body, { headers: { 'if-none-match': '*' } });
  assert.equal(create.status, 412);
  const missing = await reg.req('PUT', `${NS}/devices/nope`, cur.body, { headers: { 'if-match': '*' } });
  assert.ok([400, 412].includes(missing.status));
});

test('validation names the exact field, and a rejected request changes nothing', async () => {
  const before = await reg.req('GET', `${NS}/assets/press`);
  const rev0 = (await reg.req('GET', '/healthz')).body.revision;
  const bad = structuredClone(before.body);
  delete bad.properties.datasets[0].dataPoints[0].dataSource;
  const r = await reg.req('PUT', `${NS}/assets/press`, bad);
  assert.equal(r.status, 400);
  assert.equal(r.body.error.target, 'properties.datasets[0].dataPoints[0].dataSource');
  const after = await reg.req('GET', `${NS}/assets/press`);
  assert.deepEqual(after.body, before.body);
  assert.equal((await reg.req('GET', '/healthz')).body.revision, rev0);

  const cases = [
    [(d) => (d.properties.datasets[0].destinations = [{ target: 'Kafka', configuration: {} }]), 'properties.datasets[0].destinations[0].target'],
    [(d) => (d.properties.datasets[0].datasetConfiguration = 'not json'), 'properties.datasets[0].datasetConfiguration'],
    [(d) => d.properties.datasets.push(structuredClone(d.properties.datasets[0])), 'properties.datasets[1].name'],
  ];
  for (const [mutate, target] of cases) {
    const d = structuredClone(before.body);
    mutate(d);
    const res = await reg.req('PUT', `${NS}/assets/press`, d);
    assert.equal(res.status, 400, `${target}: ${res.text}`);
    assert.equal(res.body.error.target, target);
  }
  const ca = structuredClone(before.body);
  ca.properties.deviceRef = { deviceName: 'plc-c01', endpointName: 'other' };
  const cr = await reg.req('PUT', `${NS}/assets/press`, ca);
  assert.equal(cr.status, 400);
  assert.match(cr.body.error.target, /deviceRef/);

  const unknownDev = readFixture('asset-press.json');
  unknownDev.properties.deviceRef.deviceName = 'ghost';
  const ud = await reg.req('PUT', `${NS}/assets/orphan`, unknownDev);
  assert.equal(ud.status, 400);
  assert.equal(ud.body.error.code, 'UnknownReference');
  assert.equal((await reg.req('GET', `${NS}/assets/orphan`)).status, 404);

  const badName = await reg.req('PUT', '/api/v1/namespaces/Bad_Name', { properties: {} });
  assert.equal(badName.status, 400);
  assert.equal(badName.body.error.code, 'InvalidName');
  assert.equal(badName.body.error.target, 'name');
  assert.equal(badName.body.error.message,
    "namespace name \"Bad_Name\" may hold only lowercase letters, digits and '-' (not 'B')");

  // A discovered device named "-plc": the connector runtime used to report it and the
  // registry refused it. Both now check with lib/model, and the runtime logs these very
  // words (tests/unit/test_connector_ops.c expects the same string).
  const plc = await reg.req('PUT', `${NS}/discoveredDevices/-plc`, {
    properties: { discoveryId: 'scan-1', version: 1 },
  });
  assert.equal(plc.status, 400, plc.text);
  assert.equal(plc.body.error.code, 'InvalidName');
  assert.equal(plc.body.error.target, 'name');
  assert.equal(plc.body.error.message,
    'discovered device name "-plc" must start with a lowercase letter or digit');
  assert.equal((await reg.req('GET', `${NS}/discoveredDevices/-plc`)).status, 404);
});

test('malformed JSON reports line and column; bodies over the limit get 413', async () => {
  const r = await reg.req('PUT', `${NS}/devices/xx-1`, '{\n  "properties": {\n    "enabled": tru\n  }\n}');
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'InvalidJson');
  assert.match(r.body.error.message, /line 3, column \d+/);
  const big = '{"properties":{"description":"' + 'x'.repeat(5 * 1024 * 1024) + '"}}';
  const t = await reg.req('PUT', `${NS}/devices/xx-2`, big);
  assert.equal(t.status, 413);
  assert.equal((await reg.req('GET', `${NS}/devices/xx-2`)).status, 404);
});

test('the older events[] shape is mapped onto eventGroups', async () => {
  const r = await reg.req('PUT', `${NS}/assets/legacy`, readFixture('asset-legacy-events.json'));
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.properties.events, undefined);
  assert.ok(r.body.properties.eventGroups.length >= 1);
  assert.ok(r.body.properties.eventGroups[0].events.length >= 1);
});

test('lists page with nextLink and filter by prefix, tag, deviceRef and endpointType', async () => {
  const base = readFixture('asset-press.json');
  for (let i = 0; i < 25; i++) {
    const d = structuredClone(base);
    d.tags = { line: i % 2 ? 'odd' : 'even' };
    d.properties.externalAssetId = `PAGE-${i}`;
    const r = await reg.req('PUT', `${NS}/assets/page-${String(i).padStart(2, '0')}`, d);
    assert.equal(r.status, 201, r.text);
  }
  const names = [];
  let link = `${NS}/assets?top=10&namePrefix=page-`;
  let pages = 0;
  while (link) {
    const r = await reg.req('GET', link);
    assert.equal(r.status, 200);
    assert.ok(Number.isInteger(r.body.revision));
    names.push(...r.body.value.map((a) => a.name));
    link = r.body.nextLink;
    pages++;
  }
  assert.equal(pages, 3);
  assert.equal(names.length, 25);
  assert.deepEqual(names, [...names].sort());
  const odd = await reg.req('GET', `${NS}/assets?namePrefix=page-&tag=line=odd&top=1000`);
  assert.equal(odd.body.value.length, 12);
  const odd5 = await reg.req('GET', `${NS}/assets?namePrefix=page-&tag=line=odd&top=5`);
  assert.equal(odd5.body.value.length, 5);
  assert.match(odd5.body.nextLink, /tag=line%3Dodd/);
  const byDev = await reg.req('GET', `${NS}/assets?deviceRef=plc-c01&top=1000`);
  assert.ok(byDev.body.value.length >= 26);
  assert.equal((await reg.req('GET', `${NS}/assets?deviceRef=ghost`)).body.value.length, 0);
  const opc = await reg.req('GET', `${NS}/devices?endpointType=microsoft.OPCUA`);
  assert.deepEqual(opc.body.value.map((d) => d.name), ['plc-c01']);
  assert.equal((await reg.req('GET', `${NS}/devices?endpointType=Microsoft.Onvif`)).body.value.length, 0);
  assert.equal((await reg.req('GET', `${NS}/assets?top=0`)).status, 400);
});

test('deleting a referenced device is refused with 409 unless cascade', async () => {
  await reg.req('PUT', '/api/v1/namespaces/plant-del', { properties: {} });
  const dev = readFixture('device-opcua-userpass.json');
  await reg.req('PUT', '/api/v1/namespaces/plant-del/secrets/plc-c01', { data: { username: 'a', password: 'b' } });
  await reg.req('PUT', '/api/v1/namespaces/plant-del/secrets/plant3-ca', { value: 'x' });
  assert.equal((await reg.req('PUT', '/api/v1/namespaces/plant-del/devices/plc-c01', dev)).status, 201);
  assert.equal((await reg.req('PUT', '/api/v1/namespaces/plant-del/assets/asset-1', readFixture('asset-press.json'))).status, 201);
  const r = await reg.req('DELETE', '/api/v1/namespaces/plant-del/devices/plc-c01');
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'StillReferenced');
  assert.equal(r.body.error.details[0].message, 'asset-1');
  const ns = await reg.req('DELETE', '/api/v1/namespaces/plant-del');
  assert.equal(ns.status, 409);
  assert.equal((await reg.req('DELETE', '/api/v1/namespaces/plant-del/devices/plc-c01?cascade=true')).status, 204);
  assert.equal((await reg.req('GET', '/api/v1/namespaces/plant-del/assets/asset-1')).status, 404);
  assert.equal((await reg.req('DELETE', '/api/v1/namespaces/plant-del?cascade=true')).status, 204);
  assert.equal((await reg.req('GET', '/api/v1/namespaces/plant-del')).status, 404);
  assert.equal((await reg.req('GET', '/api/v1/namespaces/plant-del/secrets/plc-c01')).status, 404);
});

test('create-only fields cannot change', async () => {
  const r = await reg.req('PATCH', `${NS}/assets/press`, { properties: { externalAssetId: 'OTHER' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'CreateOnlyField');
  assert.equal(r.body.error.target, 'properties.externalAssetId');
});

test('secrets are write-only: names and keys in GET, values only for admin and connector', async () => {
  const meta = await reg.req('GET', `${NS}/secrets/plc-c01`);
  assert.equal(meta.status, 200);
  assert.deepEqual(meta.body.properties.keys.sort(), ['password', 'username']);
  assert.ok(!meta.text.includes('pw'));
  const list = await reg.req('GET', `${NS}/secrets`);
  assert.ok(!list.text.includes('"pw"'));
  const val = await reg.req('GET', `${NS}/secrets/plc-c01/value`);
  assert.deepEqual(val.body.data, { username: 'op', password: 'pw' });
  const conn = reg.tokenFor('connector');
  assert.equal((await reg.req('GET', `${NS}/secrets/plc-c01/value`, undefined, { token: conn })).status, 200);
  const viewer = reg.tokenFor('viewer');
  assert.equal((await reg.req('GET', `${NS}/secrets/plc-c01/value`, undefined, { token: viewer })).status, 403);
  const op = reg.tokenFor('operator');
  assert.equal((await reg.req('GET', `${NS}/secrets/plc-c01/value`, undefined, { token: op })).status, 403);
  const w = await reg.req('PUT', `${NS}/secrets/plc-c01`, { data: { username: 'op', password: 'new' } }, { token: op });
  assert.equal(w.status, 200);
  assert.equal((await reg.req('PUT', `${NS}/secrets/bad`, { data: { k: 1 } })).status, 400);
});

test('roles and namespace-limited tokens', async () => {
  const viewer = reg.tokenFor('viewer');
  assert.equal((await reg.req('GET', `${NS}/devices/plc-c01`, undefined, { token: viewer })).status, 200);
  const vw = await reg.req('PATCH', `${NS}/devices/plc-c01`, { properties: { model: 'V' } }, { token: viewer });
  assert.equal(vw.status, 403);
  assert.equal(vw.body.error.code, 'Forbidden');
  const conn = reg.tokenFor('connector');
  assert.equal((await reg.req('PATCH', `${NS}/devices/plc-c01`, { properties: { model: 'C' } }, { token: conn })).status, 403);
  const cs = await reg.req('PUT', `${NS}/devices/plc-c01/status`, { config: { version: 1 } }, { token: conn });
  assert.equal(cs.status, 200, cs.text);
  assert.equal(cs.body.systemData.lastModifiedByType, 'User', 'status writes do not touch systemData of the spec');
  const dd = await reg.req('PUT', `${NS}/discoveredDevices/found-1`, readFixture('discovered-device.json'), { token: conn });
  assert.equal(dd.status, 201, dd.text);
  assert.equal(dd.body.systemData.createdByType, 'Application');
  assert.equal(dd.body.properties.version, 3, 'a discovered resource keeps its own version');
  const op = reg.tokenFor('operator');
  assert.equal((await reg.req('PUT', '/api/v1/namespaces/new-one', { properties: {} }, { token: op })).status, 403);
  const limited = reg.tokenFor('operator', 'plant-a');
  assert.equal((await reg.req('GET', `${NS}/devices/plc-c01`, undefined, { token: limited })).status, 200);
  await reg.req('PUT', '/api/v1/namespaces/plant-b', { properties: {} });
  assert.equal((await reg.req('GET', '/api/v1/namespaces/plant-b/devices', undefined, { token: limited })).status, 403);
  const nsList = await reg.req('GET', '/api/v1/namespaces', undefined, { token: limited });
  assert.deepEqual(nsList.body.value.map((n) => n.name), ['plant-a']);
  assert.equal((await reg.req('GET', '/api/v1/audit', undefined, { token: conn })).status, 403);
});

test('schemas and versions: hash set by the server, content immutable', async () => {
  assert.equal((await reg.req('PUT', `${NS}/schemas/press`, readFixture('schema.json'))).status, 201);
  const v = await reg.req('PUT', `${NS}/schemas/press/versions/1`, readFixture('schema-version.json'));
  assert.equal(v.status, 201, v.text);
  assert.match(v.body.properties.hash, /^[0-9a-f]{64}$/);
  assert.equal(v.body.name, '1');
  const other = readFixture('schema-version.json');
  other.properties.schemaContent = '{"type":"object"}';
  assert.equal((await reg.req('PUT', `${NS}/schemas/press/versions/1`, other)).status, 409);
  assert.equal((await reg.req('PUT', `${NS}/schemas/press/versions/2`, other)).status, 201);
  assert.equal((await reg.req('PUT', `${NS}/schemas/press/versions/10`, other)).status, 201);
  const list = await reg.req('GET', `${NS}/schemas/press/versions`);
  assert.deepEqual(list.body.value.map((x) => x.name), ['1', '2', '10']);
  assert.equal((await reg.req('PUT', `${NS}/schemas/ghost/versions/1`, other)).status, 404);
  assert.equal((await reg.req('DELETE', `${NS}/schemas/press`)).status, 204);
  assert.equal((await reg.req('GET', `${NS}/schemas/press/versions/1`)).status, 404);
});

test('the audit log records who changed what', async () => {
  const r = await reg.req('GET', '/api/v1/audit?namespace=plant-a&kind=Asset&name=press');
  assert.equal(r.status, 200);
  const actions = r.body.value.map((e) => e.action);
  assert.ok(actions.includes('create') && actions.includes('update') && actions.includes('status'));
  for (const e of r.body.value) {
    assert.ok(e.tokenId && e.time && e.revision);
  }
  // excludeAction leaves out the connectors' status writes, and nothing else.
  const people = await reg.req('GET', '/api/v1/audit?namespace=plant-a&kind=Asset&name=press&excludeAction=status');
  assert.equal(people.status, 200);
  assert.deepEqual(people.body.value.map((e) => e.action), actions.filter((a) => a !== 'status'));
  const s = await reg.req('GET', '/api/v1/audit?kind=Secret&top=2');
  assert.equal(s.body.value.length, 2);
  assert.ok(s.body.nextLink);
  const next = await reg.req('GET', s.body.nextLink);
  assert.ok(next.body.value[0].revision < s.body.value[1].revision);
});

test('metrics count requests by route and code', async () => {
  const m = await reg.req('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /fieldplane_http_requests_total\{route="assets",code="201"\} \d+/);
  assert.match(m.text, /fieldplane_http_request_duration_seconds_bucket\{route="assets",le="\+Inf"\} \d+/);
  assert.match(m.text, /fieldplane_resources\{kind="Asset"\} \d+/);
  assert.match(m.text, /fieldplane_watch_clients 0/);
});

test('unknown paths and methods answer clearly', async () => {
  assert.equal((await reg.req('GET', '/api/v1/nothing')).status, 404);
  assert.equal((await reg.req('POST', `${NS}/devices`, {})).status, 405);
  assert.equal((await reg.req('GET', `${NS}/gadgets`)).status, 404);
  assert.equal((await reg.req('GET', '/api/v1/namespaces/ghost/devices')).status, 404);
});

test('review fixes: no namespace leak by prefix, secrets in use, discovered status kept, 405s', async () => {
  await reg.req('PUT', '/api/v1/namespaces/plant', { properties: {} });
  const limited = reg.tokenFor('viewer', 'plant');
  const l = await reg.req('GET', '/api/v1/namespaces', undefined, { token: limited });
  assert.deepEqual(l.body.value.map((n) => n.name), ['plant'], 'plant-a and plant-b stay hidden');
  const limitedAdmin = reg.tokenFor('admin', 'plant');
  assert.equal((await reg.req('DELETE', '/api/v1/namespaces/plant', undefined, { token: limitedAdmin })).status, 403);
  const audit = await reg.req('GET', '/api/v1/audit?namespace=plant&kind=Namespace');
  assert.equal(audit.body.value[0].name, 'plant');
  assert.equal(audit.body.value[0].namespace, 'plant');

  const del = await reg.req('DELETE', `${NS}/secrets/plc-c01`);
  assert.equal(del.status, 409);
  assert.equal(del.body.error.code, 'StillReferenced');
  assert.equal(del.body.error.details[0].message, 'plc-c01');
  assert.equal((await reg.req('GET', `${NS}/secrets/plc-c01`)).status, 200, 'nothing was deleted');

  const conn = reg.tokenFor('connector');
  await reg.req('PUT', `${NS}/discoveredDevices/found-2`, readFixture('discovered-device.json'), { token: conn });
  await reg.req('PUT', `${NS}/discoveredDevices/found-2/status`, { config: { version: 3 } }, { token: conn });
  const again = await reg.req('PATCH', `${NS}/discoveredDevices/found-2`, { properties: { model: 'M2' } }, { token: conn });
  assert.equal(again.body.properties.status.config.version, 3, 'a spec write keeps the status');
  const byType = await reg.req('GET', `${NS}/discoveredDevices?endpointType=Microsoft.OpcUa`);
  assert.ok(byType.body.value.some((d) => d.name === 'found-2'));

  assert.equal((await reg.req('POST', '/api/v1/whoami', {})).status, 405);
  assert.equal((await reg.req('DELETE', '/metrics')).status, 405);
  const tags = Array.from({ length: 9 }, (_, i) => `tag=t${i}`).join('&');
  assert.equal((await reg.req('GET', `${NS}/assets?${tags}`)).status, 400);
  assert.equal((await reg.req('GET', '/api/v1/audit?top=5000')).status, 400);
  assert.equal((await reg.req('PUT', `${NS}/Device/plc-c01/status`, { config: {} })).status, 404);
});
