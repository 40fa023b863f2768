// System test of `apply` and `export`: an ARM template, an Azure-exported ARM
// document and Kubernetes custom resources applied; --dry-run; bad documents
// rejected before anything is written; and export -> delete -> apply round
// trips in both formats giving identical resources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, SOURCE_DIR } from './lib/registry.mjs';
import { Cli, FIXTURES } from './cli_helpers.mjs';

let reg;
let cli;
const APPLY = join(FIXTURES, 'apply');
const NS = ['--namespace', 'plant3'];

before(async () => {
  reg = await new Registry().start();
  cli = new Cli(reg);
});

after(async () => {
  if (cli) rmSync(cli.home, { recursive: true, force: true });
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

// What a user wrote: the document without what the server sets.
function spec(doc) {
  const d = structuredClone(doc);
  for (const k of ['etag', 'systemData']) delete d[k];
  for (const k of ['uuid', 'version', 'provisioningState', 'lastTransitionTime', 'status']) delete d.properties?.[k];
  return d;
}

function byName(list) {
  return Object.fromEntries(list.map((d) => [`${d.type}/${d.name}`, spec(d)]));
}

test('--dry-run changes nothing; an ARM template applies in order', () => {
  let r = cli.ok(['apply', '-f', join(APPLY, 'arm-template.json'), '--dry-run']);
  assert.deepEqual(r.json().map((x) => [x.kind, x.name, x.result]), [
    ['Namespace', 'plant3', 'would create'],
    ['Device', 'plc-c01', 'would create'],
    ['Asset', 'press-01', 'would create'],
  ]);
  assert.equal(cli.run(['namespace', 'show', 'plant3']).code, 3);

  r = cli.ok(['apply', '-f', join(APPLY, 'arm-template.json')]);
  assert.deepEqual(r.json().map((x) => x.result), ['created', 'created', 'created']);
  const dev = cli.ok(['device', 'show', 'plc-c01', ...NS]).json();
  assert.equal(dev.tags.hall, 'C');
  assert.equal(dev.properties.endpoints.inbound.plc.endpointType, 'Microsoft.OpcUa');
  // The old flat events[] became an event group.
  const asset = cli.ok(['asset', 'show', 'press-01', ...NS]).json();
  assert.equal(asset.properties.events, undefined);
  assert.equal(asset.properties.eventGroups[0].events[0].name, 'doorOpened');

  // Applying again changes nothing.
  r = cli.ok(['apply', '-f', join(APPLY, 'arm-template.json')]);
  assert.deepEqual(r.json().map((x) => x.result), ['unchanged', 'unchanged', 'unchanged']);
  // A change made elsewhere is shown by --dry-run and undone by apply.
  cli.ok(['device', 'update', 'plc-c01', ...NS, '--model', 'PLC-1600']);
  r = cli.ok(['apply', '-f', join(APPLY, 'arm-template.json'), '--dry-run', '-o', 'table']);
  assert.match(r.out, /plc-c01\s+would update\s+properties\.model/);
  cli.ok(['apply', '-f', join(APPLY, 'arm-template.json')]);
  assert.equal(cli.ok(['device', 'show', 'plc-c01', ...NS]).json().properties.model, 'PLC-1500');
});

test('an older flat events[] applies unchanged the second time (the CLI moves it as the registry does)', () => {
  // Two events on one notifier: the registry makes a group per event; a client that grouped
  // by notifier would find a difference on every apply and write the asset again.
  const doc = {
    type: 'Microsoft.DeviceRegistry/namespaces/assets', name: 'old-events', location: 'plant3',
    properties: {
      deviceRef: { deviceName: 'plc-c01', endpointName: 'plc' },
      events: [
        { name: 'doorOpened', eventNotifier: 'ns=3;s=Door' },
        { name: 'doorClosed', eventNotifier: 'ns=3;s=Door' },
      ],
    },
  };
  const file = join(cli.home, 'old-events.json');
  writeFileSync(file, JSON.stringify(doc));
  let r = cli.ok(['apply', '-f', file, ...NS]);
  assert.deepEqual(r.json().map((x) => x.result), ['created']);
  const a = cli.ok(['asset', 'show', 'old-events', ...NS]).json();
  assert.deepEqual(a.properties.eventGroups.map((g) => [g.name, g.dataSource, g.events.map((e) => e.name)]),
    [['doorOpened', 'ns=3;s=Door', ['doorOpened']], ['doorClosed', 'ns=3;s=Door', ['doorClosed']]]);
  r = cli.ok(['apply', '-f', file, ...NS]);
  assert.deepEqual(r.json().map((x) => x.result), ['unchanged']);
  assert.equal(cli.ok(['asset', 'show', 'old-events', ...NS]).json().properties.version, a.properties.version);
  cli.ok(['asset', 'delete', 'old-events', ...NS]); // the round trip below counts the assets
});

test('an Azure-exported ARM document applies unchanged', () => {
  const r = cli.ok(['apply', '-f', join(SOURCE_DIR, 'tests/fixtures/model/asset-exported.json')]);
  assert.deepEqual(r.json().map((x) => [x.kind, x.namespace, x.name, x.result]), [['Asset', 'plant3', 'oven-1', 'created']]);
  const a = cli.ok(['asset', 'show', 'oven-1', ...NS]).json();
  assert.equal(a.properties.externalAssetId, 'OVEN-1');
  assert.equal(a.location, 'westeurope');
});

test('Kubernetes custom resources apply', () => {
  const r = cli.ok(['apply', '-f', join(APPLY, 'k8s-line.yaml')]);
  assert.deepEqual(r.json().map((x) => [x.kind, x.name, x.result]), [['Device', 'cam-1', 'created'], ['Asset', 'line-camera', 'created']]);
  const a = cli.ok(['asset', 'show', 'line-camera', ...NS]).json();
  assert.equal(a.properties.streams[0].destinations[0].configuration.topic, 'plant3/cam-1/snapshots');
  assert.equal(cli.ok(['device', 'show', 'cam-1', ...NS]).json().tags.hall, 'C');
});

test('bad documents: nothing is applied, exit 7', () => {
  const dir = join(cli.home, 'bad');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a-good.yaml'), 'apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Device\nmetadata: {name: fresh-1, namespace: plant3}\nspec: {}\n');
  writeFileSync(join(dir, 'b-bad.yaml'), 'apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Pod\nmetadata: {name: p}\n');
  writeFileSync(join(dir, 'c-broken.json'), '{"name": ');
  let r = cli.run(['apply', '-f', dir]);
  assert.equal(r.code, 7);
  assert.match(r.err, /c-broken\.json: line 1/);
  rmSync(join(dir, 'c-broken.json'));
  r = cli.run(['apply', '-f', dir]);
  assert.equal(r.code, 7);
  assert.match(r.err, /b-bad\.yaml, document 1: kind must be Device or Asset/);
  assert.equal(cli.run(['device', 'show', 'fresh-1', ...NS]).code, 3);
  // The server's refusal names the field and gives exit 7 too.
  writeFileSync(join(dir, 'b-bad.yaml'), 'apiVersion: namespaces.deviceregistry.microsoft.com/v1\nkind: Asset\nmetadata: {name: orphan, namespace: plant3}\nspec: {deviceRef: {deviceName: nope, endpointName: x}}\n');
  r = cli.run(['apply', '-f', dir]);
  assert.equal(r.code, 7);
  assert.match(r.err, /field: properties\.deviceRef/);
  assert.equal(cli.run(['apply', '-f', join(dir, 'missing.yaml')]).code, 7);
});

test('export -> delete -> apply round trip (ARM and Kubernetes) gives identical resources', () => {
  const before = cli.ok(['export', 'plant3']).json();
  assert.deepEqual(before.map((d) => d.name), ['plant3', 'cam-1', 'fresh-1', 'plc-c01', 'line-camera', 'oven-1', 'press-01']);
  const arm = join(cli.home, 'plant3.json');
  const k8s = join(cli.home, 'plant3.yaml');
  cli.ok(['export', 'plant3', '--output-file', arm]);
  cli.ok(['export', 'plant3', '--format', 'k8s', '--output-file', k8s]);

  // ARM: delete the whole namespace, apply the file, export again.
  cli.ok(['namespace', 'delete', 'plant3', '--cascade', '--yes']);
  assert.equal(cli.run(['namespace', 'show', 'plant3']).code, 3);
  let r = cli.ok(['apply', '-f', arm]);
  assert.ok(r.json().every((x) => x.result === 'created'));
  const afterArm = cli.ok(['export', 'plant3']).json();
  assert.deepEqual(byName(afterArm), byName(before));

  // Kubernetes: delete every device (and so every asset), apply the YAML.
  for (const d of cli.ok(['device', 'list', ...NS]).json()) cli.ok(['device', 'delete', d.name, ...NS, '--cascade', '--yes']);
  assert.deepEqual(cli.ok(['asset', 'list', ...NS]).json(), []);
  r = cli.ok(['apply', '-f', k8s]);
  assert.ok(r.json().every((x) => x.result === 'created'));
  const afterK8s = cli.ok(['export', 'plant3']).json();
  assert.deepEqual(byName(afterK8s), byName(before));
});
