// config_docs.test.mjs - the key tables of docs/connector-*.md say what the
// connectors' configuration rows say.
//
// A connector's rows (its fp_config_key table) are the one description of its
// keys: `--help-config --json` exports them, the web UI's forms are built from
// that export (web_ui.test.mjs checks the served copy), and the docs' tables
// are checked against it here. A docs table of keys is marked by the comment
// line right above it:
//
//   <!-- config-keys: opcua endpoint -->            (a connector, its scope(s))
//   | Key | Type | Default | Meaning |
//   |---|---|---|---|
//   | `keepAliveMilliseconds` | integer, 100..86400000 | `10000` | prose |
//
// Each row names one key; Type is `integer` or `number` (with `, min..max`
// when the row has a range), `boolean`, `string`, `JSON`, or the key's allowed
// values as code spans (`` `a`, `b` ``); Default starts with the default as a
// code span, or with "unset" when the row has none; Meaning is free prose.
// Every row (a key in a scope) of every connector must be in exactly one table
// (a table marked with several scopes documents the key in each), and a table
// may hold no key the connector does not read. A failure names the key, the file
// and line, and the row as the connector's rows would write it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SRC = process.env.FP_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const BUILD_DIR = process.env.FP_BUILD_DIR || path.join(SRC, 'build/dev');
const DOCS = path.join(SRC, 'docs');
const MARKER = /^<!--\s*config-keys:\s*([a-z0-9-]+)\s+([A-Za-z,]+)\s*-->\s*$/;
const HEADER = /^\|\s*Key\s*\|\s*Type\s*\|\s*Default\s*\|/;

// The connectors of the tree: the folders of connectors/ (a missing binary is a
// failure, never a skip).
function connectorNames() {
    return fs.readdirSync(path.join(SRC, 'connectors'), { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(SRC, 'connectors', d.name, 'CMakeLists.txt')))
        .map((d) => d.name).sort();
}

function exportOf(name) {
    const exe = path.join(BUILD_DIR, 'connectors', name, `fieldplane-connector-${name}`);
    assert.ok(fs.existsSync(exe), `${exe} is not built: the docs of ${name} cannot be checked`);
    const doc = JSON.parse(execFileSync(exe, ['--help-config', '--json'], { encoding: 'utf8' }));
    assert.equal(doc.connector, name);
    return doc;
}

// The Type cell a row has in the docs.
function typeText(k) {
    if (Array.isArray(k.enum)) return k.enum.map((v) => `\`${v}\``).join(', ');
    const names = { integer: 'integer', number: 'number', boolean: 'boolean', string: 'string', json: 'JSON' };
    const t = names[k.type] || k.type;
    const ranged = k.min !== null && k.min !== undefined && k.max !== null && k.max !== undefined;
    return ranged ? `${t}, ${k.min}..${k.max}` : t;
}

// The start of the Default cell: the default as a code span, or "unset".
function defaultText(k) {
    if (k.default === null || k.default === undefined) return 'unset';
    return `\`${typeof k.default === 'string' ? k.default : JSON.stringify(k.default)}\``;
}

const norm = (s) => s.replace(/\s+/g, ' ').trim();

// Cells of a table line; a `\|` inside a cell is a pipe, not a separator.
function cells(line) {
    const parts = line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/);
    return parts.map((c) => c.trim().replace(/\\\|/g, '|'));
}

// Every marked table of the docs, from {file name: text}: [{file, line,
// connector, scopes, rows: [{line, key, type, def}]}], and the problems of
// their form (a marker without a table, a Key cell that is not one key).
function parseTables(files) {
    const tables = [];
    const problems = [];
    for (const [file, body] of Object.entries(files)) {
        const lines = body.split('\n');
        lines.forEach((text, i) => {
            const m = MARKER.exec(text);
            if (!m) {
                if (/^\s*<!--\s*config-keys/.test(text)) problems.push(`docs/${file}:${i + 1}: a marker reads "<!-- config-keys: <connector> <scope>[,<scope>] -->", not ${text}`);
                return;
            }
            const t = { file: `docs/${file}`, line: i + 1, connector: m[1], scopes: m[2].split(','), rows: [] };
            if (!HEADER.test(lines[i + 1] || '')) {
                problems.push(`${t.file}:${i + 2}: the line after a config-keys marker is a table that starts "| Key | Type | Default |"`);
                return;
            }
            for (let j = i + 3; j < lines.length && lines[j].trim().startsWith('|'); j++) {
                const [keyCell, type = '', def = ''] = cells(lines[j]);
                const km = /^`([^`]+)`$/.exec(keyCell);
                if (km) t.rows.push({ line: j + 1, key: km[1], type, def });
                else problems.push(`${t.file}:${j + 1}: the Key cell is one key as code (\`key\`), not "${keyCell}"`);
            }
            if (!t.rows.length) problems.push(`${t.file}:${i + 1}: the config-keys table has no rows`);
            tables.push(t);
        });
    }
    return { tables, problems };
}

