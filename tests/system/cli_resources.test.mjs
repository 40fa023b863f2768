// System test of the fieldplane command against a real registry: namespace,
// device (with every inbound endpoint type) and asset commands with all their
// sub-groups, golden table/JSON/YAML outputs, concurrent edits through
// If-Match, and the documented exit codes for bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Registry, freePort } from './lib/registry.mjs';
import { Cli, mask, golden, tokenId } from './cli_helpers.mjs';

let reg;
let cli;
const NS = ['--namespace', 'plant-a'];

before(async () => {
  reg = await new Registry().start();
  cli = new Cli(reg);
  cli.ok(['namespace', 'create', 'plant-a', '--tag', 'site=lyon']);
});

after(async () => {
  if (cli) rmSync(cli.home, { recursive: true, force: true });
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

test('namespace create, show, list, update, delete', () => {
  const created = cli.ok(['namespace', 'create', 'scratch-ns', '-o', 'json']).json();
  assert.equal(created.name, 'scratch-ns');
  assert.equal(cli.ok(['namespace', 'show', 'scratch-ns']).json().properties.provisioningState, 'Succeeded');
  const names = cli.ok(['namespace', 'list']).json().map((n) => n.name);
  assert.deepEqual(names, ['plant-a', 'scratch-ns']);
  const upd = cli.ok(['namespace', 'update', 'scratch-ns', '--tag', 'owner=ops']).json();
  assert.equal(upd.tags.owner, 'ops');
  assert.equal(cli.run(['namespace', 'create', 'scratch-ns']).code, 4);
  cli.ok(['namespace', 'delete', 'scratch-ns', '--yes']);
  assert.equal(cli.run(['namespace', 'show', 'scratch-ns']).code, 3);
});

test('namespace messaging endpoints: --endpoint and --remove-endpoint', () => {
  const created = cli
    .ok([
      'namespace', 'create', 'msg-ns',
      '--endpoint', 'broker=Microsoft.Mqtt,mqtts://broker.msg:8883',
      '--endpoint', 'plain=mqtt://edge,with,commas:1883',
      '-o', 'json',
    ])
    .json();
  assert.deepEqual(created.properties.messaging.endpoints, {
    broker: { endpointType: 'Microsoft.Mqtt', address: 'mqtts://broker.msg:8883' },
    plain: { address: 'mqtt://edge,with,commas:1883' },
  });
  // update adds one, replaces one by name, removes one, and keeps the rest.
  const upd = cli
    .ok([
      'namespace', 'update', 'msg-ns',
      '--endpoint', 'cloud=mqtts://cloud:8883',
      '--endpoint', 'broker=Microsoft.Mqtt,mqtts://broker2.msg:8883',
      '--remove-endpoint', 'plain',
      '--tag', 'k=v',
    ])
    .json();
  assert.deepEqual(upd.properties.messaging.endpoints, {
    broker: { endpointType: 'Microsoft.Mqtt', address: 'mqtts://broker2.msg:8883' },
    cloud: { address: 'mqtts://cloud:8883' },
  });
  assert.equal(upd.tags.k, 'v');
  const table = cli.ok(['namespace', 'show', 'msg-ns', '-o', 'table']).out;
  assert.match(table, /broker,cloud/);
  // Malformed specs are usage errors that say what is wrong; nothing is sent.
  let r = cli.run(['namespace', 'update', 'msg-ns', '--endpoint', 'noequals']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--endpoint: 'noequals' is not NAME=TYPE,ADDRESS/);
  r = cli.run(['namespace', 'update', 'msg-ns', '--endpoint', 'x=Microsoft.Mqtt,']);
  assert.equal(r.code, 2);
  assert.match(r.err, /the address in 'x=Microsoft.Mqtt,' is empty/);
  r = cli.run(['namespace', 'create', 'msg-ns-2', '--remove-endpoint', 'x']);
  assert.equal(r.code, 2);
  assert.match(cli.ok(['namespace', 'update', '--help']).out, /--endpoint NAME=TYPE,ADDRESS/);
  cli.ok(['namespace', 'delete', 'msg-ns', '--yes']);
});

test('device commands and every inbound endpoint type', () => {
  cli.ok(['secret', 'set', 'opc-user', ...NS], { input: 'operator\n' });
  cli.ok(['secret', 'set', 'opc-pass', ...NS], { input: 's3cret\n' });
  const dev = cli.ok(['device', 'create', 'press-1', ...NS, '--manufacturer', 'Contoso', '--model', 'P1',
    '--attr', 'line=3', '--os', 'linux', '--external-id', 'ext-press-1']).json();
  assert.equal(dev.properties.attributes.line, '3');
  assert.equal(dev.properties.externalDeviceId, 'ext-press-1');

  const opc = cli.ok(['device', 'endpoint', 'inbound', 'add', 'opcua', ...NS, '--device', 'press-1', '--name', 'main',
    '--address', 'opc.tcp://10.0.0.5:4840', '--security-policy', 'Basic256Sha256', '--security-mode', 'signAndEncrypt',
    '--user-ref', 'opc-user', '--password-ref', 'opc-pass', '--publishing-interval', '500', '--session-timeout', '30000',
    '--accept-untrusted-certs', '--app', 'fieldplane']).json();
  assert.equal(opc.authentication.method, 'UsernamePassword');
  const cfg = JSON.parse(opc.additionalConfiguration);
  assert.equal(cfg.security.securityPolicy, 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256');
  assert.equal(cfg.security.securityMode, 'signAndEncrypt');
  assert.equal(cfg.security.autoAcceptUntrustedServerCertificates, true);
  assert.equal(cfg.defaults.publishingIntervalMilliseconds, 500);
  assert.equal(cfg.session.timeoutMilliseconds, 30000);
  assert.equal(cfg.applicationName, 'fieldplane');

  const more = [
    ['rest', 'http://10.0.0.7/api', 'Microsoft.Http', []],
    ['sse', 'http://10.0.0.7/events', 'Microsoft.SSEHttp', []],
    ['onvif', 'http://10.0.0.9/onvif', 'Microsoft.Onvif', ['--accept-invalid-certs']],
    ['media', 'rtsp://10.0.0.9:554/s1', 'Microsoft.Media', []],
    ['mqtt', 'mqtt://10.0.0.3:1883', 'Microsoft.Mqtt', ['--topic-filter', 'plc/#']],
    ['modbus', 'modbus-tcp://10.0.0.4:502', 'Fieldplane.Modbus', ['--unit-id', '3', '--timeout', '500']],
    ['custom', 'tcp://10.0.0.4:502', 'Contoso.Modbus', ['--endpoint-type', 'Contoso.Modbus', '--config', '{"unitId":1}']],
  ];
  for (const [type, addr, want, extra] of more) {
    const ep = cli.ok(['device', 'endpoint', 'inbound', 'add', type, ...NS, '--device', 'press-1', '--name', `ep-${type}`,
      '--address', addr, ...extra]).json();
    assert.equal(ep.endpointType, want);
    assert.equal(ep.authentication.method, 'Anonymous');
  }
  const list = cli.ok(['device', 'endpoint', 'list', ...NS, '--device', 'press-1']).json();
  assert.equal(list.length, 8);
  assert.equal(JSON.parse(list.find((e) => e.name === 'ep-mqtt').additionalConfiguration).topicFilter, 'plc/#');
  assert.deepEqual(JSON.parse(list.find((e) => e.name === 'ep-modbus').additionalConfiguration), { unitId: 3, timeoutMilliseconds: 500 });
  // Adding the same name again conflicts; --replace replaces it.
  assert.equal(cli.run(['device', 'endpoint', 'inbound', 'add', 'rest', ...NS, '--device', 'press-1', '--name', 'ep-rest',
    '--address', 'http://x']).code, 4);
  cli.ok(['device', 'endpoint', 'inbound', 'add', 'rest', ...NS, '--device', 'press-1', '--name', 'ep-rest',
    '--address', 'http://x', '--replace']);
  cli.ok(['device', 'endpoint', 'inbound', 'remove', ...NS, '--device', 'press-1', '--name', 'ep-sse']);
  assert.equal(cli.run(['device', 'endpoint', 'inbound', 'remove', ...NS, '--device', 'press-1', '--name', 'ep-sse']).code, 3);
  // Typed flags are checked before anything is sent.
  const bad = cli.run(['device', 'endpoint', 'inbound', 'add', 'opcua', ...NS, '--device', 'press-1', '--name', 'x',
    '--address', 'opc.tcp://x', '--security-mode', 'loud']);
  assert.equal(bad.code, 2);

  const upd = cli.ok(['device', 'update', 'press-1', ...NS, '--model', 'P2', '--enabled', 'false', '--remove-attr', 'line']).json();
  assert.equal(upd.properties.model, 'P2');
  assert.equal(upd.properties.enabled, false);
  assert.equal(upd.properties.attributes?.line, undefined);
  assert.equal(Object.keys(upd.properties.endpoints.inbound).length, 7);
  // Create-only fields are not offered by update.
  assert.equal(cli.run(['device', 'update', 'press-1', ...NS, '--os', 'x']).code, 2);

  const byType = cli.ok(['device', 'list', ...NS, '--endpoint-type', 'microsoft.opcua']).json();
  assert.deepEqual(byType.map((d) => d.name), ['press-1']);
  cli.ok(['device', 'update', 'press-1', ...NS, '--enabled', 'true']);
});

test('asset commands and all sub-groups', () => {
  const a = cli.ok(['asset', 'create', 'oven-1', ...NS, '--device', 'press-1', '--endpoint', 'main',
    '--display-name', 'Oven 1', '--manufacturer', 'Contoso', '--serial-number', 'SN-1', '--attr', 'zone=A',
    '--dataset-publishing-interval', '1000', '--dataset-dest', 'topic=plant/oven-1', 'qos=1', 'retain=Never', 'ttl=30']).json();
  assert.equal(a.properties.deviceRef.deviceName, 'press-1');
  assert.deepEqual(a.properties.defaultDatasetsDestinations, [
    { target: 'Mqtt', configuration: { topic: 'plant/oven-1', qos: 'Qos1', retain: 'Never', ttl: 30 } },
  ]);
  assert.equal(JSON.parse(a.properties.defaultDatasetsConfiguration).publishingInterval, 1000);
  // The device and endpoint are required to create an asset.
  assert.equal(cli.run(['asset', 'create', 'oven-2', ...NS]).code, 2);

  const A = [...NS, '--asset', 'oven-1'];
  const groups = [
    ['dataset', [], ['--name', 'line', '--data-source', 'ns=3;s=Line', '--queue-size', '2', '--dest', 'key=oven-line'], 'datasets'],
    ['datapoint', ['--dataset', 'line'], ['--name', 'temp', '--data-source', 'ns=3;s=Temp', '--sampling-interval', '250'], null],
    ['event-group', [], ['--name', 'alarms', '--data-source', 'ns=3;s=Alarms', '--dest', 'topic=plant/alarms'], 'eventGroups'],
    ['event', ['--event-group', 'alarms'], ['--name', 'overheat', '--data-source', 'ns=3;s=Overheat', '--queue-size', '5'], null],
    ['stream', [], ['--name', 'snap', '--task-type', 'snapshot-to-mqtt', '--dest', 'path=/data/snap'], 'streams'],
    ['mgmt-group', [], ['--name', 'control', '--default-topic', 'plant/control', '--default-timeout', '30'], 'managementGroups'],
    ['mgmt-action', ['--mgmt-group', 'control'], ['--name', 'start', '--target-uri', 'ns=3;s=Start', '--action-type', 'Call'], null],
  ];
  for (const [word, parent, fields] of groups) {
    const added = cli.ok(['asset', word, 'add', ...A, ...parent, ...fields]).json();
    assert.equal(added.name, fields[1]);
    assert.equal(cli.run(['asset', word, 'add', ...A, ...parent, ...fields]).code, 4, `${word} twice`);
    const listed = cli.ok(['asset', word, 'list', ...A, ...parent]).json();
    assert.deepEqual(listed.map((x) => x.name), [fields[1]]);
    const shown = cli.ok(['asset', word, 'show', ...A, ...parent, '--name', fields[1]]).json();
    assert.equal(shown.name, fields[1]);
    const updated = cli.ok(['asset', word, 'update', ...A, ...parent, '--name', fields[1], '--type-ref', `${word}-type`]).json();
    assert.equal(updated.typeRef, `${word}-type`);
    assert.equal(cli.run(['asset', word, 'show', ...A, ...parent, '--name', 'nope']).code, 3);
  }
  const doc = cli.ok(['asset', 'show', 'oven-1', ...NS]).json().properties;
  assert.equal(doc.datasets[0].dataPoints[0].dataSource, 'ns=3;s=Temp');
  assert.deepEqual(doc.datasets[0].destinations, [{ target: 'BrokerStateStore', configuration: { key: 'oven-line' } }]);
  assert.equal(doc.eventGroups[0].events[0].name, 'overheat');
  assert.equal(JSON.parse(doc.streams[0].streamConfiguration).taskType, 'snapshot-to-mqtt');
  assert.equal(doc.managementGroups[0].actions[0].targetUri, 'ns=3;s=Start');
  assert.equal(doc.managementGroups[0].defaultTimeoutInSeconds, 30);
  // A parent that does not exist.
  assert.equal(cli.run(['asset', 'datapoint', 'list', ...A, '--dataset', 'nope']).code, 3);

  // Remove in reverse order.
  for (const [word, parent, fields] of [...groups].reverse()) {
    cli.ok(['asset', word, 'remove', ...A, ...parent, '--name', fields[1]]);
    assert.equal(cli.run(['asset', word, 'remove', ...A, ...parent, '--name', fields[1]]).code, 3);
  }
  cli.ok(['asset', 'dataset', 'add', ...A, '--name', 'line']);

  const q = cli.ok(['asset', 'query', ...NS, '--device', 'press-1', '--manufacturer', 'Contoso']).json();
  assert.deepEqual(q.map((x) => x.name), ['oven-1']);
  assert.deepEqual(cli.ok(['asset', 'query', ...NS, '--manufacturer', 'Other']).json(), []);
  const upd = cli.ok(['asset', 'update', 'oven-1', ...NS, '--serial-number', 'SN-2', '--desc', 'the oven']).json();
  assert.equal(upd.properties.serialNumber, 'SN-2');
  assert.equal(upd.properties.description, 'the oven');
});

test('golden outputs: table, JSON and YAML', () => {
  cli.ok(['device', 'create', 'golden-1', ...NS, '--manufacturer', 'Contoso', '--model', 'G1', '--attr', 'a=1']);
  cli.ok(['device', 'endpoint', 'inbound', 'add', 'rest', ...NS, '--device', 'golden-1', '--name', 'api', '--address', 'http://10.1.1.1/']);
  const id = tokenId(reg.token);
  for (const fmt of ['table', 'json', 'yaml']) {
    golden(`device-show.${fmt}`, mask(cli.ok(['device', 'show', 'golden-1', ...NS, '-o', fmt]).out, id));
    golden(`device-list.${fmt}`, mask(cli.ok(['device', 'list', ...NS, '--name-prefix', 'golden', '-o', fmt]).out, id));
    golden(`endpoint-list.${fmt}`, mask(cli.ok(['device', 'endpoint', 'list', ...NS, '--device', 'golden-1', '-o', fmt]).out, id));
  }
  golden('namespace-list.table', mask(cli.ok(['namespace', 'list', '-o', 'table']).out, id));
  cli.ok(['device', 'delete', 'golden-1', ...NS, '--yes']);
});

test('concurrent edits are merged through If-Match, none is lost', async () => {
  cli.ok(['asset', 'dataset', 'add', ...NS, '--asset', 'oven-1', '--name', 'busy']);
  const runs = [];
  for (let i = 0; i < 6; i++) {
    runs.push(cli.spawn(['asset', 'datapoint', 'add', ...NS, '--asset', 'oven-1', '--dataset', 'busy',
      '--name', `p${i}`, '--data-source', `ns=3;s=P${i}`]).done);
  }
  const results = await Promise.all(runs);
  for (const r of results) assert.equal(r.code, 0, r.err);
  const names = cli.ok(['asset', 'datapoint', 'list', ...NS, '--asset', 'oven-1', '--dataset', 'busy']).json().map((p) => p.name);
  assert.deepEqual(names.sort(), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
});

test('errors: the documented exit codes and the server field path', async () => {
  // Usage: unknown command, unknown flag, missing flag.
  let r = cli.run(['device', 'frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command 'frobnicate'/);
  r = cli.run(['device', 'create', 'x', ...NS, '--colour', 'red']);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown flag --colour/);
  assert.equal(cli.run(['device', 'create', 'x']).code, 2);
  // Not found.
  r = cli.run(['device', 'show', 'ghost', ...NS]);
  assert.equal(r.code, 3);
  assert.match(r.err, /NotFound/);
  // Conflict: create twice; delete a referenced device.
  assert.equal(cli.run(['device', 'create', 'press-1', ...NS]).code, 4);
  r = cli.run(['device', 'delete', 'press-1', ...NS, '--yes']);
  assert.equal(r.code, 4);
  assert.match(r.err, /oven-1|StillReferenced/);
  // Invalid: the server's field path is shown.
  r = cli.run(['asset', 'create', 'bad-ref', ...NS, '--device', 'press-1', '--endpoint', 'no-such-endpoint']);
  assert.equal(r.code, 7);
  assert.match(r.err, /field: properties\.deviceRef/);
  r = cli.run(['device', 'create', 'Bad_Name', ...NS]);
  assert.equal(r.code, 7);
  assert.match(r.err, /device name "Bad_Name" may hold only letters, digits and '-' \(not '_'\)/);
  // Unauthorized: unknown token, and a viewer writing.
  r = cli.run(['device', 'list', ...NS], { env: { FIELDPLANE_TOKEN: 'fpt_0000_nope' } });
  assert.equal(r.code, 5);
  const viewer = reg.tokenFor('viewer');
  r = cli.run(['device', 'create', 'v-1', ...NS], { env: { FIELDPLANE_TOKEN: viewer } });
  assert.equal(r.code, 5);
  // Unreachable.
  const port = await freePort();
  r = cli.run(['device', 'list', ...NS], { env: { FIELDPLANE_URL: `http://127.0.0.1:${port}` } });
  assert.equal(r.code, 6);
  assert.match(r.err, /cannot reach the registry/);
  r = cli.run(['device', 'list', ...NS, '--server', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 6);
});

test('delete with --yes and cascade', () => {
  cli.ok(['device', 'create', 'tmp-dev', ...NS]);
  cli.ok(['device', 'endpoint', 'inbound', 'add', 'rest', ...NS, '--device', 'tmp-dev', '--name', 'e', '--address', 'http://x']);
  cli.ok(['asset', 'create', 'tmp-asset', ...NS, '--device', 'tmp-dev', '--endpoint', 'e']);
  assert.equal(cli.run(['device', 'delete', 'tmp-dev', ...NS, '--yes']).code, 4);
  cli.ok(['device', 'delete', 'tmp-dev', ...NS, '--yes', '--cascade']);
  assert.equal(cli.run(['asset', 'show', 'tmp-asset', ...NS]).code, 3);
});
