// `fieldplane up`: starts the registry and a real mosquitto, prints where to
// sign in, restarts a child that dies, stops everything on SIGTERM. Also the
// offline `fieldplane token` command.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tempDir, waitFor } from './lib/registry.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pidsOf(pattern) {
  const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

test('up starts, supervises and stops the registry and mosquitto', async () => {
  const data = tempDir('fp-up-');
  dirs.push(data);
  const up = spawn(BIN, ['up', '--data', data, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  up.stdout.on('data', (d) => (out += d));
  up.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => up.once('exit', (code, sig) => r({ code, sig })));
  try {
    await waitFor(() => out.includes('Fieldplane is up.'), 'the banner', 20000);
    const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
    assert.equal(statSync(join(data, 'admin.token')).mode & 0o777, 0o600);
    assert.ok(out.includes(token), 'the banner shows how to sign in');
    const url = readFileSync(join(data, 'registry.url'), 'utf8').trim();
    const broker = out.match(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/);
    assert.ok(broker, out);
    const h = await fetch(`${url}/healthz`);
    assert.equal(h.status, 200);
    // The broker that up started takes a publish.
    const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', broker[1], '-t', 'fp/test', '-m', 'hi', '-q', '1'], {
      encoding: 'utf8',
    });
    assert.equal(pub.status, 0, pub.stderr);

    // Kill the registry: up restarts it.
    const [regPid] = pidsOf(`registry --data ${data}`);
    assert.ok(regPid, 'the registry runs');
    unlinkSync(join(data, 'registry.url'));
    process.kill(regPid, 'SIGKILL');
    await waitFor(() => existsSync(join(data, 'registry.url')), 'the registry restarted', 20000);
    const url2 = readFileSync(join(data, 'registry.url'), 'utf8').trim();
    const ns = await fetch(`${url2}/api/v1/namespaces`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ns.status, 200);
    await waitFor(() => /registry was killed by signal 9; restarting/.test(out), 'the restart in the log', 5000);
  } finally {
    up.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, out);
  }
  assert.deepEqual(pidsOf(`registry --data ${data}`), [], 'no registry left running');
  assert.deepEqual(pidsOf(`mosquitto -c ${data}`), [], 'no mosquitto left running');
});

test('up refuses a busy broker port with advice', async () => {
  const data = tempDir('fp-up-');
  dirs.push(data);
  const net = await import('node:net');
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = srv.address().port;
  const r = spawnSync(BIN, ['up', '--data', data, '--listen', '127.0.0.1:0', '--mqtt-listen', `127.0.0.1:${port}`], {
    encoding: 'utf8',
    timeout: 20000,
  });
  srv.close();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already listens.*--broker mqtt:\/\/127\.0\.0\.1/);
});

test('token create, list and revoke work offline on a data directory', async () => {
  const data = tempDir('fp-token-');
  dirs.push(data);
  const out = execFileSync(BIN, ['token', 'create', '--data', data, '--role', 'viewer', '--namespace', 'plant-a'], {
    encoding: 'utf8',
  });
  const lines = out.trim().split('\n');
  const tok = lines[lines.length - 1];
  assert.match(tok, /^fpt_[0-9a-f]{16}_[0-9a-f]{48}$/);
  assert.ok(existsSync(join(data, 'admin.token')), 'the first admin token is made too');
  const id = tok.slice(4, 20);
  const list = execFileSync(BIN, ['token', 'list', '--data', data], { encoding: 'utf8' });
  assert.match(list, new RegExp(`${id}\\s+viewer\\s+plant-a`));
  assert.match(list, /admin/);
  assert.doesNotMatch(list, /fpt_/, 'list never shows secrets');
  execFileSync(BIN, ['token', 'revoke', '--data', data, id]);
  assert.match(execFileSync(BIN, ['token', 'list', '--data', data], { encoding: 'utf8' }), /revoked/);
  const bad = spawnSync(BIN, ['token', 'create', '--data', data, '--role', 'root'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--role must be/);
  const missing = spawnSync(BIN, ['token', 'revoke', '--data', data, 'ffffffffffffffff'], { encoding: 'utf8' });
  assert.equal(missing.status, 3);
});

test('a revoked token is refused by a running registry at once', async () => {
  const { Registry } = await import('./lib/registry.mjs');
  const reg = await new Registry().start();
  try {
    const tok = reg.tokenFor('viewer');
    assert.equal((await reg.req('GET', '/api/v1/namespaces', undefined, { token: tok })).status, 200);
    execFileSync(BIN, ['token', 'revoke', '--data', reg.dataDir, tok.slice(4, 20)]);
    assert.equal((await reg.req('GET', '/api/v1/namespaces', undefined, { token: tok })).status, 401);
  } finally {
    await reg.cleanup();
  }
});