// What disagrees between the exports (Map name -> --help-config --json) and the
// docs (from {file name: text}), one line per problem, each naming the key.
function checkDocs(exports, files) {
    const { tables, problems } = parseTables(files);
    const seen = new Map(); // "connector scope key" -> where documented

    for (const t of tables) {
        const ex = exports.get(t.connector);
        if (!ex) {
            problems.push(`${t.file}:${t.line}: "${t.connector}" is not a connector of connectors/ (${[...exports.keys()].join(', ')})`);
            continue;
        }
        for (const scope of t.scopes) {
            for (const r of t.rows) {
                const where = `${t.file}:${r.line}`;
                const k = ex.keys.find((x) => x.scope === scope && x.key === r.key);
                if (!k) {
                    problems.push(`${where}: key ${r.key} (${scope}) is documented, but fieldplane-connector-${t.connector} has no such ${scope} row`);
                    continue;
                }
                const id = `${t.connector} ${scope} ${r.key}`;
                if (seen.has(id)) problems.push(`${where}: key ${r.key} (${scope}) is already documented at ${seen.get(id)}`);
                seen.set(id, where);
                const want = `| \`${k.key}\` | ${typeText(k)} | ${defaultText(k)} | …`;
                if (norm(r.type) !== norm(typeText(k))) {
                    problems.push(`${where}: key ${r.key} (${scope}): the docs say type "${r.type}", the row says "${typeText(k)}"\n    ${want}`);
                }
                if (!norm(r.def).startsWith(defaultText(k))) {
                    problems.push(`${where}: key ${r.key} (${scope}): the docs say default "${r.def}", the row says ${defaultText(k)}\n    ${want}`);
                }
            }
        }
    }
    for (const [name, ex] of exports) {
        if (!Object.hasOwn(files, `connector-${name}.md`)) problems.push(`docs/connector-${name}.md is missing`);
        for (const k of ex.keys) {
            if (!seen.has(`${name} ${k.scope} ${k.key}`)) {
                problems.push(`key ${k.key} (${k.scope}) of fieldplane-connector-${name} is in no config-keys table of docs/connector-${name}*.md\n    | \`${k.key}\` | ${typeText(k)} | ${defaultText(k)} | ${k.description} |`);
            }
        }
    }
    return problems;
}

function docsFiles() {
    const files = {};
    for (const f of fs.readdirSync(DOCS).filter((x) => /^connector-.*\.md$/.test(x)).sort()) {
        files[f] = fs.readFileSync(path.join(DOCS, f), 'utf8');
    }
    return files;
}

test('the docs\' key tables agree with the connectors\' configuration rows', () => {
    const names = connectorNames();
    assert.ok(names.length, 'no connector under connectors/');
    const exports = new Map(names.map((n) => [n, exportOf(n)]));
    const problems = checkDocs(exports, docsFiles());
    if (problems.length) assert.fail(`${problems.length} disagreement(s):\n${problems.join('\n')}\n`);
});

// The checker itself, on a made-up connector: each kind of disagreement is
// caught and names its key, so the test above cannot pass by reading nothing.
test('a table that disagrees with the rows is caught, naming the key', () => {
    const ex = new Map([['demo', {
        connector: 'demo',
        keys: [
            { scope: 'endpoint', key: 'timeoutMilliseconds', type: 'integer', default: 5000, min: 100, max: 600000 },
            { scope: 'endpoint', key: 'mode', type: 'string', default: 'auto', min: null, max: null, enum: ['auto', 'basic'] },
            { scope: 'dataset', key: 'filter', type: 'json', default: null, min: null, max: null },
        ],
    }]]);
    const good = [
        '<!-- config-keys: demo endpoint -->',
        '| Key | Type | Default | Meaning |',
        '|---|---|---|---|',
        '| `timeoutMilliseconds` | integer, 100..600000 | `5000` (5 s) | time allowed |',
        '| `mode` | `auto`, `basic` | `auto` | how |',
        '',
        '<!-- config-keys: demo dataset -->',
        '| Key | Type | Default | Meaning |',
        '|---|---|---|---|',
        '| `filter` | JSON | unset: everything | which |',
    ].join('\n');
    assert.deepEqual(checkDocs(ex, { 'connector-demo.md': good }), []);

    const cases = [
        [good.replace('`5000` (5 s)', '`1000`'), /timeoutMilliseconds \(endpoint\): the docs say default/],
        [good.replace('integer, 100..600000', 'integer, 1..600000'), /timeoutMilliseconds \(endpoint\): the docs say type/],
        [good.replace('`auto`, `basic` |', '`auto`, `basic`, `digest` |'), /mode \(endpoint\): the docs say type/],
        [good.replace('| `mode` |', '| `session.enableTracingHeaders` |'), /session\.enableTracingHeaders \(endpoint\) is documented, but/],
        [good.replace(/\| `filter` .*\n?/, '| `other` | JSON | unset | x |'), /key filter \(dataset\) of fieldplane-connector-demo is in no config-keys table/],
        [`${good}\n| \`filter\` | JSON | unset | again |`, /filter \(dataset\) is already documented/],
        [good.replace('config-keys: demo dataset', 'config-keys: nosuch dataset'), /"nosuch" is not a connector/],
    ];
    for (const [text, want] of cases) {
        const problems = checkDocs(ex, { 'connector-demo.md': text });
        assert.ok(problems.some((p) => want.test(p)), `${want} not among:\n${problems.join('\n')}`);
    }
    assert.ok(checkDocs(ex, {}).some((p) => /docs\/connector-demo\.md is missing/.test(p)));
});

