// Shared helpers for system tests: start a real registry on a loopback port
// chosen at run time, with a fresh data directory, and talk to it over HTTP.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.FP_BIN;
export const SOURCE_DIR = process.env.FP_SOURCE_DIR ?? new URL('../../..', import.meta.url).pathname;
export const EXAMPLES = join(SOURCE_DIR, 'tests/fixtures/model');

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Wait until fn() returns a truthy value (polling), or fail after timeoutMs.
export async function waitFor(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

export function tempDir(prefix = 'fp-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// A process of ours under test (the registry, a connector): its output kept in log for
// failure messages, a clean stop checked (under the sanitizers a leak or error makes the
// exit non-zero), and its data directory removed at the end. what names it in errors.
export class TestProcess {
  constructor(what, dataDir) {
    this.what = what;
    this.dataDir = dataDir;
    this.proc = null;
    this.log = '';
  }

  spawn(bin, args) {
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  // Fail when the process has already exited (while waiting for it to serve).
  checkRunning() {
    if (this.proc.exitCode !== null) throw new Error(`${this.what} exited: ${this.log.slice(-3000)}`);
  }

  // Stop with a signal and wait for the exit; returns {code, signal}.
  async stop(signal = 'SIGTERM') {
    if (!this.proc) return undefined;
    if (this.proc.exitCode === null && !this.proc.signalCode) this.proc.kill(signal);
    return await this.exited;
  }

  // Stop with SIGTERM and fail unless the process exited cleanly.
  async stopClean() {
    const { code, signal } = await this.stop('SIGTERM');
    if (code !== 0) throw new Error(`${this.what} exited with ${code ?? signal}: ${this.log.slice(-4000)}`);
  }

  async cleanup() {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// A running registry process. start() resolves once it serves.
export class Registry extends TestProcess {
  constructor({ dataDir, args = [] } = {}) {
    super('registry', dataDir ?? tempDir());
    this.args = args;
  }

  async start() {
    const urlFile = join(this.dataDir, 'registry.url');
    if (existsSync(urlFile)) unlinkSync(urlFile);
    this.spawn(BIN, ['registry', '--data', this.dataDir, '--listen', '127.0.0.1:0', ...this.args]);
    this.url = await waitFor(() => {
      this.checkRunning();
      return existsSync(urlFile) && readFileSync(urlFile, 'utf8').trim();
    }, 'the registry to serve');
    this.token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    return this;
  }

  // Create a token of role (optionally limited to a namespace) with the CLI.
  tokenFor(role, namespace) {
    const args = ['token', 'create', '--data', this.dataDir, '--role', role];
    if (namespace) args.push('--namespace', namespace);
    const out = execFileSync(BIN, args, { encoding: 'utf8' }).trim().split('\n');
    return out[out.length - 1];
  }

  // HTTP request; body objects are sent as JSON. Resolves {status, headers, body, text}.
  async req(method, path, body, { token = this.token, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: json, text };
  }
}

export function readFixture(name) {
  return JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8'));
}

// A free TCP port on 127.0.0.1 (bound and released).
export async function freePort() {
  const net = await import('node:net');
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// A real mosquitto on a loopback port chosen at run time.
export class Mosquitto {
  async start() {
    const { writeFileSync } = await import('node:fs');
    const net = await import('node:net');
    this.dir = this.dir ?? tempDir('fp-mqtt-');
    // mosquitto started as root drops to the user "mosquitto": let it write its
    // persistence file, so persistent sessions survive a restart of the broker.
    (await import('node:fs')).chmodSync(this.dir, 0o777);
    this.port = this.port ?? (await freePort());
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${this.dir}/\n`);
    this.proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.log = '';
    this.proc.stderr.on('data', (d) => (this.log += d));
    this.exited = new Promise((r) => this.proc.once('exit', r));
    await waitFor(
      () =>
        new Promise((resolve) => {
          const s = net.connect(this.port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
      'mosquitto to listen',
    );
    this.url = `mqtt://127.0.0.1:${this.port}`;
    return this;
  }

  publish(topic, message, args = []) {
    const r = execFileSyncStatus('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(this.port), '-t', topic, '-m', message, ...args]);
    if (r.status !== 0) throw new Error(`mosquitto_pub failed: ${r.stderr}`);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && !this.proc.signalCode) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function execFileSyncStatus(cmd, args) {
  try {
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (e) {
    return { status: e.status ?? 1, stderr: String(e.stderr ?? e.message) };
  }
}

// Read server-sent events from a fetch Response into an array; returns a closer.
export function readSse(res, into) {
  const dec = new TextDecoder();
  let buf = '';
  return (async () => {
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (ev.data) into.push({ event: ev.event, data: JSON.parse(ev.data) });
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
  })();
}
