// The registry against hostile clients on its network (issue 13), on loopback with raw
// sockets where HTTP clients would tidy the request up:
//  - a request is authenticated on its headers: no or an unknown token answers 401, and a
//    Content-Length over --max-body 413 to a client waiting for "100 Continue", before a
//    byte of the body is read (a client that sends straight on has it discarded; else each
//    connection pins a body's worth of memory for anyone who can connect); 200 such
//    connections with 2 MiB bodies leave its memory as it was;
//  - framing is strict: two different Content-Length headers, or Content-Length with
//    Transfer-Encoding, answer 400 and close, so no leftover runs as a second request;
//  - a revoked token's open watch ends within a second of `fieldplane token revoke`, and an
//    expiring token's (`token create --expires`) within a second of its expiry;
//  - small ones: a malformed audit skipToken is 400; an error message quoting invalid
//    UTF-8 is still a JSON body; %00 in a path is refused, not cut; /metrics shows a
//    namespace-scoped token only its namespace's counts;
//  - another local user reads nothing: the database files (registry.db, -wal, -shm) and
//    admin.token are 0600 and the data directory 0700, also when they were looser before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, statSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Registry, BIN } from './lib/registry.mjs';

let reg;
let port;

before(async () => {
  reg = await new Registry().start();
  port = Number(new URL(reg.url).port);
});

after(async () => {
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

// Send text on a fresh connection and collect what comes back until the registry closes
// the connection or timeoutMs passes. Resolves {status, text, closed}: status is the
// first response's code (0 for none), closed whether the registry closed the connection.
function raw(text, { timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : 0, text: got, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('data', (d) => (got += d));
    s.on('end', () => {
      closed = true;
      finish();
    });
    s.on('error', (e) => (got ? finish() : reject(e)));
    s.write(text);
  });
}

// Wait for the first response only (the connection may stay open); resolves as raw().
function firstResponse(text, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (status) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ status, text: got });
    };
    const timer = setTimeout(() => done(0), timeoutMs);
    s.on('data', (d) => {
      got += d;
      const m = /^HTTP\/1\.[01] (\d{3})[^]*?\r\n\r\n/.exec(got);
      if (m) done(Number(m[1]));
    });
    s.on('error', reject);
    s.write(text);
  });
}

const NS = '/api/v1/namespaces/hostile';

