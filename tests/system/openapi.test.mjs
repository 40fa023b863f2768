// System test: the OpenAPI document the registry serves describes the registry.
//
// Starts a real registry on a loopback port chosen at run time, fetches
// GET /api/v1/openapi.json and checks that it is an OpenAPI 3.0 document whose
// $refs all resolve and whose paths are exactly the ones the registry serves.
// Then it drives the registry through namespaces, devices, assets, discovered
// resources, schemas, status, secrets, the audit log and the watch stream, and
// validates every real answer against the schema, status codes and headers the
// document declares for that operation. Response validation is strict: a field
// the registry sends that the document does not declare is an error (unless the
// schema allows extra fields with additionalProperties), so the document cannot
// fall behind the implementation unnoticed.
//
// env FP_BIN: the fieldplane binary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const BIN = process.env.FP_BIN;

const MOSQUITTO = process.env.FP_MOSQUITTO ?? '/usr/sbin/mosquitto';

let dir;
let baseUrl;
let token;
let doc;

// ---------------------------------------------------------------------------
// The registry process
// ---------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Each server runs under a small shell watchdog that reads our end of a pipe:
// when this process ends in any way (even SIGKILL) the pipe closes and the
// watchdog stops the server (SIGTERM, then waits) and removes its directory,
// so nothing outlives the test. sh -c WATCHDOG DIR PROGRAM ARGS...
const WATCHDOG =
  'd=$0; "$@" </dev/null & pid=$!; echo "watchdog: pid $pid" >&2; ' +
  'read _; kill $pid 2>/dev/null; wait $pid; echo "watchdog: exit $?" >&2; rm -rf -- "$d"';

