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

// A running registry process. start() resolves once it serves.
export class Registry {
  constructor({ dataDir, args = [] } = {}) {
    this.dataDir = dataDir ?? tempDir();
    this.args = args;
    this.proc = null;
    this.log = '';
  }

  async start() {
    const urlFile = join(this.dataDir, 'registry.url');
    if (existsSync(urlFile)) unlinkSync(urlFile);
    this.proc = spawn(BIN, ['registry', '--data', this.dataDir, '--listen', '127.0.0.1:0', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => (this.log += d));
    this.proc.stderr.on('data', (d) => (this.log += d));
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.exited = exited;
    this.url = await waitFor(() => {
      if (this.proc.exitCode !== null) throw new Error(`registry exited: ${this.log}`);
      return existsSync(urlFile) && readFileSync(urlFile, 'utf8').trim();
    }, 'the registry to serve');
    this.token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    return this;
  }

  // Stop with a signal and wait for the exit; returns the exit code or signal.
  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    this.proc.kill(signal);
    await this.exited;
  }

  async cleanup() {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
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