test('no token, or an unknown one, answers 401 before the body is sent', async () => {
  for (const auth of ['', 'Authorization: Bearer fpt_0000_nosuchtoken\r\n']) {
    const r = await firstResponse(
      `PUT ${NS} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n`,
    );
    assert.equal(r.status, 401, `answered before the 3 MB body (auth '${auth.trim()}'): ${r.text}`);
  }
  // The connection closes after that answer: a body sent anyway never runs as a request.
  const inner = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = await raw(`PUT ${NS} HTTP/1.1\r\nHost: x\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`);
  assert.equal(r.status, 401, r.text);
  assert.ok(r.closed, 'the registry closed the connection');
  assert.equal(r.text.match(/HTTP\/1\.1 /g).length, 1, `one response only: ${r.text}`);
  // A request without a body keeps its connection: the next request on it is served.
  const two = await raw(`GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.deepEqual(two.text.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 401', 'HTTP/1.1 200'], two.text);
});

// The registry's resident memory in MiB (its own process, from /proc).
function rssMiB() {
  const status = readFileSync(`/proc/${reg.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

test('200 unauthenticated 2 MiB bodies leave the registry\'s memory as it was', async () => {
  const before = rssMiB();
  const body = Buffer.alloc(2 << 20, 'x');
  const conns = [];
  for (let i = 0; i < 200; i++) {
    conns.push(
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.write(`PUT ${NS}/devices/d${i} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 1}\r\n\r\n`);
        s.write(body);
        // One byte short of the declared length: a server that reads bodies holds this one.
        setTimeout(() => s.destroy(), 4000);
      }),
    );
  }
  await Promise.all(conns);
  const grown = rssMiB() - before;
  assert.ok(grown < 64, `the registry grew by ${grown.toFixed(0)} MiB`);
});

test('a Content-Length over the limit answers 413 before the body is sent', async () => {
  // A client that waits for "100 Continue" (curl does for large bodies) gets 413 instead.
  const r = await firstResponse(
    `PUT ${NS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${reg.token}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${5 << 20}\r\n\r\n`,
  );
  assert.equal(r.status, 413, r.text);
  assert.match(r.text, /PayloadTooLarge/);
  // A body within the limit is still read and served.
  const ok = await reg.req('PUT', NS, { properties: {} });
  assert.equal(ok.status, 201, ok.text);
});

// The permission bits of each file of the data directory that must stay private.
function modes(dir) {
  const out = { '.': statSync(dir).mode & 0o777 };
  for (const f of ['registry.db', 'registry.db-wal', 'registry.db-shm', 'admin.token']) {
    const p = join(dir, f);
    if (existsSync(p)) out[f] = statSync(p).mode & 0o777;
  }
  return out;
}

const PRIVATE = { '.': 0o700, 'registry.db': 0o600, 'registry.db-wal': 0o600, 'registry.db-shm': 0o600, 'admin.token': 0o600 };

test('the data directory is 0700 and its database files 0600, existing ones tightened', async () => {
  const r = await new Registry().start();
  try {
    await r.req('PUT', '/api/v1/namespaces/modes', { properties: {} });
    assert.deepEqual(modes(r.dataDir), PRIVATE, 'a new data directory');
    await r.stopClean();
    // A data directory made by hand (or by an older registry) with looser modes.
    chmodSync(r.dataDir, 0o755);
    for (const f of Object.keys(PRIVATE)) if (f !== '.' && existsSync(join(r.dataDir, f))) chmodSync(join(r.dataDir, f), 0o644);
    await r.start();
    await r.req('PUT', '/api/v1/namespaces/modes2', { properties: {} });
    assert.deepEqual(modes(r.dataDir), PRIVATE, 'an existing data directory');
    await r.stopClean();
  } finally {
    await r.cleanup();
  }
});

// Requests whose length is ambiguous: a front proxy and the registry could split them
// differently, and what one takes for body the other runs as a request (smuggling).
test('ambiguous framing answers 400 and closes; the leftover never runs', async () => {
  const inner = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  const auth = `Authorization: Bearer ${reg.token}\r\n`;
  const cases = {
    'two Content-Length': `GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
    'Content-Length with Transfer-Encoding': `PUT ${NS}/devices/smuggled HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n${inner}`,
    'Transfer-Encoding with Content-Length': `PUT ${NS}/devices/smuggled HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n${inner}`,
  };
  for (const [what, text] of Object.entries(cases)) {
    const r = await raw(text);
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.match(r.text, /InvalidRequest/, what);
    assert.ok(r.closed, `${what}: the registry closed the connection`);
    assert.equal(r.text.match(/HTTP\/1\.1 \d/g).length, 1, `${what}: one response only: ${r.text}`);
  }
  // The same Content-Length twice is one length (RFC 9112, 6.3): served.
  const same = await raw(`GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  assert.equal(same.status, 200, same.text);
});

test('a revoked token\'s open watch ends within a second', async () => {
  const tok = reg.tokenFor('viewer');
  const id = /^fpt_([0-9a-f]+)_/.exec(tok)[1];
  const res = await fetch(`${reg.url}/api/v1/watch?keepaliveSeconds=60`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  await reader.read().then(({ value }) => (text += Buffer.from(value).toString()));
  assert.match(text, /BOOKMARK/);
  // Revoked offline on the data directory, as an operator does while the registry runs.
  execFileSync(BIN, ['token', 'revoke', '--data', reg.dataDir, id]);
  const revokedAt = Date.now();
  let ended = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel();
  }, 5000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = !timedOut;
        break;
      }
      text += Buffer.from(value).toString();
    }
  } catch {
    // cancelled by the timer: not ended
  }
  clearTimeout(timer);
  const took = Date.now() - revokedAt;
  assert.ok(ended && took <= 1000, `the watch ended ${ended ? `after ${took} ms` : 'not within 5 s'}`);
  assert.match(text, /"type":"ERROR","error":\{"code":"Unauthorized"/);
  assert.equal((await fetch(`${reg.url}/api/v1/watch`, { headers: { authorization: `Bearer ${tok}` } })).status, 401);
});

test('a malformed audit skipToken answers 400, not the newest page', async () => {
  for (const bad of ['abc', '12x', '-5', '']) {
    const r = await reg.req('GET', `/api/v1/audit?top=1&skipToken=${bad}`);
    assert.equal(r.status, 400, `skipToken '${bad}': ${r.text}`);
    assert.equal(r.body.error.code, 'InvalidQuery');
    assert.equal(r.body.error.target, 'skipToken');
  }
  const page = await reg.req('GET', '/api/v1/audit?top=1');
  assert.equal(page.status, 200);
  if (page.body.nextLink) assert.equal((await reg.req('GET', page.body.nextLink)).status, 200);
});

test('an error message quoting invalid UTF-8 is still a JSON body', async () => {
  // %FF%FE decode to bytes that are not UTF-8, and the 404 message quotes the path.
  const res = await new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    sock.on('error', reject);
    sock.write('GET /no-such-page-%FF%FE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const body = res.slice(res.indexOf('\r\n\r\n') + 4);
  assert.match(res, /^HTTP\/1\.1 404/);
  const err = JSON.parse(body).error;
  assert.equal(err.code, 'NotFound');
  assert.match(err.message, /no-such-page-\uFFFD\uFFFD/);
});

test('%00 in a path is refused with 400, not cut at the NUL', async () => {
  const r = await reg.req('PUT', '/api/v1/namespaces/cut%00tail', { properties: {} });
  assert.equal(r.status, 400, r.text);
  assert.equal((await reg.req('GET', '/api/v1/namespaces/cut')).status, 404);
});

test('/metrics shows a namespace-scoped token only its namespace\'s counts', async () => {
  for (const ns of ['metrics-a', 'metrics-b']) await reg.req('PUT', `/api/v1/namespaces/${ns}`, { properties: {} });
  for (let i = 0; i < 3; i++) assert.equal((await reg.req('PUT', `/api/v1/namespaces/metrics-b/devices/dev-${i}`, { properties: { endpoints: { inbound: { ep: { endpointType: 'Microsoft.Http', address: 'http://10.0.0.1/' } } } } })).status, 201);
  await reg.req('PUT', '/api/v1/namespaces/metrics-a/devices/only', { properties: { endpoints: { inbound: { ep: { endpointType: 'Microsoft.Http', address: 'http://10.0.0.1/' } } } } });
  const scoped = reg.tokenFor('viewer', 'metrics-a');
  const m = await reg.req('GET', '/metrics', undefined, { token: scoped });
  assert.equal(m.status, 200);
  assert.match(m.text, /fieldplane_resources\{kind="Device"\} 1\n/);
  assert.doesNotMatch(m.text, /fieldplane_resources\{kind="Namespace"\}/);
  const all = await reg.req('GET', '/metrics');
  assert.match(all.text, /fieldplane_resources\{kind="Device"\} 4\n/);
});

test('a token with an expiry is refused after it, and its open watch ends within a second', async () => {
  const made = Date.now();
  const out = execFileSync(BIN, ['token', 'create', '--data', reg.dataDir, '--role', 'viewer', '--expires', '3s'], { encoding: 'utf8' });
  const tok = out.trim().split('\n').at(-1);
  assert.match(out, /expires \d{4}-\d\d-\d\dT/);
  assert.equal((await reg.req('GET', '/api/v1/whoami', undefined, { token: tok })).status, 200);
  const res = await fetch(`${reg.url}/api/v1/watch?keepaliveSeconds=60`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  const timer = setTimeout(() => reader.cancel(), 8000);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  clearTimeout(timer);
  const took = Date.now() - made;
  assert.ok(took >= 2500 && took <= 4200, `the watch ended ${took} ms after the 3 s token was made`);
  assert.match(text, /"code":"Unauthorized"/);
  assert.equal((await reg.req('GET', '/api/v1/whoami', undefined, { token: tok })).status, 401);
  const list = execFileSync(BIN, ['token', 'list', '--data', reg.dataDir], { encoding: 'utf8' });
  assert.match(list, /expired \d{4}-/);
  // A malformed duration is a usage error that says what is accepted.
  let bad;
  try {
    execFileSync(BIN, ['token', 'create', '--data', reg.dataDir, '--role', 'viewer', '--expires', 'soon'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    bad = e;
  }
  assert.equal(bad?.status, 2);
  assert.match(String(bad.stderr), /--expires 'soon'/);
});