class Guarded {
  constructor(dir, program, args) {
    this.dir = dir;
    this.log = '';
    this.exited = false;
    this.proc = spawn('sh', ['-c', WATCHDOG, dir, program, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => {
      this.log += d;
      this.pid ??= Number(this.log.match(/watchdog: pid (\d+)/)?.[1]) || undefined;
    });
    this.done = new Promise((resolve) => this.proc.once('exit', () => resolve((this.exited = true))));
    guarded.push(this);
  }

  // Synchronous, for 'exit' and signal handlers: closing the pipe is enough.
  abandon() {
    if (!this.exited) this.proc.stdin.destroy();
  }

  async stop() {
    if (!this.exited) {
      this.proc.stdin.end();
      await Promise.race([this.done, sleep(5000)]);
    }
    if (!this.exited) {
      if (this.pid) process.kill(this.pid, 'SIGKILL');
      this.proc.kill('SIGKILL');
      await this.done;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return Number(this.log.match(/watchdog: exit (\d+)/)?.[1] ?? -1);
  }
}
const guarded = [];

process.on('exit', () => {
  for (const g of guarded) {
    g.abandon();
    fs.rmSync(g.dir, { recursive: true, force: true });
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => process.exit(1));

async function waitFor(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

let registry;
let broker;

before(async () => {
  assert.ok(BIN, 'set FP_BIN to the fieldplane binary');
  // A real mosquitto for the live-data stream.
  const mqDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-openapi-mqtt-'));
  const mqPort = await freePort();
  fs.writeFileSync(path.join(mqDir, 'mosquitto.conf'), `listener ${mqPort} 127.0.0.1\nallow_anonymous true\n`);
  broker = new Guarded(mqDir, MOSQUITTO, ['-c', path.join(mqDir, 'mosquitto.conf')]);
  broker.port = mqPort;
  await waitFor(
    () =>
      new Promise((resolve) => {
        const c = net.connect(mqPort, '127.0.0.1');
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      }),
    'mosquitto to listen',
  );

  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-openapi-'));
  // --history 1: the first compaction (at revision 1024) leaves nothing to resume from,
  // which the last test uses to see a 410.
  registry = new Guarded(dir, BIN, ['registry', '--data', dir, '--listen', '127.0.0.1:0', '--keepalive', '1', '--history', '1', '--broker', `mqtt://127.0.0.1:${mqPort}`]);
  const urlFile = path.join(dir, 'registry.url');
  baseUrl = await waitFor(() => {
    if (registry.exited || /level=error|Usage:/.test(registry.log)) throw new Error(`the registry did not start:\n${registry.log}`);
    const text = fs.existsSync(urlFile) ? fs.readFileSync(urlFile, 'utf8') : '';
    return text.endsWith('\n') && text.trim();
  }, `${urlFile}:\n${registry.log}`);
  token = fs.readFileSync(path.join(dir, 'admin.token'), 'utf8').trim();
});

after(async () => {
  const code = await registry?.stop();
  await broker?.stop();
  // A clean stop on SIGTERM exits 0; under the sanitizers a leak makes it fail.
  if (registry) assert.equal(code, 0, `the registry did not exit cleanly:\n${registry.log.slice(-4000)}`);
});

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async function call(method, urlPath, { body, headers = {}, auth = true, as = token } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = `Bearer ${as}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + urlPath, { method, headers: h, body: payload });
  const text = method === 'HEAD' ? '' : await res.text();
  let json;
  if ((res.headers.get('content-type') || '').startsWith('application/json') && text) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

// ---------------------------------------------------------------------------
// JSON pointers and a small JSON Schema (OpenAPI 3.0 dialect) validator
// ---------------------------------------------------------------------------

function resolvePointer(root, ref) {
  if (!ref.startsWith('#')) throw new Error(`$ref ${ref} points outside the document`);
  let node = root;
  const parts = ref.slice(1).split('/').slice(1);
  for (const raw of parts) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) throw new Error(`$ref ${ref} does not resolve`);
    node = node[key];
  }
  return node;
}

function deref(node) {
  while (node && node.$ref) node = resolvePointer(doc, node.$ref);
  return node;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const FORMATS = {
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

// Validate value against schema; returns a list of "path: problem" strings.
// strict: an object schema with properties but no additionalProperties refuses
// members it does not declare. request: validate a request body, where
// required members that are read-only may be absent (OpenAPI 3.0 semantics).
function validate(schema, value, where = '$', strict = true, request = false) {
  const errors = [];
  schema = deref(schema);
  if (schema === undefined || schema === true) return errors;
  if (value === null) {
    if (schema.nullable) return errors;
    if (!schema.type && !schema.oneOf && !schema.anyOf && !schema.allOf && !schema.enum) return errors;
  }
  if (schema.allOf) for (const s of schema.allOf) errors.push(...validate(s, value, where, false, request));
  if (schema.oneOf) {
    const passing = schema.oneOf.filter((s) => validate(s, value, where, strict, request).length === 0);
    if (passing.length !== 1) {
      const detail = schema.oneOf.map((s) => `  [${s.$ref || 'inline'}] ${validate(s, value, where, strict, request).slice(0, 3).join('; ')}`);
      errors.push(`${where}: matches ${passing.length} of oneOf (exactly one needed)\n${detail.join('\n')}`);
    }
  }
  if (schema.anyOf) {
    if (!schema.anyOf.some((s) => validate(s, value, where, strict, request).length === 0)) {
      const detail = schema.anyOf.map((s) => `  [${s.$ref || 'inline'}] ${validate(s, value, where, strict, request).slice(0, 3).join('; ')}`);
      errors.push(`${where}: matches none of anyOf\n${detail.join('\n')}`);
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) errors.push(`${where}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const t = typeOf(value);
  if (schema.type) {
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer') || (value === null && schema.nullable);
    if (!ok) {
      errors.push(`${where}: is ${t}, the document says ${schema.type}`);
      return errors;
    }
  }
  if (t === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${where}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${where}: longer than ${schema.maxLength}`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${where}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format && FORMATS[schema.format] && !FORMATS[schema.format].test(value)) errors.push(`${where}: ${JSON.stringify(value)} is not a ${schema.format}`);
  }
  if (t === 'integer' || t === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${where}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${where}: above ${schema.maximum}`);
  }
  if (t === 'array' && schema.items) value.forEach((item, i) => errors.push(...validate(schema.items, item, `${where}[${i}]`, strict, request)));
  if (t === 'object') {
    const props = schema.properties || {};
    for (const r of schema.required || [])
      if (!(r in value) && !(request && deref(props[r])?.readOnly)) errors.push(`${where}: required member '${r}' is missing`);
    if (schema.minProperties !== undefined && Object.keys(value).length < schema.minProperties) errors.push(`${where}: fewer than ${schema.minProperties} members`);
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errors.push(...validate(props[k], v, `${where}.${k}`, strict, request));
      else if (schema.additionalProperties === false) errors.push(`${where}: member '${k}' is not allowed`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, `${where}.${k}`, strict, request));
      else if (strict && schema.properties && schema.additionalProperties === undefined) errors.push(`${where}: member '${k}' is not declared in the document`);
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------
// Checking a real answer against the document
// ---------------------------------------------------------------------------

function operation(template, method) {
  const item = doc.paths[template];
  assert.ok(item, `the document has no path ${template}`);
  const op = item[method.toLowerCase()];
  assert.ok(op, `the document has no ${method} ${template}`);
  return op;
}

// Assert that res (from `method` on the path `template`) is an answer the
// document declares, with the declared content type, headers and body schema.
function conforms(template, method, res, label = '') {
  const op = operation(template, method);
  const declared = op.responses[String(res.status)] || op.responses.default;
  assert.ok(declared, `${method} ${template}${label}: status ${res.status} is not declared (declared: ${Object.keys(op.responses).join(', ')}); body: ${res.text.slice(0, 300)}`);
  const r = deref(declared);
  for (const [name, h] of Object.entries(r.headers || {})) {
    if (name === 'WWW-Authenticate' || name === 'ETag' || name === 'Location')
      assert.ok(res.headers.get(name), `${method} ${template} ${res.status}: header ${name} is declared but not sent`);
    void h;
  }
  if (res.headers.get('etag') && res.status < 300 && method !== 'DELETE')
    assert.ok(r.headers && r.headers.ETag, `${method} ${template} ${res.status}: sends ETag, which the document does not declare`);
  if (res.headers.get('location'))
    assert.ok(r.headers && r.headers.Location, `${method} ${template} ${res.status}: sends Location, which the document does not declare`);
  if (method === 'HEAD' || res.status === 204) return;
  const ctype = (res.headers.get('content-type') || '').split(';')[0].trim();
  const content = r.content || {};
  const mediaKey = Object.keys(content).find((k) => k.split(';')[0].trim() === ctype);
  assert.ok(mediaKey, `${method} ${template} ${res.status}: content type ${ctype} is not declared (declared: ${Object.keys(content).join(', ') || 'none'})`);
  if (ctype === 'application/json') {
    const errors = validate(content[mediaKey].schema, res.json);
    assert.deepEqual(errors, [], `${method} ${template} ${res.status}${label}: the body does not match the document:\n${errors.join('\n')}\nbody: ${res.text.slice(0, 2000)}`);
    // An error's code is one the declared answer names (in `backticks`).
    if (res.status >= 400) {
      const named = [...r.description.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
      assert.ok(named.includes(res.json.error.code), `${method} ${template} ${res.status}${label}: error code ${res.json.error.code} is not among those the document names (${named.join(', ')})`);
    }
  }
}

// Fill a path template from values.
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, k) => {
    assert.ok(values[k] !== undefined, `no value for {${k}} in ${template}`);
    return encodeURIComponent(values[k]);
  });
}

// ---------------------------------------------------------------------------
// What the registry serves (from registry/api_server.c's routes)
// ---------------------------------------------------------------------------

const NS = '/api/v1/namespaces/{namespace}';
const RES = ['get', 'head', 'put', 'patch', 'delete'];
const SERVED = {
  '/api/v1/namespaces': ['get'],
  [NS]: RES,
  [`${NS}/devices`]: ['get'],
  [`${NS}/devices/{name}`]: RES,
  [`${NS}/devices/{name}/status`]: ['get', 'put', 'patch'],
  [`${NS}/assets`]: ['get'],
  [`${NS}/assets/{name}`]: RES,
  [`${NS}/assets/{name}/status`]: ['get', 'put', 'patch'],
  [`${NS}/assets/{name}/live`]: ['get'],
  [`${NS}/discoveredDevices`]: ['get'],
  [`${NS}/discoveredDevices/{name}`]: RES,
  [`${NS}/discoveredDevices/{name}/status`]: ['get', 'put', 'patch'],
  [`${NS}/discoveredAssets`]: ['get'],
  [`${NS}/discoveredAssets/{name}`]: RES,
  [`${NS}/discoveredAssets/{name}/status`]: ['get', 'put', 'patch'],
  [`${NS}/schemas`]: ['get'],
  [`${NS}/schemas/{name}`]: RES,
  [`${NS}/schemas/{schema}/versions`]: ['get'],
  [`${NS}/schemas/{schema}/versions/{version}`]: RES,
  [`${NS}/secrets`]: ['get'],
  [`${NS}/secrets/{name}`]: ['get', 'put', 'delete'],
  [`${NS}/secrets/{name}/value`]: ['get'],
  '/api/v1/audit': ['get'],
  '/api/v1/watch': ['get'],
  '/api/v1/whoami': ['get'],
  '/api/v1/openapi.json': ['get'],
  '/healthz': ['get'],
  '/metrics': ['get'],
  '/': ['get'],
};
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Documents the test writes (shapes of Azure Device Registry).
const DEVICE = {
  location: 'plant-3',
  tags: { hall: 'C' },
  properties: {
    externalDeviceId: 'PLC-C01',
    manufacturer: 'Example Automation',
    model: 'PLC-1500',
    operatingSystem: 'Firmware',
    attributes: { cell: 'C-01', floor: 2 },
    endpoints: {
      inbound: {
        plc: {
          endpointType: 'Microsoft.OpcUa',
          address: 'opc.tcp://plc-c01.plant3.local:4840',
          authentication: {
            method: 'UsernamePassword',
            usernamePasswordCredentials: { usernameSecretName: 'plc-cred/username', passwordSecretName: 'plc-cred/password' },
          },
          trustSettings: { trustList: 'plant-ca' },
          additionalConfiguration: '{"applicationName":"fieldplane","session":{"reconnectPeriodMilliseconds":2000}}',
        },
        cam: {
          endpointType: 'Microsoft.Onvif',
          address: 'https://cam.plant3.local/onvif/device_service',
          authentication: { method: 'Certificate', x509Credentials: { certificateSecretName: 'cam-cert/tls.crt', keySecretName: 'cam-cert/tls.key' } },
        },
      },
      outbound: { assigned: { broker: { address: 'mqtts://broker.plant3.local:8883', endpointType: 'Microsoft.Mqtt' } } },
    },
  },
};
const ASSET = {
  tags: { line: 'press' },
  properties: {
    externalAssetId: 'PRESS-C-01',
    displayName: 'Hydraulic press C-01',
    description: 'The big one',
    deviceRef: { deviceName: 'plc-c01', endpointName: 'plc' },
    assetTypeRefs: ['dtmi:example:press;1'],
    manufacturer: 'Example Presses',
    serialNumber: 'HP-2291',
    attributes: { tonnage: '250' },
    defaultDatasetsConfiguration: '{"publishingInterval":1000,"samplingInterval":500,"queueSize":1}',
    defaultDatasetsDestinations: [{ target: 'Mqtt', configuration: { topic: 'plant3/press', qos: 'Qos1', retain: 'Never', ttl: 600 } }],
    defaultEventsDestinations: [{ target: 'Storage', configuration: { path: '/data/events' } }],
    datasets: [
      {
        name: 'hydraulics',
        datasetConfiguration: '{"keyFrameCount":10}',
        destinations: [{ target: 'BrokerStateStore', configuration: { key: 'press-hydraulics' } }],
        dataPoints: [
          { name: 'pressure', dataSource: 'ns=3;s=Press.Pressure', dataPointConfiguration: '{"samplingInterval":100}' },
          { name: 'strokes', dataSource: 'ns=3;i=6012', typeRef: 'dtmi:example:count;1' },
        ],
      },
    ],
    eventGroups: [
      { name: 'faults', dataSource: 'i=2253', events: [{ name: 'pressFault', dataSource: 'ns=3;s=Press', eventConfiguration: '{}' }] },
    ],
    streams: [{ name: 'camera', streamConfiguration: '{"taskType":"snapshot-to-mqtt"}', destinations: [{ target: 'Mqtt', configuration: { topic: 'plant3/press/cam' } }] }],
    managementGroups: [
      {
        name: 'maintenance',
        defaultTopic: 'plant3/press/maintenance',
        actions: [
          { name: 'resetCounter', targetUri: 'ns=3;s=Press.ResetCounter', timeoutInSeconds: 5 },
          { name: 'readMode', targetUri: 'ns=3;s=Press.Mode', actionType: 'Read' },
        ],
      },
    ],
  },
};
const ASSET_STATUS = {
  config: { version: 1, lastTransitionTime: '2026-01-01T00:00:00Z' },
  datasets: [{ name: 'hydraulics', messageSchemaReference: { schemaRegistryNamespace: 'plant', schemaName: 'press-hydraulics', schemaVersion: '1' } }],
  eventGroups: [{ name: 'faults', events: [{ name: 'pressFault', error: { code: 'BadNodeId', message: 'no such node' } }] }],
  managementGroups: [{ name: 'maintenance', actions: [{ name: 'readMode', error: { code: 'Timeout', message: 'no answer', details: [{ code: 'x', message: 'y' }] } }] }],
};
const DISCOVERED_DEVICE = {
  properties: {
    discoveryId: 'opcua-lds-0f3a',
    version: 3,
    externalDeviceId: 'urn:plc-d04:server',
    endpoints: {
      inbound: {
        opcua: { endpointType: 'Microsoft.OpcUa', address: 'opc.tcp://plc-d04:4840', supportedAuthenticationMethods: ['Anonymous', 'UsernamePassword'], lastUpdatedOn: '2026-01-01T00:00:00Z' },
      },
    },
  },
};
const DISCOVERED_ASSET = {
  properties: {
    discoveryId: 'opcua-lds-0f3a/boiler',
    version: 1,
    deviceRef: { deviceName: 'plc-d04', endpointName: 'opcua' },
    datasets: [{ name: 'temps', lastUpdatedOn: '2026-01-01T00:00:00Z', dataPoints: [{ name: 't1', dataSource: 'ns=2;s=T1', lastUpdatedOn: '2026-01-01T00:00:00Z' }] }],
  },
};

const V = { namespace: 'plant', name: 'plc-c01', schema: 'press-hydraulics', version: '1' };

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

test('the registry serves an OpenAPI 3.0 document', async () => {
  const res = await call('GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  doc = JSON.parse(res.text);
  assert.match(doc.openapi, /^3\.0\.\d+$/);
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  assert.equal(typeof doc.paths, 'object');
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
  conforms('/api/v1/openapi.json', 'GET', res);

  const anon = await call('GET', '/api/v1/openapi.json', { auth: false });
  conforms('/api/v1/openapi.json', 'GET', anon, ' without a token');
  assert.equal(anon.status, 401);
});

test('every $ref resolves inside the document', () => {
  assert.ok(doc, 'the document was not fetched');
  const refs = new Set();
  (function walk(node) {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref') refs.add(v);
        else walk(v);
      }
  })(doc);
  assert.ok(refs.size > 50, 'suspiciously few $refs');
  for (const ref of refs) assert.doesNotThrow(() => resolvePointer(doc, ref), `${ref} does not resolve`);
  // Every discriminator mapping points at a schema too.
  for (const [name, s] of Object.entries(doc.components.schemas))
    for (const target of Object.values(s.discriminator?.mapping || {}))
      assert.doesNotThrow(() => resolvePointer(doc, target), `${name}: discriminator ${target} does not resolve`);
  // Every path parameter in a template is declared, every declared one is in the template.
  for (const [template, item] of Object.entries(doc.paths)) {
    const inTemplate = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const m of METHODS) {
      if (!item[m]) continue;
      const params = [...(item.parameters || []), ...(item[m].parameters || [])].map(deref);
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
      assert.deepEqual(declared, inTemplate, `${m.toUpperCase()} ${template}: path parameters`);
      for (const [code, r] of Object.entries(item[m].responses)) assert.ok(deref(r).description, `${m} ${template} ${code}: no description`);
    }
  }
});

test('the request bodies this test sends, and the document\'s examples, match the request schemas', () => {
  assert.ok(doc, 'the document was not fetched');
  const body = (template, method, media = 'application/json') => operation(template, method).requestBody.content[media];
  const cases = [
    [`${NS}/devices/{name}`, DEVICE],
    [`${NS}/assets/{name}`, ASSET],
    [`${NS}/discoveredDevices/{name}`, DISCOVERED_DEVICE],
    [`${NS}/discoveredAssets/{name}`, DISCOVERED_ASSET],
    [`${NS}/assets/{name}/status`, ASSET_STATUS],
    [`${NS}/assets/{name}/status`, { properties: { status: ASSET_STATUS } }],
    [`${NS}/secrets/{name}`, { data: { username: 'op' } }],
    [`${NS}/secrets/{name}`, { value: 'x' }],
  ];
  for (const [template, value] of cases) {
    const errors = validate(body(template, 'PUT').schema, value, '$', true, true);
    assert.deepEqual(errors, [], `PUT ${template}: the request body does not match:\n${errors.join('\n')}`);
  }
  assert.ok(validate(body(`${NS}/secrets/{name}`, 'PUT').schema, { nothing: 1 }, '$', false, true).length > 0, 'an empty secret body must not match');
  let examples = 0;
  for (const [template, item] of Object.entries(doc.paths))
    for (const m of METHODS) {
      for (const media of Object.values(item[m]?.requestBody?.content || {})) {
        if (media.example === undefined) continue;
        examples++;
        const errors = validate(media.schema, media.example, '$', true, true);
        assert.deepEqual(errors, [], `${m.toUpperCase()} ${template}: the example does not match:\n${errors.join('\n')}`);
      }
    }
  assert.ok(examples >= 2, 'the document has request examples');
});

test('the document lists exactly the paths and methods the registry serves', async () => {
  assert.ok(doc, 'the document was not fetched');
  for (const [template, methods] of Object.entries(SERVED)) {
    assert.ok(doc.paths[template], `the document lacks ${template}`);
    const documented = METHODS.filter((m) => doc.paths[template][m]);
    assert.deepEqual(documented.sort(), [...methods].sort(), `methods of ${template}`);
  }
  for (const template of Object.keys(doc.paths)) assert.ok(SERVED[template], `the document has ${template}, which the registry does not serve`);

  // And the registry routes each of them (a path it does not know answers
  // "no such API path" or "no such page").
  for (const template of Object.keys(SERVED)) {
    if (template === '/api/v1/watch' || template.endsWith('/live')) continue;
    const res = await call('GET', fill(template, V));
    assert.doesNotMatch(res.text, /no such (API path|page|path|collection)/, `GET ${template} is not routed`);
  }
});

test('real answers validate against the document', async (t) => {
  assert.ok(doc, 'the document was not fetched');
  const ns = `${NS}`;

  await t.test('namespace', async () => {
    let res = await call('PUT', '/api/v1/namespaces/plant', { body: { location: 'plant-3', properties: { messaging: { endpoints: { broker: { endpointType: 'Microsoft.Mqtt', address: 'mqtts://broker:8883' } } } } } });
    assert.equal(res.status, 201);
    conforms(ns, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant', { body: { location: 'plant-3', tags: { site: 'p3' } } });
    assert.equal(res.status, 200);
    conforms(ns, 'PUT', res);
    res = await call('GET', '/api/v1/namespaces/plant');
    conforms(ns, 'GET', res);
    res = await call('HEAD', '/api/v1/namespaces/plant');
    conforms(ns, 'HEAD', res);
    res = await call('PATCH', '/api/v1/namespaces/plant', { body: { tags: { site: 'plant-3' } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
    assert.equal(res.status, 200);
    conforms(ns, 'PATCH', res);
    res = await call('PUT', '/api/v1/namespaces/scratch', { body: {} });
    conforms(ns, 'PUT', res);
    res = await call('GET', '/api/v1/namespaces');
    assert.equal(res.json.value.length, 2);
    conforms('/api/v1/namespaces', 'GET', res);
    res = await call('GET', '/api/v1/namespaces?top=1');
    assert.ok(res.json.nextLink);
    conforms('/api/v1/namespaces', 'GET', res, ' (paged)');
    res = await call('DELETE', '/api/v1/namespaces/scratch');
    assert.equal(res.status, 204);
    conforms(ns, 'DELETE', res);
  });

  await t.test('secrets', async () => {
    let res = await call('PUT', '/api/v1/namespaces/plant/secrets/plc-cred', { body: { data: { username: 'op', password: 'secret' } } });
    assert.equal(res.status, 201);
    conforms(`${ns}/secrets/{name}`, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant/secrets/plc-cred', { body: { data: { username: 'op', password: 'other' } } });
    assert.equal(res.status, 200);
    conforms(`${ns}/secrets/{name}`, 'PUT', res);
    for (const s of ['plant-ca', 'cam-cert']) conforms(`${ns}/secrets/{name}`, 'PUT', await call('PUT', `/api/v1/namespaces/plant/secrets/${s}`, { body: { value: 'PEM' } }));
    res = await call('GET', '/api/v1/namespaces/plant/secrets/plc-cred');
    assert.deepEqual(res.json.properties.keys.sort(), ['password', 'username']);
    assert.ok(!res.text.includes('other'), 'a secret value leaked');
    conforms(`${ns}/secrets/{name}`, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/secrets/plc-cred/value');
    assert.equal(res.json.data.password, 'other');
    conforms(`${ns}/secrets/{name}/value`, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/secrets?top=1');
    assert.ok(res.json.nextLink);
    conforms(`${ns}/secrets`, 'GET', res);
    res = await call('PUT', '/api/v1/namespaces/plant/secrets/bad', { body: { data: { k: 1 } } });
    assert.equal(res.status, 400);
    conforms(`${ns}/secrets/{name}`, 'PUT', res, ' (bad value)');
    res = await call('GET', '/api/v1/namespaces/plant/secrets/Not_Valid');
    assert.equal(res.status, 404, 'a name that cannot exist is not found');
    conforms(`${ns}/secrets/{name}`, 'GET', res, ' (bad name)');
    res = await call('PUT', '/api/v1/namespaces/plant/secrets/tmp', { body: { value: 'x' } });
    res = await call('DELETE', '/api/v1/namespaces/plant/secrets/tmp');
    assert.equal(res.status, 204);
    conforms(`${ns}/secrets/{name}`, 'DELETE', res);
    res = await call('DELETE', '/api/v1/namespaces/plant/secrets/tmp');
    assert.equal(res.status, 404);
    conforms(`${ns}/secrets/{name}`, 'DELETE', res);
  });

  await t.test('device', async () => {
    const p = `${ns}/devices/{name}`;
    let res = await call('PUT', '/api/v1/namespaces/plant/devices/plc-c01', { body: DEVICE, headers: { 'If-None-Match': '*' } });
    assert.equal(res.status, 201);
    conforms(p, 'PUT', res);
    const etag = res.headers.get('etag');
    res = await call('PUT', '/api/v1/namespaces/plant/devices/plc-c01', { body: DEVICE, headers: { 'If-None-Match': '*' } });
    assert.equal(res.status, 412);
    conforms(p, 'PUT', res, ' (If-None-Match)');
    res = await call('GET', '/api/v1/namespaces/plant/devices/plc-c01');
    assert.equal(res.json.properties.version, 1);
    conforms(p, 'GET', res);
    res = await call('PATCH', '/api/v1/namespaces/plant/devices/plc-c01', { body: { properties: { model: 'PLC-1600' } }, headers: { 'If-Match': etag } });
    assert.equal(res.status, 200);
    assert.equal(res.json.properties.version, 2);
    conforms(p, 'PATCH', res);
    res = await call('PATCH', '/api/v1/namespaces/plant/devices/plc-c01', { body: { properties: { model: 'PLC-1700' } }, headers: { 'If-Match': etag } });
    assert.equal(res.status, 412);
    conforms(p, 'PATCH', res, ' (stale If-Match)');
    res = await call('PUT', '/api/v1/namespaces/plant/devices/plc-c01', { body: { ...DEVICE, properties: { ...DEVICE.properties, externalDeviceId: 'OTHER' } } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'CreateOnlyField');
    conforms(p, 'PUT', res, ' (create-only field)');
    res = await call('PUT', '/api/v1/namespaces/plant/devices/dev-2', { body: { properties: { endpoints: { inbound: { x: { endpointType: 'Microsoft.Http', address: 'http://x', authentication: { method: 'UsernamePassword', usernamePasswordCredentials: { usernameSecretName: 'nope', passwordSecretName: 'nope' } } } } } } } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'UnknownReference');
    conforms(p, 'PUT', res, ' (unknown secret)');
    res = await call('PUT', '/api/v1/namespaces/nowhere/devices/dev-2', { body: DEVICE });
    assert.equal(res.status, 404);
    conforms(p, 'PUT', res, ' (no namespace)');
    res = await call('PUT', '/api/v1/namespaces/plant/devices/dev-2', { body: '{"properties": ' });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'InvalidJson');
    conforms(p, 'PUT', res, ' (bad JSON)');
    res = await call('GET', '/api/v1/namespaces/plant/devices?endpointType=microsoft.opcua');
    assert.equal(res.json.value.length, 1);
    conforms(`${ns}/devices`, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/devices?top=0');
    assert.equal(res.status, 400);
    conforms(`${ns}/devices`, 'GET', res, ' (bad top)');
  });

  await t.test('asset and status', async () => {
    const p = `${ns}/assets/{name}`;
    let res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c01', { body: ASSET });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), '/api/v1/namespaces/plant/assets/press-c01');
    conforms(p, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c01/status', { body: ASSET_STATUS });
    assert.equal(res.status, 200);
    conforms(`${p}/status`, 'PUT', res);
    res = await call('PATCH', '/api/v1/namespaces/plant/assets/press-c01/status', { body: { properties: { status: { streams: [{ name: 'camera' }] } } } });
    assert.equal(res.status, 200);
    conforms(`${p}/status`, 'PATCH', res);
    res = await call('GET', '/api/v1/namespaces/plant/assets/press-c01/status');
    assert.equal(res.json.streams[0].name, 'camera');
    conforms(`${p}/status`, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/assets/press-c01');
    assert.equal(res.json.properties.version, 1, 'status writes do not bump the version');
    assert.equal(res.json.properties.managementGroups[0].actions[0].actionType, 'Call');
    conforms(p, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/assets?deviceRef=plc-c01&tag=line=press');
    assert.equal(res.json.value.length, 1);
    conforms(`${ns}/assets`, 'GET', res);
    res = await call('GET', '/api/v1/namespaces/plant/assets/nothing-here');
    assert.equal(res.status, 404);
    conforms(p, 'GET', res, ' (missing)');
    res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c02', { body: { properties: { ...ASSET.properties, datasets: [{ name: 'a' }, { name: 'a' }] } } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.target, 'properties.datasets[1].name');
    conforms(p, 'PUT', res, ' (duplicate)');
    res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c02', { body: { properties: { deviceRef: { deviceName: 'plc-c01', endpointName: 'nope' } } } });
    assert.equal(res.status, 400);
    conforms(p, 'PUT', res, ' (unknown endpoint)');
    res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c01/status', { body: [] });
    assert.equal(res.status, 400);
    conforms(`${p}/status`, 'PUT', res, ' (not an object)');
    res = await call('GET', '/api/v1/namespaces/plant/assets/nothing-here/live');
    assert.equal(res.status, 404);
    conforms(`${p}/live`, 'GET', res, ' (no asset)');
    res = await call('GET', '/api/v1/namespaces/plant/devices/plc-c01/status');
    conforms(`${ns}/devices/{name}/status`, 'GET', res);
    res = await call('PUT', '/api/v1/namespaces/plant/devices/plc-c01/status', { body: { config: { version: 2 }, endpoints: { inbound: { plc: { error: { code: 'BadCertificate', message: 'untrusted' } } } } } });
    conforms(`${ns}/devices/{name}/status`, 'PUT', res);
    res = await call('DELETE', '/api/v1/namespaces/plant/devices/plc-c01');
    assert.equal(res.status, 409);
    assert.equal(res.json.error.details[0].message, 'press-c01');
    conforms(`${ns}/devices/{name}`, 'DELETE', res, ' (still referenced)');
    res = await call('DELETE', '/api/v1/namespaces/plant');
    assert.equal(res.status, 409);
    conforms(ns, 'DELETE', res, ' (not empty)');
  });

  await t.test('live data stream', async () => {
    const template = `${ns}/assets/{name}/live`;
    const declared = operation(template, 'GET').responses['200'];
    const eventData = declared['x-event-data'];
    assert.ok(eventData?.topics && eventData?.message, 'the live stream declares its event data (x-event-data)');
    // Read server-sent events from one viewer until want(events) holds.
    async function view(want, publish) {
      const ctl = new AbortController();
      const events = [];
      try {
        const res = await fetch(`${baseUrl}/api/v1/namespaces/plant/assets/press-c01/live`, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
        assert.equal(res.status, 200);
        const ctype = res.headers.get('content-type').split(';')[0];
        assert.ok(declared.content[ctype], `live content type ${ctype} is not declared`);
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        const deadline = Date.now() + 10000;
        while (!want(events) && Date.now() < deadline) {
          if (publish) publish(events);
          const chunk = await Promise.race([reader.read(), sleep(300).then(() => null)]);
          if (chunk?.done) break;
          if (chunk) buf += dec.decode(chunk.value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = { event: 'message', data: '' };
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) ev.event = line.slice(7);
              else if (line.startsWith('data: ')) ev.data += line.slice(6);
            }
            if (ev.data) events.push({ event: ev.event, data: JSON.parse(ev.data) });
          }
        }
      } finally {
        ctl.abort();
      }
      for (const ev of events) {
        assert.ok(eventData[ev.event], `live event '${ev.event}' is not declared`);
        const errors = validate(eventData[ev.event], ev.data, `${ev.event}.data`);
        assert.deepEqual(errors, [], `live event does not match the document:\n${errors.join('\n')}\n${JSON.stringify(ev.data)}`);
      }
      return events;
    }
    // The asset's only Mqtt destination is its stream's (the dataset has its own,
    // BrokerStateStore, destination and so does not use the default).
    const topic = ASSET.properties.streams[0].destinations[0].configuration.topic;
    let events = await view(
      (evs) => evs.some((e) => e.event === 'message'),
      (evs) => {
        if (evs.length) execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-t', topic, '-m', '{"pressure":{"Value":212.5}}']);
      },
    );
    assert.equal(events[0].event, 'topics');
    assert.ok(events[0].data.topics.some((tp) => tp.topic === topic && tp.source === 'stream/camera'));
    assert.equal(events.find((e) => e.event === 'message').data.payload.pressure.Value, 212.5);
    // A second viewer gets the last message at once.
    events = await view((evs) => evs.some((e) => e.event === 'message'));
    assert.ok(events.some((e) => e.event === 'message'), 'the last message was replayed');
  });

  await t.test('discovered device and asset', async () => {
    let res = await call('PUT', '/api/v1/namespaces/plant/discoveredDevices/plc-d04', { body: DISCOVERED_DEVICE });
    assert.equal(res.status, 201);
    conforms(`${ns}/discoveredDevices/{name}`, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant/discoveredDevices/plc-d04/status', { body: { config: { version: 3 } } });
    conforms(`${ns}/discoveredDevices/{name}/status`, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant/discoveredAssets/boiler', { body: DISCOVERED_ASSET });
    assert.equal(res.status, 201);
    conforms(`${ns}/discoveredAssets/{name}`, 'PUT', res);
    res = await call('PATCH', '/api/v1/namespaces/plant/discoveredAssets/boiler/status', { body: { datasets: [{ name: 'temps' }] } });
    conforms(`${ns}/discoveredAssets/{name}/status`, 'PATCH', res);
    res = await call('GET', '/api/v1/namespaces/plant/discoveredAssets/boiler');
    conforms(`${ns}/discoveredAssets/{name}`, 'GET', res);
    res = await call('PUT', '/api/v1/namespaces/plant/discoveredAssets/boiler2', { body: { properties: { deviceRef: { deviceName: 'x', endpointName: 'y' } } } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'MissingField');
    conforms(`${ns}/discoveredAssets/{name}`, 'PUT', res, ' (missing discoveryId)');
    conforms(`${ns}/discoveredDevices`, 'GET', await call('GET', '/api/v1/namespaces/plant/discoveredDevices'));
    conforms(`${ns}/discoveredAssets`, 'GET', await call('GET', '/api/v1/namespaces/plant/discoveredAssets?deviceRef=plc-d04'));
  });

  await t.test('schema and version', async () => {
    let res = await call('PUT', '/api/v1/namespaces/plant/schemas/press-hydraulics', { body: { properties: { format: 'JsonSchema/draft-07', schemaType: 'MessageSchema', displayName: 'Press', tags: { line: 'press' } } } });
    assert.equal(res.status, 201);
    conforms(`${ns}/schemas/{name}`, 'PUT', res);
    const content = '{"type":"object","properties":{"pressure":{"type":"number"}}}';
    res = await call('PUT', '/api/v1/namespaces/plant/schemas/press-hydraulics/versions/1', { body: { properties: { schemaContent: content, description: 'first' } } });
    assert.equal(res.status, 201);
    conforms(`${ns}/schemas/{schema}/versions/{version}`, 'PUT', res);
    res = await call('PUT', '/api/v1/namespaces/plant/schemas/press-hydraulics/versions/1', { body: { properties: { schemaContent: '{}' } } });
    assert.equal(res.status, 409);
    conforms(`${ns}/schemas/{schema}/versions/{version}`, 'PUT', res, ' (changed content)');
    res = await call('PUT', '/api/v1/namespaces/plant/schemas/nothing-here/versions/1', { body: { properties: { schemaContent: '{}' } } });
    assert.equal(res.status, 404);
    conforms(`${ns}/schemas/{schema}/versions/{version}`, 'PUT', res, ' (no schema)');
    res = await call('PUT', '/api/v1/namespaces/plant/schemas/press-hydraulics', { body: { properties: { format: 'Avro', schemaType: 'MessageSchema' } } });
    assert.equal(res.status, 400);
    conforms(`${ns}/schemas/{name}`, 'PUT', res, ' (bad enum)');
    conforms(`${ns}/schemas`, 'GET', await call('GET', '/api/v1/namespaces/plant/schemas'));
    conforms(`${ns}/schemas/{schema}/versions`, 'GET', await call('GET', '/api/v1/namespaces/plant/schemas/press-hydraulics/versions'));
    conforms(`${ns}/schemas/{schema}/versions/{version}`, 'GET', await call('GET', '/api/v1/namespaces/plant/schemas/press-hydraulics/versions/1'));
  });

  await t.test('errors outside resources', async () => {
    let res = await call('GET', '/api/v1/namespaces/plant/devices', { auth: false });
    assert.equal(res.status, 401);
    assert.ok(res.headers.get('www-authenticate'));
    conforms(`${ns}/devices`, 'GET', res, ' (no token)');
    res = await call('GET', '/api/v1/whoami', { headers: { Authorization: 'Bearer fpt_0000_nope' }, auth: false });
    assert.equal(res.status, 401);
    conforms('/api/v1/whoami', 'GET', res, ' (bad token)');
    res = await call('GET', '/api/v1/watch?since=-1');
    assert.equal(res.status, 400);
    conforms('/api/v1/watch', 'GET', res, ' (bad since)');
    res = await call('GET', '/api/v1/watch?kinds=Gadget');
    assert.equal(res.status, 400);
    conforms('/api/v1/watch', 'GET', res, ' (bad kinds)');
  });

  await t.test('audit, whoami, healthz, metrics', async () => {
    let res = await call('GET', '/api/v1/audit');
    assert.ok(res.json.value.length > 10);
    conforms('/api/v1/audit', 'GET', res);
    assert.ok(res.json.value.some((r) => r.action === 'status'));
    assert.ok(res.json.value.some((r) => r.action === 'secret-set'));
    assert.ok(res.json.value.some((r) => r.kind === 'SchemaVersion'));
    res = await call('GET', '/api/v1/audit?namespace=plant&top=2');
    assert.ok(res.json.nextLink);
    conforms('/api/v1/audit', 'GET', res, ' (paged)');
    conforms('/api/v1/whoami', 'GET', await call('GET', '/api/v1/whoami'));
    res = await call('GET', '/healthz', { auth: false });
    assert.equal(res.status, 200);
    conforms('/healthz', 'GET', res);
    res = await call('GET', '/metrics');
    assert.match(res.text, /fieldplane_revision \d+/);
    conforms('/metrics', 'GET', res);
    conforms('/', 'GET', await call('GET', '/', { auth: false }));
  });

  await t.test('roles and namespace-limited tokens', async () => {
    const make = (role, namespace) => {
      const out = execFileSync(BIN, ['token', 'create', '--data', dir, '--role', role, ...(namespace ? ['--namespace', namespace] : [])], { encoding: 'utf8' });
      const m = out.match(/fpt_\S+/);
      assert.ok(m, `no token in: ${out}`);
      return m[0];
    };
    const viewer = make('viewer');
    const connector = make('connector', 'plant');
    const operator = make('operator', 'other');
    let res = await call('GET', '/api/v1/whoami', { as: connector });
    assert.equal(res.json.namespace, 'plant');
    assert.equal(res.json.role, 'connector');
    conforms('/api/v1/whoami', 'GET', res, ' (limited token)');
    res = await call('GET', '/api/v1/namespaces/plant/secrets/plc-cred/value', { as: viewer });
    assert.equal(res.status, 403);
    conforms(`${ns}/secrets/{name}/value`, 'GET', res, ' (viewer)');
    res = await call('GET', '/api/v1/namespaces/plant/secrets/plc-cred/value', { as: connector });
    assert.equal(res.status, 200);
    conforms(`${ns}/secrets/{name}/value`, 'GET', res, ' (connector)');
    res = await call('PUT', '/api/v1/namespaces/plant/assets/press-c09', { as: connector, body: ASSET });
    assert.equal(res.status, 403);
    conforms(`${ns}/assets/{name}`, 'PUT', res, ' (connector)');
    res = await call('PATCH', '/api/v1/namespaces/plant/assets/press-c01/status', { as: connector, body: { config: { version: 1 } } });
    assert.equal(res.status, 200);
    conforms(`${ns}/assets/{name}/status`, 'PATCH', res, ' (connector)');
    res = await call('GET', '/api/v1/namespaces/plant/devices', { as: operator });
    assert.equal(res.status, 403);
    conforms(`${ns}/devices`, 'GET', res, ' (other namespace)');
    res = await call('GET', '/api/v1/audit', { as: connector });
    assert.equal(res.status, 403);
    conforms('/api/v1/audit', 'GET', res, ' (connector)');
    res = await call('PUT', '/api/v1/namespaces/plant2', { as: operator, body: {} });
    assert.equal(res.status, 403);
    conforms(ns, 'PUT', res, ' (operator)');
    res = await call('GET', '/api/v1/namespaces', { as: connector });
    assert.ok(res.json.value.every((n) => n.name.startsWith('plant')));
    conforms('/api/v1/namespaces', 'GET', res, ' (limited token)');
  });

  await t.test('access_token on streams only', async () => {
    const ctl = new AbortController();
    try {
      const res = await fetch(`${baseUrl}/api/v1/watch?access_token=${encodeURIComponent(token)}`, { signal: ctl.signal });
      assert.equal(res.status, 200);
      const { value } = await res.body.getReader().read();
      const first = JSON.parse(new TextDecoder().decode(value).split('\n')[0]);
      assert.deepEqual(validate(operation('/api/v1/watch', 'GET').responses['200'].content['application/x-ndjson'].schema, first), []);
      assert.equal(first.type, 'BOOKMARK');
    } finally {
      ctl.abort();
    }
    const res = await call('GET', `/api/v1/whoami?access_token=${encodeURIComponent(token)}`, { auth: false });
    assert.equal(res.status, 401);
    conforms('/api/v1/whoami', 'GET', res, ' (access_token)');
    const ctl2 = new AbortController();
    try {
      const live = await fetch(`${baseUrl}/api/v1/namespaces/plant/assets/press-c01/live?access_token=${encodeURIComponent(token)}`, { signal: ctl2.signal });
      assert.equal(live.status, 200);
    } finally {
      ctl2.abort();
    }
  });

  await t.test('watch stream', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${baseUrl}/api/v1/watch?since=0&keepaliveSeconds=1`, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
    const events = [];
    try {
      assert.equal(res.status, 200);
      const ctype = res.headers.get('content-type');
      const media = operation('/api/v1/watch', 'GET').responses['200'].content;
      assert.ok(media[ctype], `watch content type ${ctype} is not declared`);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      const deadline = Date.now() + 10000;
      // Read until a keep-alive BOOKMARK follows the history.
      while (Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
        if (events.length > 1 && events.at(-1).type === 'BOOKMARK') break;
      }
      const schema = media[ctype].schema;
      for (const [i, ev] of events.entries()) {
        const errors = validate(schema, ev, `event[${i}]`);
        assert.deepEqual(errors, [], `watch event does not match the document:\n${errors.join('\n')}\n${JSON.stringify(ev).slice(0, 1500)}`);
      }
    } finally {
      ctl.abort();
    }
    assert.equal(events[0].type, 'BOOKMARK');
    const kinds = new Set(events.map((e) => e.kind).filter(Boolean));
    for (const k of ['Namespace', 'Secret', 'Device', 'Asset', 'DiscoveredDevice', 'DiscoveredAsset', 'Schema', 'SchemaVersion']) assert.ok(kinds.has(k), `no ${k} event seen`);
    assert.ok(events.some((e) => e.type === 'DELETED'));
  });

  await t.test('every GET the document declares answers as declared', async () => {
    for (const template of Object.keys(SERVED)) {
      if (template === '/api/v1/watch' || template.endsWith('/live') || !doc.paths[template]?.get) continue;
      const values = { ...V };
      if (template.includes('/assets/') || template.includes('/discoveredAssets/')) values.name = template.includes('discovered') ? 'boiler' : 'press-c01';
      if (template.includes('/discoveredDevices/')) values.name = 'plc-d04';
      if (template.includes('/schemas/{name}')) values.name = 'press-hydraulics';
      if (template.includes('/secrets/')) values.name = 'plc-cred';
      const res = await call('GET', fill(template, values), { auth: template !== '/healthz' && template !== '/' });
      conforms(template, 'GET', res, ` (${fill(template, values)})`);
      assert.equal(res.status, 200, `GET ${fill(template, values)}: ${res.text.slice(0, 300)}`);
    }
  });

  await t.test('cascade deletes', async () => {
    let res = await call('DELETE', '/api/v1/namespaces/plant/devices/plc-c01?cascade=true');
    assert.equal(res.status, 204);
    conforms(`${ns}/devices/{name}`, 'DELETE', res);
    res = await call('DELETE', '/api/v1/namespaces/plant?cascade=true');
    assert.equal(res.status, 204);
    conforms(ns, 'DELETE', res);
    res = await call('GET', '/api/v1/namespaces/plant/assets');
    assert.equal(res.status, 404);
    conforms(`${ns}/assets`, 'GET', res, ' (namespace gone)');
  });

  await t.test('watch from a compacted revision answers 410', async () => {
    // The registry runs with --history 1: once revision 1024 commits, the
    // history before it is gone.
    conforms(ns, 'PUT', await call('PUT', '/api/v1/namespaces/burst', { body: {} }));
    let revision = (await call('GET', '/healthz', { auth: false })).json.revision;
    // Each secret PUT is one revision; a few at a time keep this short.
    while (revision <= 1025) {
      const batch = await Promise.all(
        Array.from({ length: 8 }, (_, i) => call('PUT', `/api/v1/namespaces/burst/secrets/counter-${i}`, { body: { value: String(revision) } })),
      );
      for (const res of batch) assert.ok(res.status === 200 || res.status === 201, res.text);
      revision += batch.length;
    }
    const res = await call('GET', '/api/v1/watch?since=1');
    assert.equal(res.status, 410);
    assert.equal(res.json.error.code, 'Gone');
    assert.ok(res.json.error.currentRevision >= 1024);
    conforms('/api/v1/watch', 'GET', res, ' (compacted)');
  });
});
