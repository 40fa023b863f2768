// web_points_csv.test.mjs - the web UI's reading of pasted and imported data
// points (web/ui/points.js), without a browser: CSV quoting, tab-separated
// spreadsheet rows, header aliases and per-point configuration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SRC = process.env.FP_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const { parseDelimited, rowsToPoints } = await import(pathToFileURL(path.join(SRC, 'web/ui/points.js')).href);

test('CSV with quotes, doubled quotes, separators and line breaks inside cells', () => {
    const rows = parseDelimited('name,dataSource\r\n"a,b","ns=1;s=""q"""\r\n"multi\nline",x\n\n');
    assert.deepEqual(rows, [['name', 'dataSource'], ['a,b', 'ns=1;s="q"'], ['multi\nline', 'x']]);
});

test('tab-separated rows from a spreadsheet keep commas and semicolons in cells', () => {
    assert.deepEqual(parseDelimited('t1\tns=2;s=A,B\nt2\tns=2;s=C\n'), [['t1', 'ns=2;s=A,B'], ['t2', 'ns=2;s=C']]);
});

test('semicolon-separated CSV (European spreadsheets)', () => {
    assert.deepEqual(parseDelimited('name;dataSource\nt1;i=2258\n'), [['name', 'dataSource'], ['t1', 'i=2258']]);
});

test('without a header the columns are name, dataSource, samplingInterval, queueSize, typeRef', () => {
    const { points, problems } = rowsToPoints([['temp', 'ns=3;s=T', '500', '2', 'dtmi:x;1'], ['rpm', 'ns=3;s=R']]);
    assert.deepEqual(problems, []);
    assert.deepEqual(points, [
        { name: 'temp', dataSource: 'ns=3;s=T', typeRef: 'dtmi:x;1', dataPointConfiguration: '{"samplingInterval":500,"queueSize":2}' },
        { name: 'rpm', dataSource: 'ns=3;s=R' },
    ]);
});

test('a header names the columns in any order, with aliases', () => {
    const { points } = rowsToPoints([['Node ID', 'Tag name', 'Sampling interval'], ['ns=1;i=5', 'valve', '100']]);
    assert.deepEqual(points, [{ dataSource: 'ns=1;i=5', name: 'valve', dataPointConfiguration: '{"samplingInterval":100}' }]);
});

test('a point without a name is named after its data source; bad numbers are reported', () => {
    const { points, problems } = rowsToPoints([['', 'i=2258', 'fast']]);
    assert.deepEqual(points, [{ name: 'i=2258', dataSource: 'i=2258' }]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /row 1: samplingInterval "fast" is not a number/);
});

test('a configuration column is merged with the interval columns', () => {
    const { points } = rowsToPoints([['name', 'dataSource', 'configuration', 'queueSize'], ['p', 's', '{"deadband":0.5}', '4']]);
    assert.deepEqual(JSON.parse(points[0].dataPointConfiguration), { deadband: 0.5, queueSize: 4 });
});
