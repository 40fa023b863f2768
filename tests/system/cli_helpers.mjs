// Helpers for the fieldplane command's system tests: run the real binary
// against a real registry (tests/system/lib/registry.mjs) with a private HOME,
// and compare outputs with golden files in tests/fixtures/cli/golden/
// (FP_UPDATE_GOLDEN=1 rewrites them; a missing one fails the test).
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { BIN, SOURCE_DIR, tempDir } from './lib/registry.mjs';

export const FIXTURES = join(SOURCE_DIR, 'tests/fixtures/cli');

// A client environment: its own HOME, the registry URL and a token.
export class Cli {
  constructor(reg, { token } = {}) {
    this.reg = reg;
    this.home = tempDir('fp-cli-home-');
    this.token = token ?? reg.token;
  }

  env(extra = {}) {
    const env = { ...process.env, HOME: this.home, FIELDPLANE_URL: this.reg.url, FIELDPLANE_TOKEN: this.token, ...extra };
    if (!('XDG_CONFIG_HOME' in extra)) delete env.XDG_CONFIG_HOME;
    for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
    return env;
  }

  // Run `fieldplane ARGS`; resolves {code, out, err, json()}.
  run(args, { input, env = {} } = {}) {
    const r = spawnSync(BIN, args, { input, encoding: 'utf8', env: this.env(env), maxBuffer: 1 << 28 });
    if (r.error) throw r.error;
    return {
      code: r.status,
      out: r.stdout,
      err: r.stderr,
      json() {
        try {
          return JSON.parse(r.stdout);
        } catch (e) {
          throw new Error(`not JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
        }
      },
    };
  }

  // Run and insist on exit code 0.
  ok(args, opts) {
    const r = this.run(args, opts);
    assert.equal(r.code, 0, `fieldplane ${args.join(' ')} exited ${r.code}: ${r.err}`);
    return r;
  }

  // Run in the background (watch); resolves {code, out, err} when it exits.
  spawn(args) {
    const p = spawn(BIN, args, { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const done = new Promise((resolve) => p.once('exit', (code) => resolve({ code, out, err })));
    return { proc: p, done, output: () => out };
  }
}

// Replace what changes from run to run (ids, times, etags, token ids) with
// placeholders of the same length, so table columns stay aligned.
export function mask(text, tokenId) {
  let t = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID-UUID-UUID-UUID-UUID-UUID-UUID-')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (m) => 'T'.repeat(m.length))
    .replace(/(etag["']?:\s*)(["'\\"]*)\d+/gi, '$1$2N');
  if (tokenId) t = t.split(tokenId).join('TOKEN-ID-TOKENID'.slice(0, tokenId.length));
  return t;
}

// Compare text with tests/fixtures/cli/golden/NAME, or write it when FP_UPDATE_GOLDEN is set.
// A missing file is a failure, not a file to write: written on the spot it would match
// whatever the command printed, and the test could not fail.
export function golden(name, text) {
  const file = join(FIXTURES, 'golden', name);
  if (process.env.FP_UPDATE_GOLDEN) {
    mkdirSync(join(FIXTURES, 'golden'), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.ok(
    existsSync(file),
    `golden file ${file} is missing: run the test with FP_UPDATE_GOLDEN=1 to write it, then review and commit it`,
  );
  assert.equal(text, readFileSync(file, 'utf8'), `golden output ${name} differs (FP_UPDATE_GOLDEN=1 rewrites it)`);
}

// The token id inside an fpt_<id>_<secret> token.
export function tokenId(token) {
  return token.split('_')[1];
}