// The cells as the rows would write them.
test('typeText and defaultText write what the docs tables hold', () => {
    assert.equal(typeText({ type: 'integer', min: 100, max: 600000 }), 'integer, 100..600000');
    assert.equal(typeText({ type: 'integer', min: null, max: null }), 'integer');
    assert.equal(typeText({ type: 'string', enum: ['auto', 'basic'] }), '`auto`, `basic`');
    assert.equal(typeText({ type: 'json', min: null, max: null }), 'JSON');
    assert.equal(defaultText({ default: null }), 'unset');
    assert.equal(defaultText({ default: -1 }), '`-1`');
    assert.equal(defaultText({ default: false }), '`false`');
    assert.equal(defaultText({ default: 'i=85' }), '`i=85`');
});

// The CLI's typed flags that set a connector's configuration key (docs/cli.md,
// made from the CLI's flag tables, says "sets `key`"), against the rows: the key
// is one the connector reads, a default the help states in "(N)" is the row's,
// and a key with allowed values names each of them (a URI by what follows '#').
// One problem per line; the sections of commands whose type no connector of the
// tree serves yet (ONVIF, MQTT endpoints, media streams) are left out.
function checkCli(exports, text) {
    const problems = [];
    let section = null;
    text.split('\n').forEach((line, i) => {
        const h = /^#{2,3} `fieldplane ([^`]+)`/.exec(line);
        if (h) {
            section = h[1];
            return;
        }
        const m = /^\| `--([a-z0-9-]+)[^|]*\| (.*); sets `([^`]+)` \|$/.exec(line);
        if (!m || !section) return;
        const [, flag, help, key] = m;
        const where = `docs/cli.md:${i + 1}: fieldplane ${section} --${flag}`;
        const ep = /^device endpoint inbound (?:add|update) (\S+)/.exec(section);
        let rows;
        if (ep) {
            const word = ep[1] === 'rest' ? 'http' : ep[1];
            if (!exports.has(word)) return;
            rows = exports.get(word).keys.filter((k) => k.scope === 'endpoint' && k.key === key);
            if (!rows.length) problems.push(`${where} sets ${key}, which fieldplane-connector-${word} does not read (no endpoint row)`);
        } else {
            const all = [...exports.values()].flatMap((e) => e.keys);
            if (/^asset stream /.test(section) && !all.some((k) => k.scope === 'stream')) return; // the media connector's
            rows = all.filter((k) => k.scope !== 'endpoint' && k.key === key);
            if (!rows.length) problems.push(`${where} sets ${key}, which no connector reads`);
        }
        for (const k of rows) {
            const d = /\((-?\d+)\)/.exec(help);
            if (d && String(k.default) !== d[1]) problems.push(`${where} says the default is ${d[1]}, the ${key} row says ${k.default}`);
            for (const v of k.enum || []) {
                const shown = v.includes('#') ? v.slice(v.indexOf('#') + 1) : v;
                if (!new RegExp(`\\b${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(help)) {
                    problems.push(`${where} does not offer ${shown}, which the ${key} row accepts`);
                }
            }
        }
    });
    return problems;
}

test('the CLI\'s typed configuration flags agree with the connectors\' rows', () => {
    const exports = new Map(connectorNames().map((n) => [n, exportOf(n)]));
    const text = fs.readFileSync(path.join(DOCS, 'cli.md'), 'utf8');
    assert.ok((text.match(/; sets `/g) || []).length >= 20, 'docs/cli.md names the keys its flags set');
    const problems = checkCli(exports, text);
    if (problems.length) assert.fail(`${problems.length} disagreement(s):\n${problems.join('\n')}\n`);
    // The checker itself: a wrong default, a key no connector reads, a missing choice.
    const line = (s) => `### \`fieldplane device endpoint inbound add opcua\`\n${s}`;
    const cases = [
        [line('| `--keep-alive MS` | keep-alive (9999); sets `keepAliveMilliseconds` |'), /default is 9999/],
        [line('| `--x N` | x; sets `session.enableTracingHeaders` |'), /does not read/],
        [line('| `--security-policy P` | None or Basic256Sha256; sets `security.securityPolicy` |'), /does not offer Aes256_Sha256_RsaPss/],
        ['### `fieldplane asset create`\n| `--x N` | x; sets `noSuchKey` |', /which no connector reads/],
    ];
    for (const [doc, want] of cases) {
        const p = checkCli(exports, doc);
        assert.ok(p.some((x) => want.test(x)), `${want} not among:\n${p.join('\n')}`);
    }
});
