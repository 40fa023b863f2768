// web_ui.test.mjs - the operations web UI end to end, in a real browser.
//
// Starts a real registry (FP_BIN) with a real mosquitto on loopback ports
// chosen at run time, drives Debian's chromium through playwright-core (from
// tests/web/node_modules; never downloads a browser), and checks what an
// operator does: sign in, create a device with an OPC UA endpoint (its form
// offering exactly the keys the OPC UA connector's rows export, served as
// /ui/connectors.json) and an asset with a dataset of three points, edit a
// point, see the server's validation error next to the field, see a concurrent
// edit refused, import 500 points from CSV, onboard a discovered asset, watch a
// live value arrive, and that a viewer token gets no editing controls.
// Screenshots go to tests/artifacts/web/ (ignored by git).

import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SRC = process.env.FP_SOURCE_DIR || path.resolve(import.meta.dirname, '../..');
const BIN = process.env.FP_BIN || path.join(SRC, 'build/dev/cli/fieldplane');
const BUILD_DIR = process.env.FP_BUILD_DIR || path.resolve(path.dirname(BIN), '..');
const CHROMIUM = process.env.FP_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(SRC, 'tests/artifacts/web');
const NS = 'plant-a';

const { chromium } = await import(pathToFileURL(path.join(SRC, 'tests/web/node_modules/playwright-core/index.mjs')).href);

const procs = [];
let tmp;
let url;
let adminToken;
let viewerToken;
let dataDir;
let mqttPort;
let context;
let page;

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.unref();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function start(cmd, args, name) {
    const out = fs.openSync(path.join(tmp, `${name}.log`), 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', out, out] });
    p.name = name;
    procs.push(p);
    return p;
}

async function waitFor(what, fn, timeoutMs = 15000) {
    const end = Date.now() + timeoutMs;
    let last;
    while (Date.now() < end) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            last = err;
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function canConnect(port) {
    return new Promise((resolve) => {
        const c = net.connect(port, '127.0.0.1');
        c.on('connect', () => { c.destroy(); resolve(true); });
        c.on('error', () => resolve(false));
    });
}

async function rest(method, p, body, token = adminToken) {
    const res = await fetch(url + p, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, data: text ? JSON.parse(text) : null };
}

async function shot(name) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false, style: '.toasts { display: none; }' });
}

before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-web-'));
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    mqttPort = await freePort();
    fs.writeFileSync(path.join(tmp, 'mosquitto.conf'),
        `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    start('mosquitto', ['-c', path.join(tmp, 'mosquitto.conf')], 'mosquitto');
    await waitFor('mosquitto', () => canConnect(mqttPort));

    const data = path.join(tmp, 'data');
    dataDir = data;
    start(BIN, ['registry', '--data', data, '--listen', '127.0.0.1:0', '--broker', `mqtt://127.0.0.1:${mqttPort}`], 'registry');
    url = await waitFor('registry.url', () => {
        const u = fs.readFileSync(path.join(data, 'registry.url'), 'utf8').trim();
        return u || null;
    });
    adminToken = fs.readFileSync(path.join(data, 'admin.token'), 'utf8').trim().split('\n').pop().trim();
    await waitFor('registry health', async () => (await fetch(`${url}/healthz`)).ok);
    const out = execFileSync(BIN, ['token', 'create', '--data', data, '--role', 'viewer'], { encoding: 'utf8' });
    viewerToken = out.trim().split('\n').pop().trim();

    context = await chromium.launchPersistentContext(path.join(tmp, 'browser'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1400, height: 900 },
    });
    context.setDefaultTimeout(30000);
    page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => { console.error('page error:', err.message); });
});

