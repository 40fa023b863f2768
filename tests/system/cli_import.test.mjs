// System test of data point and dataset import and export: a 10,000-row CSV,
// JSON and YAML files, per-row errors with line numbers, all-or-nothing unless
// --skip-invalid, and export back to each format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from './lib/registry.mjs';
import { Cli, FIXTURES } from './cli_helpers.mjs';

let reg;
let cli;
const A = ['--namespace', 'plant-a', '--asset', 'oven-1'];

before(async () => {
  reg = await new Registry().start();
  cli = new Cli(reg);
  cli.ok(['namespace', 'create', 'plant-a']);
  cli.ok(['device', 'create', 'press-1', '--namespace', 'plant-a']);
  cli.ok(['device', 'endpoint', 'inbound', 'add', 'opcua', '--namespace', 'plant-a', '--device', 'press-1',
    '--name', 'main', '--address', 'opc.tcp://127.0.0.1:4840']);
  cli.ok(['asset', 'create', 'oven-1', '--namespace', 'plant-a', '--device', 'press-1', '--endpoint', 'main']);
  cli.ok(['asset', 'dataset', 'add', ...A, '--name', 'line']);
});

after(async () => {
  if (cli) rmSync(cli.home, { recursive: true, force: true });
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

function points() {
  return cli.ok(['asset', 'datapoint', 'list', ...A, '--dataset', 'line']).json();
}

test('a 10,000-row CSV import, and its export', () => {
  const rows = ['name,dataSource,typeRef,samplingInterval,queueSize'];
  for (let i = 0; i < 10000; i++) rows.push(`tag-${String(i).padStart(5, '0')},"ns=3;s=Tag${i}",,${100 + (i % 10)},1`);
  const csv = join(cli.home, 'points.csv');
  writeFileSync(csv, rows.join('\n') + '\n');
  const t0 = Date.now();
  const r = cli.ok(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', csv]);
  const ms = Date.now() - t0;
  console.log(`10,000-row CSV import: ${ms} ms`);
  assert.deepEqual(r.json(), { added: 10000, updated: 0, skipped: 0 });
  const pts = points();
  assert.equal(pts.length, 10000);
  assert.equal(pts[9999].name, 'tag-09999');
  assert.deepEqual(JSON.parse(pts[7].dataPointConfiguration), { samplingInterval: 107, queueSize: 1 });

  // Export to CSV and import it again: same points, all "updated".
  const out = join(cli.home, 'export.csv');
  cli.ok(['asset', 'datapoint', 'export', ...A, '--dataset', 'line', '--output-file', out]);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines.length, 10001);
  assert.equal(lines[0], 'name,dataSource,typeRef,dataPointConfiguration');
  const again = cli.ok(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', out]).json();
  assert.deepEqual(again, { added: 0, updated: 10000, skipped: 0 });
  assert.deepEqual(points(), pts);

  // --replace with an empty file empties the dataset.
  const empty = join(cli.home, 'empty.csv');
  writeFileSync(empty, 'name,dataSource\n');
  cli.ok(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', empty, '--replace']);
  assert.equal(points().length, 0);
});

test('a bad CSV row: line numbers, nothing written, --skip-invalid', () => {
  const csv = join(cli.home, 'bad.csv');
  writeFileSync(csv, 'name,dataSource,queueSize\nok-1,"ns=3;s=A",1\n,"ns=3;s=B",1\nok-2,"ns=3;s=C",many\nok-1,x,1\nok-3,,1\n');
  let r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', csv]);
  assert.equal(r.code, 7);
  assert.match(r.err, /line 3: name is required/);
  assert.match(r.err, /line 4: queueSize must be an integer, not 'many'/);
  assert.match(r.err, /line 5: data point 'ok-1' appears twice/);
  assert.match(r.err, /line 6: dataSource is required/);
  assert.match(r.err, /nothing imported/);
  assert.equal(points().length, 0);

  r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', csv, '--skip-invalid']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.json(), { added: 1, updated: 0, skipped: 4 });
  assert.deepEqual(points().map((p) => p.name), ['ok-1']);

  // A broken file, an unknown column, a missing file.
  writeFileSync(csv, 'name,dataSource\na,"b"c\n');
  r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', csv]);
  assert.equal(r.code, 7);
  assert.match(r.err, /line 2/);
  writeFileSync(csv, 'name,dataSource,colour\na,b,red\n');
  r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', csv]);
  assert.equal(r.code, 7);
  assert.match(r.err, /unknown column 'colour'/);
  r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', join(cli.home, 'nope.csv')]);
  assert.equal(r.code, 2);
  // A dataset that does not exist.
  r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'nope', '--input-file', join(FIXTURES, 'points.yaml')]);
  assert.equal(r.code, 3);
});

test('JSON and YAML data point files', () => {
  cli.ok(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', join(FIXTURES, 'points.yaml'), '--replace']);
  let pts = points();
  assert.deepEqual(pts.map((p) => p.name), ['door-open', 'setpoint']);
  assert.deepEqual(JSON.parse(pts[1].dataPointConfiguration), { samplingInterval: 500, queueSize: 2 });
  assert.equal(pts[1].typeRef, 'dtmi:fieldplane:temperature;1');
  cli.ok(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', join(FIXTURES, 'points.json'), '--replace']);
  pts = points();
  assert.equal(pts[1].dataPointConfiguration, '{"samplingInterval":500}');

  const r = cli.run(['asset', 'datapoint', 'import', ...A, '--dataset', 'line', '--input-file', join(FIXTURES, 'points-bad.json')]);
  assert.equal(r.code, 7);
  // JSON and YAML items are reported by their line too.
  assert.match(r.err, /line 3: item 2: dataSource is required/);
  assert.match(r.err, /line 4: item 3: dataPointConfiguration is not a JSON object/);
  assert.match(r.err, /line 5: data point 'ok' appears twice/);
  assert.match(r.err, /line 6: item 5: unknown field 'colour'/);

  // Export as YAML and JSON reads back the same.
  const y = cli.ok(['asset', 'datapoint', 'export', ...A, '--dataset', 'line', '--format', 'yaml']).out;
  assert.match(y, /name: door-open/);
  const j = JSON.parse(cli.ok(['asset', 'datapoint', 'export', ...A, '--dataset', 'line', '--format', 'json']).out);
  assert.deepEqual(j, pts);
});

test('dataset import and export', () => {
  cli.ok(['asset', 'dataset', 'import', ...A, '--input-file', join(FIXTURES, 'datasets.yaml')]);
  let sets = cli.ok(['asset', 'dataset', 'list', ...A]).json();
  assert.deepEqual(sets.map((s) => s.name), ['line', 'energy']);
  assert.deepEqual(sets[0].dataPoints.map((p) => p.name), ['door-open', 'setpoint', 'temp', 'speed']);
  assert.equal(sets[0].destinations[0].configuration.topic, 'plant/oven-1/line');

  const csv = cli.ok(['asset', 'dataset', 'export', ...A, '--format', 'csv']).out;
  assert.equal(csv.split('\n')[0], 'dataset,name,dataSource,typeRef,dataPointConfiguration');
  assert.match(csv, /^energy,kwh,ns=3;s=kWh,,$/m);
  // Replace all datasets from the CSV: the same datasets and points come back.
  const file = join(cli.home, 'sets.csv');
  writeFileSync(file, csv);
  cli.ok(['asset', 'dataset', 'import', ...A, '--input-file', file, '--replace']);
  const back = cli.ok(['asset', 'dataset', 'list', ...A]).json();
  assert.deepEqual(back.map((s) => [s.name, s.dataPoints.map((p) => [p.name, p.dataSource])]),
    sets.map((s) => [s.name, s.dataPoints.map((p) => [p.name, p.dataSource])]));
  // CSV rows without a dataset are bad rows.
  writeFileSync(file, 'dataset,name,dataSource\n,a,b\nline,c,d\n');
  const r = cli.run(['asset', 'dataset', 'import', ...A, '--input-file', file]);
  assert.equal(r.code, 7);
  assert.match(r.err, /line 2: dataset is required/);
});

test('dataset import names the line of each bad nested data point', () => {
  const yaml = join(cli.home, 'nested-bad.yaml');
  writeFileSync(
    yaml,
    [
      'datasets:', //                                   1
      '  - name: line', //                              2
      '    dataPoints:', //                             3
      '      - name: ok-1', //                          4
      '        dataSource: ns=3;s=ok1', //              5
      '      - name: no-source', //                     6
      '      - name: ok-1', //                          7
      '        dataSource: ns=3;s=again', //            8
      '  - name: energy', //                            9
      '    dataPoints:', //                             10
      '      - {name: kwh, dataSource: ns=3;s=kWh}', // 11
      '      - {name: bad, dataSource: s, colour: 1}', // 12
      '  - name: broken', //                            13
      '    dataPoints: 5', //                           14
      '',
    ].join('\n'),
  );
  let r = cli.run(['asset', 'dataset', 'import', ...A, '--input-file', yaml]);
  assert.equal(r.code, 7, r.err);
  assert.match(r.err, /line 6: dataset 'line', data point 2: dataSource is required/);
  assert.match(r.err, /line 7: data point 'ok-1' appears twice in dataset 'line'/);
  assert.match(r.err, /line 12: dataset 'energy', data point 2: unknown field 'colour'/);
  assert.match(r.err, /line 13: item 3: dataPoints must be a list/);
  assert.match(r.err, /4 invalid rows/);
  // JSON files too: each point by its own line.
  const json = join(cli.home, 'nested-bad.json');
  writeFileSync(
    json,
    '{"datasets": [\n' +
      ' {"name": "line", "dataPoints": [\n' +
      '   {"name": "a", "dataSource": "s"},\n' +
      '   {"name": "b"}\n' +
      ' ]}\n' +
      ']}\n',
  );
  r = cli.run(['asset', 'dataset', 'import', ...A, '--input-file', json]);
  assert.equal(r.code, 7, r.err);
  assert.match(r.err, /line 4: dataset 'line', data point 2: dataSource is required/);
});