after(async () => {
    if (context) await context.close().catch(() => {});
    for (const p of procs) {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    }
    await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? null
        : new Promise((resolve) => {
            const t = setTimeout(() => { p.kill('SIGKILL'); }, 5000);
            p.on('exit', () => { clearTimeout(t); resolve(); });
        }))));
    if (tmp && !process.env.FP_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

// The steps build on each other: after a failure the rest are skipped, so the
// first failure is the one reported.
let failed = null;
function test(name, fn) {
    nodeTest(name, async (t) => {
        if (failed) {
            t.skip(`after the failure of "${failed}"`);
            return;
        }
        try {
            await fn(t);
        } catch (err) {
            failed = name;
            await shot(`failed-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
            throw err;
        }
    });
}

// Every form control on the page has a name a screen reader can say.
async function assertLabelled() {
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
        .map((el) => el.outerHTML.slice(0, 120)));
    assert.deepEqual(unnamed, []);
}

const field = (p) => page.locator(`[data-path="${p}"]`);

test('sign in, create a namespace, see the empty state', async () => {
    await page.goto(url + '/');
    await page.waitForURL(/#\/signin/);
    await shot('signin');
    await page.getByLabel('API token').fill('fpt_not_a_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is not known to the registry').waitFor();

    // By keyboard: the token field has the focus after a failed attempt.
    await page.getByLabel('API token').fill('');
    await page.keyboard.type(adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Namespaces' }).waitFor();
    await page.getByText('No namespace yet').waitFor();
    await page.getByLabel('Name', { exact: true }).fill(NS);
    await page.getByRole('button', { name: 'Create namespace' }).click();
    await page.getByRole('heading', { name: 'Start by adding a device' }).waitFor();
    await shot('overview-empty');
});

// The UI's configuration forms are built from this file: it has to be what
// every connector of the tree prints itself, not a copy that went stale.
test('the registry serves every connector\'s configuration rows', async () => {
    const res = await fetch(`${url}/ui/connectors.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const served = await res.json();
    const names = fs.readdirSync(path.join(SRC, 'connectors'), { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(SRC, 'connectors', d.name, 'CMakeLists.txt')))
        .map((d) => d.name).sort();
    assert.deepEqual(served.connectors.map((c) => c.connector), names);
    for (const name of names) {
        const exe = path.join(BUILD_DIR, 'connectors', name, `fieldplane-connector-${name}`);
        const own = JSON.parse(execFileSync(exe, ['--help-config', '--json'], { encoding: 'utf8' }));
        assert.deepEqual(served.connectors.find((c) => c.connector === name), own,
            `the registry's /ui/connectors.json differs from ${exe} --help-config --json`);
    }
});

test('create a device with an OPC UA endpoint', async () => {
    await page.getByRole('link', { name: 'Add a device' }).first().click();
    await page.getByRole('heading', { name: 'Add a device' }).waitFor();
    await field('name').fill('oven-plc');
    await field('properties.manufacturer').fill('Contoso');
    const ep = 'properties.endpoints.inbound.opcua';
    await field(`${ep}.address`).fill('opc.tcp://127.0.0.1:4840');
    // The endpoint types are lib/model's table (served in /ui/model.js, as the CLI's commands
    // use it); the types no connector of this build serves come last and say so.
    const model = await (await fetch(`${url}/ui/model.js`)).text();
    const known = JSON.parse(model.match(/export const endpointTypes = (\[[\s\S]*?\]);/)[1]);
    const labels = await field(`${ep}.endpointType`).locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(labels.map(([v]) => v).sort(), known.map((k) => k.type).sort());
    const served = ['Microsoft.OpcUa', 'Microsoft.Http', 'Microsoft.SSEHttp', 'Fieldplane.Modbus'];
    for (const [v, l] of labels) assert.equal(/no connector in this build/.test(l), !served.includes(v), `${v}: ${l}`);
    assert.deepEqual(labels.slice(0, served.length).map(([v]) => v).sort(), [...served].sort());
    assert.equal(await field(`${ep}.address`).getAttribute('placeholder'), known.find((k) => k.type === 'Microsoft.OpcUa').example);
    // The form is the OPC UA connector's endpoint rows, in their order: the keys it
    // reads (discovery.* too) and no other (no session.enableTracingHeaders), and for
    // the security policy the values it accepts (no Basic256, no Basic128Rsa15).
    const opc = (await (await fetch(`${url}/ui/connectors.json`)).json()).connectors.find((c) => c.connector === 'opcua');
    const endpointKeys = opc.keys.filter((k) => k.scope === 'endpoint' && k.type !== 'json');
    const offered = await page.locator('fieldset.endpoint [data-cfg]').evaluateAll((els) => els.map((e) => e.dataset.cfg));
    assert.deepEqual(offered, endpointKeys.map((k) => k.key));
    assert.ok(offered.includes('discovery.maxDepth') && offered.includes('discovery.discoveryUrl'), offered.join(' '));
    assert.ok(!offered.includes('session.enableTracingHeaders'));
    const policy = page.getByLabel('security.securityPolicy', { exact: true });
    const policies = await policy.locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    assert.deepEqual(policies, endpointKeys.find((k) => k.key === 'security.securityPolicy').enum);
    assert.ok(!policies.some((p) => /#(Basic256|Basic128Rsa15)$/.test(p)), policies.join(' '));
    // Without a policy the endpoint would talk in clear: the form says so until one is chosen.
    const insecure = page.locator('fieldset.endpoint .banner.insecure');
    assert.ok(await insecure.isVisible(), 'the no-security warning shows on a new OPC UA endpoint');
    await policy.selectOption('http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256');
    await page.getByLabel('security.securityMode', { exact: true }).selectOption('sign');
    assert.ok(!(await insecure.isVisible()), 'the warning goes once a policy and mode are set');
    await page.getByLabel('security.securityMode', { exact: true }).selectOption('none');
    assert.ok(await insecure.isVisible(), 'mode none is no security either');
    await page.getByLabel('security.securityMode', { exact: true }).selectOption('sign');
    // The OPC UA defaults and ranges are shown where nothing is set.
    const publishing = page.getByLabel('defaults.publishingIntervalMilliseconds', { exact: true });
    assert.equal(await publishing.getAttribute('placeholder'), 'default: 1000');
    assert.equal(await publishing.getAttribute('max'), '86400000');
    await shot('device-new');
    await page.getByRole('button', { name: 'Create device' }).click();
    await page.getByRole('heading', { name: 'Device oven-plc' }).waitFor();

    const { status, data } = await rest('GET', `/api/v1/namespaces/${NS}/devices/oven-plc`);
    assert.equal(status, 200);
    const inbound = data.properties.endpoints.inbound.opcua;
    assert.equal(inbound.endpointType, 'Microsoft.OpcUa');
    assert.equal(inbound.address, 'opc.tcp://127.0.0.1:4840');
    const cfg = JSON.parse(inbound.additionalConfiguration);
    assert.equal(cfg.security.securityMode, 'sign');
    assert.equal(cfg.security.securityPolicy, 'http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256');

    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await page.locator('tr[data-name="oven-plc"]').waitFor();
    await shot('devices');
});

test('create an asset with a dataset of three points', async () => {
    await page.goto(`${url}/#/ns/${NS}/assets/new?device=oven-plc`);
    await page.getByRole('heading', { name: 'Add an asset' }).waitFor();
    await field('name').fill('oven-1');
    await field('properties.displayName').fill('Oven 1');
    assert.equal(await page.getByLabel('Device endpoint').inputValue(), 'oven-plc\nopcua');
    await page.getByRole('button', { name: 'Add a dataset' }).click();
    await field('properties.datasets[0].name').fill('measurements');
    const points = [['temperature', 'ns=3;s=Temperature'], ['pressure', 'ns=3;s=Pressure'], ['speed', 'ns=3;s=Speed']];
    for (let i = 0; i < points.length; i++) {
        await page.getByRole('button', { name: 'Add data point' }).click();
        await field(`properties.datasets[0].dataPoints[${i}].name`).fill(points[i][0]);
        await field(`properties.datasets[0].dataPoints[${i}].dataSource`).fill(points[i][1]);
    }
    await page.getByRole('button', { name: 'Create asset' }).click();
    await page.getByRole('heading', { name: 'Asset oven-1' }).waitFor();

    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    assert.deepEqual(data.properties.deviceRef, { deviceName: 'oven-plc', endpointName: 'opcua' });
    const ds = data.properties.datasets[0];
    assert.equal(ds.name, 'measurements');
    assert.deepEqual(ds.dataPoints.map((p) => [p.name, p.dataSource]), points);
    assert.equal(ds.destinations[0].configuration.topic, `${NS}/oven-1/measurements`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('asset');
});

test('edit a point', async () => {
    await field('properties.datasets[0].dataPoints[1].dataSource').fill('ns=3;s=Pressure2');
    await page.getByLabel('samplingInterval of data point 2').fill('500');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('version 2 ·').waitFor();
    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    const pt = data.properties.datasets[0].dataPoints[1];
    assert.equal(pt.dataSource, 'ns=3;s=Pressure2');
    assert.deepEqual(JSON.parse(pt.dataPointConfiguration), { samplingInterval: 500 });
    assert.equal(data.properties.version, 2);
});

test('a server validation error is shown next to the field', async () => {
    const nameCell = field('properties.datasets[0].dataPoints[2].name');
    await nameCell.fill('temperature');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const err = page.locator('td:has([data-path="properties.datasets[0].dataPoints[2].name"]) .field-error');
    await err.waitFor();
    assert.match(await err.textContent(), /already used/);
    assert.equal(await nameCell.getAttribute('aria-invalid'), 'true');
    await page.locator('.form-status .banner.error').waitFor();
    await shot('asset-validation-error');
    // Nothing was stored.
    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    assert.equal(data.properties.datasets[0].dataPoints[2].name, 'speed');
    await nameCell.fill('speed');
});

test('a concurrent change is detected, not overwritten', async () => {
    const cur = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    const changed = await rest('PATCH', `/api/v1/namespaces/${NS}/assets/oven-1`, { properties: { description: 'changed elsewhere' } });
    assert.equal(changed.status, 200);
    await field('properties.displayName').fill('Oven one');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const dlg = page.getByRole('dialog', { name: 'Changed by someone else' });
    await dlg.waitFor();
    await shot('asset-conflict');
    await dlg.getByRole('button', { name: 'Load the current version' }).click();
    await page.getByText('version 3 ·').waitFor();
    assert.equal(await field('properties.description').inputValue(), 'changed elsewhere');
    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    assert.equal(data.properties.displayName, 'Oven 1');
    assert.notEqual(data.etag, cur.data.etag);
});

test('import 500 points from CSV', async () => {
    const rows = ['name,dataSource,samplingInterval,queueSize'];
    for (let i = 1; i <= 500; i++) rows.push(`tag${String(i).padStart(3, '0')},ns=2;s=Line1.Tag${i},${i % 2 ? 1000 : 250},1`);
    const csv = path.join(tmp, 'points.csv');
    fs.writeFileSync(csv, rows.join('\n') + '\n');
    // Rows pasted from a spreadsheet (tab-separated, a header naming the columns).
    await page.getByRole('button', { name: 'Paste rows' }).click();
    const paste = page.getByRole('dialog', { name: 'Paste data points' });
    await paste.getByRole('textbox').fill('dataSource\tname\nns=5;s=A,B\textra-1\n');
    await paste.getByRole('button', { name: 'Add rows' }).click();
    await page.getByRole('dialog', { name: 'Add or replace?' }).getByRole('button', { name: 'Add' }).click();
    await page.getByText('4 data points', { exact: true }).waitFor();
    assert.equal(await field('properties.datasets[0].dataPoints[3].name').inputValue(), 'extra-1');
    assert.equal(await field('properties.datasets[0].dataPoints[3].dataSource').inputValue(), 'ns=5;s=A,B');

    await page.locator('.points input[type="file"]').setInputFiles(csv);
    const dlg = page.getByRole('dialog', { name: 'Add or replace?' });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Replace' }).click();
    await page.getByText('500 data points', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('version 4 ·').waitFor();
    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    const pts = data.properties.datasets[0].dataPoints;
    assert.equal(pts.length, 500);
    assert.equal(pts[499].name, 'tag500');
    assert.equal(pts[499].dataSource, 'ns=2;s=Line1.Tag500');
    assert.deepEqual(JSON.parse(pts[1].dataPointConfiguration), { samplingInterval: 250, queueSize: 1 });
    await page.locator('.points-head').first().scrollIntoViewIfNeeded();
    await page.evaluate(() => document.querySelector('.points-head').scrollIntoView({ block: 'start' }));
    await shot('asset-500-points');
});

test('onboard a discovered asset', async () => {
    const put = await rest('PUT', `/api/v1/namespaces/${NS}/discoveredAssets/found-pump`, {
        properties: {
            discoveryId: 'opcua-scan-1',
            version: 1,
            deviceRef: { deviceName: 'oven-plc', endpointName: 'opcua' },
            manufacturer: 'Fabrikam',
            datasets: [{
                name: 'pump',
                lastUpdatedOn: '2026-01-01T00:00:00Z',
                dataPoints: [
                    { name: 'flow', dataSource: 'ns=4;s=Pump.Flow', lastUpdatedOn: '2026-01-01T00:00:00Z' },
                    { name: 'rpm', dataSource: 'ns=4;s=Pump.Rpm', lastUpdatedOn: '2026-01-01T00:00:00Z' },
                ],
            }],
        },
    });
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.data));
    await page.getByRole('link', { name: 'Discovery' }).click();
    await page.getByRole('heading', { name: 'Discovery', exact: true }).waitFor();
    await page.locator('tr[data-name="found-pump"]').waitFor();
    await shot('discovery');
    await page.getByRole('button', { name: 'Onboard found-pump' }).click();
    await page.getByRole('heading', { name: 'Add an asset' }).waitFor();
    assert.equal(await field('name').inputValue(), 'found-pump');
    assert.equal(await field('properties.datasets[0].dataPoints[1].dataSource').inputValue(), 'ns=4;s=Pump.Rpm');
    await field('name').fill('pump-1');
    await field('properties.displayName').fill('Pump 1');
    await page.getByRole('button', { name: 'Create asset' }).click();
    await page.getByRole('heading', { name: 'Asset pump-1' }).waitFor();
    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/pump-1`);
    assert.deepEqual(data.properties.discoveredAssetRefs, ['found-pump']);
    assert.equal(data.properties.manufacturer, 'Fabrikam');
    assert.equal(data.properties.datasets[0].dataPoints.length, 2);
    assert.equal(data.properties.datasets[0].dataPoints[0].lastUpdatedOn, undefined);
    await page.getByRole('link', { name: 'Discovery' }).click();
    await page.locator('tr[data-name="found-pump"]').getByRole('link', { name: 'pump-1' }).waitFor();

    // A discovered device becomes a device the same way.
    const dd = await rest('PUT', `/api/v1/namespaces/${NS}/discoveredDevices/found-plc`, {
        properties: {
            discoveryId: 'opcua-scan-1', version: 1, manufacturer: 'Fabrikam',
            endpoints: { inbound: { main: { endpointType: 'Microsoft.OpcUa', address: 'opc.tcp://10.0.0.9:4840', supportedAuthenticationMethods: ['Anonymous'] } } },
        },
    });
    assert.ok(dd.status === 200 || dd.status === 201, JSON.stringify(dd.data));
    await page.reload();
    await page.getByRole('button', { name: 'Onboard found-plc' }).click();
    await page.getByRole('heading', { name: 'Add a device' }).waitFor();
    assert.equal(await field('properties.endpoints.inbound.main.address').inputValue(), 'opc.tcp://10.0.0.9:4840');
    await page.getByRole('button', { name: 'Create device' }).click();
    await page.getByRole('heading', { name: 'Device found-plc' }).waitFor();
    const dev = await rest('GET', `/api/v1/namespaces/${NS}/devices/found-plc`);
    assert.equal(dev.data.properties.discoveredDeviceRef, 'found-plc');
    assert.equal(dev.data.properties.endpoints.inbound.main.supportedAuthenticationMethods, undefined);
});

test('a live value arrives', async () => {
    const probe = await fetch(`${url}/api/v1/namespaces/${NS}/assets/oven-1/live`, {
        headers: { Authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(5000),
    }).catch((err) => ({ status: 0, err }));
    if (probe.body) await probe.body.cancel().catch(() => {});
    assert.equal(probe.status, 200, 'the live endpoint answers');
    await page.goto(`${url}/#/ns/${NS}/assets/oven-1?tab=live`);
    await page.getByText('Live', { exact: true }).waitFor();
    // Retained, so the value is there whenever the registry's subscription starts.
    const payload = JSON.stringify({ tag001: { SourceTimestamp: new Date().toISOString(), Value: 42.5 } });
    execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-V', 'mqttv5', '-q', '1', '-r',
        '-t', `${NS}/oven-1/measurements`, '-m', payload]);
    const cell = page.locator('.live-card tr[data-point="tag001"] td.value');
    await cell.waitFor();
    assert.equal(await cell.textContent(), '42.5');
    assert.equal(await page.locator('.live-card').count(), 1);
    await page.locator('.live-card h3', { hasText: 'Dataset measurements' }).waitFor();
    await shot('asset-live');
});

test('status with schema reference, schemas, secrets, audit, the delete conflict', async () => {
    const sp = `/api/v1/namespaces/${NS}/schemas/oven-1-measurements`;
    assert.ok([200, 201].includes((await rest('PUT', sp, { properties: { format: 'JsonSchema/draft-07', schemaType: 'MessageSchema', description: 'Oven readings' } })).status));
    assert.ok([200, 201].includes((await rest('PUT', `${sp}/versions/1`, { properties: { schemaContent: '{"type":"object","properties":{"tag001":{"type":"object"}}}' } })).status));
    const st = await rest('PUT', `/api/v1/namespaces/${NS}/assets/oven-1/status`, {
        config: { version: 4, lastTransitionTime: new Date().toISOString() },
        datasets: [{ name: 'measurements', messageSchemaReference: { schemaRegistryNamespace: NS, schemaName: 'oven-1-measurements', schemaVersion: '1' } }],
    });
    assert.equal(st.status, 200, JSON.stringify(st.data));

    await page.goto(`${url}/#/ns/${NS}/assets/oven-1?tab=status`);
    await page.getByRole('heading', { name: 'Status reported by the connector' }).waitFor();
    await page.getByRole('link', { name: 'oven-1-measurements:1' }).waitFor();
    // A status written while the page is open shows without a reload.
    const st2 = await rest('PATCH', `/api/v1/namespaces/${NS}/assets/oven-1/status`, {
        datasets: [{ name: 'measurements', messageSchemaReference: { schemaRegistryNamespace: NS, schemaName: 'oven-1-measurements', schemaVersion: '1' },
            error: { code: 'BadNodeIdUnknown', message: 'tag017: the node does not exist' } }],
    });
    assert.equal(st2.status, 200, JSON.stringify(st2.data));
    await page.getByText('tag017: the node does not exist').waitFor();
    // Each data point an error names shows with its own reason, not only the count.
    const st3 = await rest('PATCH', `/api/v1/namespaces/${NS}/assets/oven-1/status`, {
        datasets: [{ name: 'measurements', messageSchemaReference: { schemaRegistryNamespace: NS, schemaName: 'oven-1-measurements', schemaVersion: '1' },
            error: { code: 'DataPointError', message: '2 of 2 data points have errors',
            details: [{ code: 'BadNodeIdInvalid', message: 'ns=3;Oven.Zone2 is not a node id', target: 'tag001' },
                { code: 'BadNodeIdUnknown', message: 'the node does not exist', target: 'tag002' }] } }],
    });
    assert.equal(st3.status, 200, JSON.stringify(st3.data));
    await page.locator('ul.points li', { hasText: 'tag001: ns=3;Oven.Zone2 is not a node id' }).waitFor();
    await page.locator('ul.points li', { hasText: 'BadNodeIdUnknown' }).waitFor();
    await shot('asset-status');
    // A device whose endpoint the connector reports Unavailable: the reason is on its page
    // (never "OK"), in the device list and in the overview's "Failing now".
    const when = new Date().toISOString();
    const ds = await rest('PUT', `/api/v1/namespaces/${NS}/devices/oven-plc/status`, {
        config: { version: 1, lastTransitionTime: when },
        endpoints: { inbound: { opcua: { health: { version: 1, status: 'Unavailable', lastUpdateTime: when,
            reasonCode: 'BadCommunicationError', message: 'connect to 127.0.0.1:4840 refused' } } } },
    });
    assert.equal(ds.status, 200, JSON.stringify(ds.data));
    await page.goto(`${url}/#/ns/${NS}/devices/oven-plc`);
    const panel = page.locator('section.status-panel');
    await panel.getByText('connect to 127.0.0.1:4840 refused').waitFor();
    assert.equal(await panel.getByText('OK', { exact: true }).count(), 0);
    assert.match(await panel.textContent(), /Endpoint opcua: Unavailable connect to 127\.0\.0\.1:4840 refused BadCommunicationError/);
    await page.goto(`${url}/#/ns/${NS}/devices`);
    await page.getByText('Endpoint opcua: connect to 127.0.0.1:4840 refused (BadCommunicationError)').first().waitFor();
    await page.goto(`${url}/#/ns/${NS}`);
    const failing = page.locator('section.failing');
    await failing.getByText('Endpoint opcua: connect to 127.0.0.1:4840 refused (BadCommunicationError)').waitFor();
    await failing.getByText(/Dataset measurements \/ Data point tag001: ns=3;Oven\.Zone2 is not a node id \(BadNodeIdInvalid\)/).waitFor();
    await shot('overview-failing');
    await rest('PUT', `/api/v1/namespaces/${NS}/devices/oven-plc/status`, {});
    await page.goto(`${url}/#/ns/${NS}/assets/oven-1?tab=status`);
    await page.getByRole('heading', { name: 'Status reported by the connector' }).waitFor();
    await page.getByRole('link', { name: 'oven-1-measurements:1' }).click();
    await page.getByRole('heading', { name: 'Schema oven-1-measurements' }).waitFor();
    await page.locator('pre.schema', { hasText: '"type": "object"' }).waitFor();

    await page.getByRole('link', { name: 'Secrets' }).click();
    await page.getByRole('button', { name: 'New secret' }).click();
    await page.getByLabel('Name', { exact: true }).fill('opc-user');
    await page.getByLabel('Value', { exact: true }).fill('s3cret');
    await page.getByRole('button', { name: 'Save secret' }).click();
    await page.locator('tr[data-name="opc-user"] code.key', { hasText: 'value' }).waitFor();
    const sec = await rest('GET', `/api/v1/namespaces/${NS}/secrets/opc-user`);
    assert.deepEqual(sec.data.properties.keys, ['value']);
    assert.ok(!JSON.stringify(sec.data).includes('s3cret'));
    await shot('secrets');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Kind').selectOption('Asset');
    await page.getByLabel('Name', { exact: true }).fill('oven-1');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('cell', { name: 'replace' }).first().waitFor();
    assert.equal(await page.getByRole('cell', { name: 'create' }).count(), 1);
    // The status this test wrote (as a connector would) is left out unless asked for.
    assert.equal(await page.getByRole('cell', { name: 'status', exact: true }).count(), 0);
    await page.getByLabel('Show connector status writes').check();
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('cell', { name: 'status', exact: true }).first().waitFor();
    await shot('audit');

    await page.getByRole('link', { name: 'Devices', exact: true }).click();
    await page.getByRole('button', { name: 'Disable oven-plc' }).click();
    await page.locator('tr[data-name="oven-plc"] .badge', { hasText: 'Disabled' }).waitFor();
    assert.equal((await rest('GET', `/api/v1/namespaces/${NS}/devices/oven-plc`)).data.properties.enabled, false);
    await page.getByRole('button', { name: 'Enable oven-plc' }).click();
    await page.locator('tr[data-name="oven-plc"] .badge', { hasText: 'Enabled' }).waitFor();
    await page.getByRole('button', { name: 'Delete oven-plc' }).click();
    await page.getByRole('dialog', { name: 'Delete device oven-plc?' }).getByRole('button', { name: 'Delete' }).click();
    const conflict = page.getByRole('dialog', { name: 'oven-plc is still in use' });
    await conflict.waitFor();
    await conflict.getByRole('link', { name: 'oven-1' }).waitFor();
    await conflict.getByRole('link', { name: 'pump-1' }).waitFor();
    await shot('device-delete-conflict');
    await conflict.getByRole('button', { name: 'Keep the device' }).click();
    assert.equal((await rest('GET', `/api/v1/namespaces/${NS}/devices/oven-plc`)).status, 200);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/#/ns/${NS}/assets`);
    await page.locator('tr[data-name="oven-1"]').waitFor();
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.locator('#nav').getByRole('link', { name: 'Discovery' }).waitFor();
    await shot('assets-narrow');
    // Below 1024 px the sidebar folds behind Menu, and the health column is next to the name,
    // in view without scrolling the table.
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.goto(`${url}/#/ns/${NS}/devices`);
    await page.locator('tr[data-name="oven-plc"]').waitFor();
    assert.ok(!(await page.locator('#nav').isVisible()), 'the sidebar is folded at 1000 px');
    assert.ok(await page.getByRole('button', { name: 'Menu' }).isVisible());
    const heads = await page.locator('table.data thead th').allTextContents();
    assert.deepEqual(heads.slice(0, 2), ['Name', 'State']);
    const cell = await page.locator('tr[data-name="oven-plc"] td').first().boundingBox();
    assert.ok(cell && cell.x + cell.width <= 1000, `the state column is in view: ${JSON.stringify(cell)}`);
    await shot('devices-1000px');
    await page.setViewportSize({ width: 1400, height: 900 });
});

test('events with a filter, streams, management actions, destinations; device credentials', async () => {
    await page.goto(`${url}/#/ns/${NS}/assets/oven-1`);
    await page.getByRole('heading', { name: 'Asset oven-1' }).waitFor();
    await page.getByRole('button', { name: 'Add an event group' }).click();
    await field('properties.eventGroups[0].dataSource').fill('i=2253');
    const group = page.locator('details[data-item="properties.eventGroups[0]"]');
    await group.getByRole('button', { name: 'Add an event' }).click();
    const ev = page.locator('details[data-item="properties.eventGroups[0].events[0]"]');
    await field('properties.eventGroups[0].events[0].dataSource').fill('ns=3;s=Alarm');
    await ev.getByLabel('Event type').fill('i=2041');
    await ev.getByRole('button', { name: 'Add select clause' }).click();
    await ev.getByLabel('Browse path of clause 1').fill('Message');
    await ev.getByRole('button', { name: 'Add destination' }).click();
    const dest = 'properties.eventGroups[0].events[0].destinations[0].configuration';
    await field(`${dest}.qos`).selectOption('Qos0');
    await field(`${dest}.retain`).selectOption('Keep');
    await field(`${dest}.ttl`).fill('60');
    await page.getByRole('button', { name: 'Add a stream' }).click();
    await page.getByRole('button', { name: 'Add a management group' }).click();
    await page.locator('details[data-item="properties.managementGroups[0]"]').getByRole('button', { name: 'Add an action' }).click();
    await field('properties.managementGroups[0].actions[0].targetUri').fill('ns=3;s=Reset');
    await field('properties.managementGroups[0].actions[0].actionType').selectOption('Write');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('version 5 ·').waitFor();
    await ev.scrollIntoViewIfNeeded();
    await shot('asset-events');
    await assertLabelled();

    const { data } = await rest('GET', `/api/v1/namespaces/${NS}/assets/oven-1`);
    const p = data.properties;
    const e = p.eventGroups[0].events[0];
    assert.equal(p.eventGroups[0].dataSource, 'i=2253');
    assert.deepEqual(JSON.parse(e.eventConfiguration).eventFilter, { typeDefinitionId: 'i=2041', selectClauses: [{ browsePath: 'Message' }] });
    assert.deepEqual(e.destinations[0], { target: 'Mqtt', configuration: { topic: `${NS}/oven-1/events1/event1`, qos: 'Qos0', retain: 'Keep', ttl: 60 } });
    assert.equal(p.streams[0].name, 'stream1');
    assert.equal(p.managementGroups[0].actions[0].targetUri, 'ns=3;s=Reset');
    assert.equal(p.managementGroups[0].actions[0].actionType, 'Write');

    await page.goto(`${url}/#/ns/${NS}/devices/oven-plc`);
    await page.getByRole('heading', { name: 'Device oven-plc' }).waitFor();
    await page.getByLabel('Method').selectOption('UsernamePassword');
    await assertLabelled();
    const auth = 'properties.endpoints.inbound.opcua.authentication.usernamePasswordCredentials';
    await field(`${auth}.usernameSecretName`).fill('opc-user/value');
    await field(`${auth}.passwordSecretName`).fill('opc-user/value');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Device oven-plc saved').waitFor();
    // Leaving with unsaved edits asks first.
    await field('properties.model').fill('S7-1500');
    page.once('dialog', (d) => d.dismiss());
    await page.getByRole('link', { name: 'Assets', exact: true }).click();
    await page.getByRole('heading', { name: 'Device oven-plc' }).waitFor();
    assert.equal(await field('properties.model').inputValue(), 'S7-1500');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('link', { name: 'Assets', exact: true }).click();
    await page.getByRole('heading', { name: 'Assets', exact: true }).waitFor();

    const dev = await rest('GET', `/api/v1/namespaces/${NS}/devices/oven-plc`);
    assert.equal(dev.data.properties.model, undefined);
    assert.deepEqual(dev.data.properties.endpoints.inbound.opcua.authentication, {
        method: 'UsernamePassword',
        usernamePasswordCredentials: { usernameSecretName: 'opc-user/value', passwordSecretName: 'opc-user/value' },
    });

    // A secret a device uses is not deleted; the page says why.
    await page.getByRole('link', { name: 'Secrets' }).click();
    await page.getByRole('button', { name: 'Delete opc-user' }).click();
    await page.getByRole('dialog', { name: 'Delete secret opc-user?' }).getByRole('button', { name: 'Delete' }).click();
    const inUse = page.getByRole('dialog', { name: 'opc-user is still in use' });
    await inUse.waitFor();
    await inUse.getByRole('button', { name: 'OK' }).click();
    assert.equal((await rest('GET', `/api/v1/namespaces/${NS}/secrets/opc-user`)).status, 200);
});

test('a viewer token cannot edit', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    await page.getByLabel('API token').fill(viewerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.role-badge', { hasText: 'viewer' }).waitFor();
    await page.getByRole('heading', { name: `Namespace ${NS}` }).waitFor();
    await page.goto(`${url}/#/ns/${NS}/devices`);
    await page.locator('tr[data-name="oven-plc"]').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Add a device' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^(Delete|Disable) / }).count(), 0);
    await page.goto(`${url}/#/ns/${NS}/assets/oven-1`);
    await page.getByText('Your token can view but not change assets.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Import CSV' }).count(), 0);
    assert.equal(await field('properties.displayName').getAttribute('readonly'), '');
    await shot('asset-viewer');
    // The API refuses a viewer's write; the UI explains a 403 in words.
    const res = await rest('PATCH', `/api/v1/namespaces/${NS}/assets/oven-1`, { properties: { description: 'x' } }, viewerToken);
    assert.equal(res.status, 403);
});

test('long lists are paged and searchable', async () => {
    for (let i = 0; i < 100; i++) {
        const r = await rest('PUT', `/api/v1/namespaces/${NS}/devices/bulk-${String(i).padStart(3, '0')}`, {
            properties: { endpoints: { inbound: { rest: { endpointType: 'Microsoft.Http', address: `http://127.0.0.1:${10000 + i}` } } } },
        });
        assert.equal(r.status, 201);
    }
    await page.goto(`${url}/#/ns/${NS}/devices`);
    await page.getByText('100 devices shown, more available').waitFor();
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('102 devices shown').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
    await page.getByLabel('Search').fill('bulk-05');
    await page.getByText('10 devices shown').waitFor();
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Endpoint type').selectOption('Microsoft.OpcUa');
    await page.getByText('2 devices shown').waitFor();
});

test('a refusal from the registry (403) is explained', async () => {
    const out = execFileSync(BIN, ['token', 'create', '--data', dataDir, '--role', 'operator', '--namespace', 'other-ns'], { encoding: 'utf8' });
    const limited = out.trim().split('\n').pop().trim();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill(limited);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.role-badge', { hasText: 'operator' }).waitFor();
    await page.getByRole('heading', { name: 'Namespace other-ns' }).waitFor();
    await page.goto(`${url}/#/ns/${NS}/devices`);
    const msg = page.locator('.banner.error', { hasText: 'limited to namespace other-ns' });
    await msg.waitFor();
    assert.match(await msg.textContent(), /is not allowed/);
    await shot('forbidden');
});
