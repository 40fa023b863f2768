// System test of the other client commands: discovered resources and their
// onboarding, schemas and versions, secrets (values from files and stdin),
// the audit log, watch, login and its config file, bash completion, and
// --help with an example on every command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { Registry, readFixture, BIN, SOURCE_DIR, waitFor, freePort } from './lib/registry.mjs';
import { Cli } from './cli_helpers.mjs';

let reg;
let cli;
const NS = ['--namespace', 'plant-d'];

before(async () => {
  reg = await new Registry().start();
  cli = new Cli(reg);
  cli.ok(['namespace', 'create', 'plant-d']);
});

after(async () => {
  if (cli) rmSync(cli.home, { recursive: true, force: true });
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

test('discovered devices and assets: list, show, onboard, delete', async () => {
  let r = await reg.req('PUT', '/api/v1/namespaces/plant-d/discoveredDevices/plc-d04', readFixture('discovered-device.json'));
  assert.ok(r.status < 300, r.text);
  r = await reg.req('PUT', '/api/v1/namespaces/plant-d/discoveredAssets/disc-line', readFixture('discovered-asset-flat-events.json'));
  assert.ok(r.status < 300, r.text);

  assert.deepEqual(cli.ok(['discovered', 'device', 'list', ...NS]).json().map((d) => d.name), ['plc-d04']);
  assert.equal(cli.ok(['discovered', 'device', 'show', 'plc-d04', ...NS]).json().properties.discoveryId, 'opcua-lds-0f3a');
  const dev = cli.ok(['discovered', 'device', 'onboard', 'plc-d04', ...NS]).json();
  assert.equal(dev.properties.discoveredDeviceRef, 'plc-d04');
  assert.equal(dev.properties.endpoints.inbound.opcua.authentication.method, 'Anonymous');
  assert.equal(dev.properties.externalDeviceId, 'urn:plc-d04:server');
  // Onboarding twice conflicts; --as gives another name.
  assert.equal(cli.run(['discovered', 'device', 'onboard', 'plc-d04', ...NS]).code, 4);

  const asset = cli.ok(['discovered', 'asset', 'onboard', 'disc-line', ...NS, '--as', 'line-1']).json();
  assert.equal(asset.name, 'line-1');
  assert.deepEqual(asset.properties.discoveredAssetRefs, ['disc-line']);
  assert.equal(asset.properties.datasets[0].dataPoints[0].name, 'good');
  assert.equal(asset.properties.datasets[0].lastUpdatedOn, undefined);
  assert.ok(asset.properties.eventGroups.length >= 1);

  cli.ok(['discovered', 'asset', 'delete', 'disc-line', ...NS, '--yes']);
  assert.equal(cli.run(['discovered', 'asset', 'show', 'disc-line', ...NS]).code, 3);
  assert.equal(cli.run(['discovered', 'asset', 'onboard', 'disc-line', ...NS]).code, 3);
});

test('schemas and versions', () => {
  const s = cli.ok(['schema', 'create', 'oven-line', ...NS, '--display-name', 'Oven line']).json();
  assert.equal(s.properties.format, 'JsonSchema/draft-07');
  assert.equal(s.properties.schemaType, 'MessageSchema');
  const content = join(cli.home, 'schema.json');
  writeFileSync(content, '{"type":"object","properties":{"temp":{"type":"number"}}}');
  const v = cli.ok(['schema', 'version', 'add', '1', ...NS, '--schema', 'oven-line', '--content-file', content, '--desc', 'first']).json();
  assert.match(v.properties.hash, /^[0-9a-f]{64}$/);
  // From stdin too; a version's content cannot change.
  cli.ok(['schema', 'version', 'add', '2', ...NS, '--schema', 'oven-line', '--content-file', '-'], { input: '{"type":"object"}' });
  assert.equal(cli.run(['schema', 'version', 'add', '1', ...NS, '--schema', 'oven-line', '--content-file', '-'], { input: '{}' }).code, 4);
  assert.deepEqual(cli.ok(['schema', 'version', 'list', ...NS, '--schema', 'oven-line']).json().map((x) => x.name), ['1', '2']);
  assert.equal(cli.ok(['schema', 'version', 'show', '2', ...NS, '--schema', 'oven-line']).json().properties.schemaContent, '{"type":"object"}');
  assert.equal(cli.run(['schema', 'version', 'show', 'two', ...NS, '--schema', 'oven-line']).code, 2);
  cli.ok(['schema', 'version', 'remove', '2', ...NS, '--schema', 'oven-line', '--yes']);
  assert.equal(cli.run(['schema', 'version', 'show', '2', ...NS, '--schema', 'oven-line']).code, 3);
  assert.deepEqual(cli.ok(['schema', 'list', ...NS]).json().map((x) => x.name), ['oven-line']);
  cli.ok(['schema', 'delete', 'oven-line', ...NS, '--yes']);
  assert.equal(cli.run(['schema', 'show', 'oven-line', ...NS]).code, 3);
});

test('secrets: values from files and stdin, never shown back', async () => {
  const f = join(cli.home, 'pw.txt');
  writeFileSync(f, 'hunter2');
  cli.ok(['secret', 'set', 'plc', ...NS, '--from-file', `password=${f}`, '--from-file', `username=${f}`]);
  cli.ok(['secret', 'set', 'token', ...NS], { input: 'abc\n' });
  const list = cli.ok(['secret', 'list', ...NS]).json();
  assert.deepEqual(list.map((s) => [s.name, s.properties.keys.sort()]), [['plc', ['password', 'username']], ['token', ['value']]]);
  assert.ok(!JSON.stringify(list).includes('hunter2'));
  // The value from stdin lost its final newline.
  const v = await reg.req('GET', '/api/v1/namespaces/plant-d/secrets/token/value');
  assert.deepEqual(v.body.data, { value: 'abc' });
  // There is no flag that takes a value.
  assert.equal(cli.run(['secret', 'set', 'x', ...NS, '--value', 'abc']).code, 2);
  assert.equal(cli.run(['secret', 'set', 'x', ...NS, '--from-file', 'k=/no/such/file']).code, 2);
  cli.ok(['secret', 'delete', 'token', ...NS, '--yes']);
  assert.deepEqual(cli.ok(['secret', 'list', ...NS]).json().map((s) => s.name), ['plc']);
});

test('audit list', () => {
  const entries = cli.ok(['audit', 'list', '--namespace', 'plant-d', '--kind', 'Secret', '--top', '5']).json();
  assert.ok(entries.length >= 1);
  assert.ok(entries.every((e) => e.kind === 'Secret' && e.namespace === 'plant-d'));
  const table = cli.ok(['audit', 'list', '--top', '3', '-o', 'table']).out.split('\n');
  assert.match(table[0], /^REVISION\s+TIME\s+TOKEN\s+ACTION\s+KIND\s+NAMESPACE\s+NAME$/);
  assert.equal(table.filter(Boolean).length, 4);
});

test('watch prints changes as they happen', async () => {
  const w = cli.spawn(['watch', '--namespace', 'plant-d', '--kinds', 'Device', '--count', '2', '-o', 'json']);
  // Wait until the stream is open: the registry counts watch clients.
  await waitFor(async () => {
    const m = await reg.req('GET', '/metrics');
    return /fieldplane_watch_clients\s+[1-9]/.test(m.text);
  }, 'the watch to connect');
  cli.ok(['device', 'create', 'w-1', ...NS]);
  cli.ok(['device', 'update', 'w-1', ...NS, '--model', 'M']);
  const r = await w.done;
  assert.equal(r.code, 0, r.err);
  const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => [e.type, e.kind, e.name]), [['ADDED', 'Device', 'w-1'], ['MODIFIED', 'Device', 'w-1']]);
  // From a revision, in table form.
  const since = events[0].revision - 1;
  const t = cli.ok(['watch', '--namespace', 'plant-d', '--since', String(since), '--count', '2', '-o', 'table']).out;
  assert.match(t, /^REVISION\s+TYPE\s+KIND\s+NAME\n\d+\s+ADDED\s+Device\s+plant-d\/w-1\n/);
});

test('watch resumes from the last revision across a registry restart', async () => {
  const port = await freePort();
  const r2 = await new Registry({ args: ['--listen', `127.0.0.1:${port}`, '--keepalive', '1'] }).start();
  const c2 = new Cli(r2);
  try {
    c2.ok(['namespace', 'create', 'plant-r']);
    const w = c2.spawn(['watch', '--namespace', 'plant-r', '--kinds', 'Device', '--count', '3', '-o', 'json']);
    await waitFor(async () => /fieldplane_watch_clients\s+[1-9]/.test((await r2.req('GET', '/metrics')).text), 'the watch');
    c2.ok(['device', 'create', 'r-1', '--namespace', 'plant-r']);
    await waitFor(() => w.output().includes('r-1'), 'the first event');
    await r2.stopClean();
    await r2.start();
    c2.ok(['device', 'create', 'r-2', '--namespace', 'plant-r']);
    c2.ok(['device', 'create', 'r-3', '--namespace', 'plant-r']);
    const r = await w.done;
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n').map((l) => JSON.parse(l).name), ['r-1', 'r-2', 'r-3']);
  } finally {
    rmSync(c2.home, { recursive: true, force: true });
    await r2.stopClean();
    await r2.cleanup();
  }
});

// Run a command on a pseudo-terminal (util-linux script), feeding input.
function onTerminal(args, input = '') {
  const cmd = [BIN, ...args].map((a) => `'${a}'`).join(' ');
  return spawnSync('script', ['-qec', cmd, '/dev/null'], { input, encoding: 'utf8', env: cli.env() });
}

test('on a terminal: tables by default, deletes ask, imports show progress', () => {
  cli.ok(['namespace', 'create', 'tty-ns']);
  let r = onTerminal(['namespace', 'list']);
  assert.match(r.stdout, /NAME\s+ENDPOINTS\s+STATE\s+UUID/);
  r = onTerminal(['namespace', 'delete', 'tty-ns'], 'n\n');
  assert.match(r.stdout, /Delete namespace 'tty-ns'\? \[y\/N\]/);
  assert.equal(cli.run(['namespace', 'show', 'tty-ns']).code, 0);
  r = onTerminal(['namespace', 'delete', 'tty-ns'], 'y\n');
  assert.match(r.stdout, /deleted namespace 'tty-ns'/);
  assert.equal(cli.run(['namespace', 'show', 'tty-ns']).code, 3);
  // Without a terminal nothing asks (scripts), as with --yes.
  cli.ok(['device', 'create', 'p-dev', ...NS]);
  cli.ok(['device', 'endpoint', 'inbound', 'add', 'rest', ...NS, '--device', 'p-dev', '--name', 'e', '--address', 'http://x']);
  cli.ok(['asset', 'create', 'p-asset', ...NS, '--device', 'p-dev', '--endpoint', 'e']);
  cli.ok(['asset', 'dataset', 'add', ...NS, '--asset', 'p-asset', '--name', 'd']);
  const rows = ['name,dataSource'];
  for (let i = 0; i < 3000; i++) rows.push(`p${i},s${i}`);
  const file = join(cli.home, 'progress.csv');
  writeFileSync(file, rows.join('\n'));
  r = onTerminal(['asset', 'datapoint', 'import', ...NS, '--asset', 'p-asset', '--dataset', 'd', '--input-file', file]);
  assert.match(r.stdout, /checking \[#+\] 3000\/3000/);
  assert.match(r.stdout, /imported 3000 data points/);
});

test('login writes the config file 0600; the environment overrides it', () => {
  const tokFile = join(cli.home, 'op.token');
  writeFileSync(tokFile, reg.tokenFor('operator') + '\n');
  const env = { FIELDPLANE_URL: undefined, FIELDPLANE_TOKEN: undefined };
  let r = cli.run(['login', reg.url, '--token-file', tokFile, '-o', 'table'], { env });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /logged in to .* as [0-9a-f]+ \(role operator\)/);
  const cfg = join(cli.home, '.config/fieldplane/config');
  assert.equal(statSync(cfg).mode & 0o777, 0o600);
  assert.match(readFileSync(cfg, 'utf8'), new RegExp(`url = ${reg.url}`));
  // The other commands use it.
  assert.equal(cli.run(['namespace', 'list'], { env }).code, 0);
  // XDG_CONFIG_HOME is respected.
  const xdg = join(cli.home, 'xdg');
  r = cli.run(['login', reg.url, '--token-file', '-'], { env: { ...env, XDG_CONFIG_HOME: xdg }, input: reg.token });
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(join(xdg, 'fieldplane/config')));
  // FIELDPLANE_TOKEN overrides the file: a bad one gives 5.
  assert.equal(cli.run(['namespace', 'list'], { env: { FIELDPLANE_URL: undefined, FIELDPLANE_TOKEN: 'fpt_1_bad' } }).code, 5);
  // A wrong token is not stored.
  writeFileSync(tokFile, 'fpt_0_wrong\n');
  r = cli.run(['login', reg.url, '--token-file', tokFile], { env });
  assert.equal(r.code, 5);
  assert.match(readFileSync(cfg, 'utf8'), /token = fpt_[0-9a-f]+_/);
});

test('--help on every command has an example; docs and completion match the binary', () => {
  const md = readFileSync(join(SOURCE_DIR, 'docs/cli.md'), 'utf8');
  const commands = [...md.matchAll(/^#{2,3} `fieldplane ([a-z -]+)`$/gm)].map((m) => m[1].split(' '));
  assert.ok(commands.length > 80, `only ${commands.length} commands in docs/cli.md`);
  for (const words of commands) {
    const out = execFileSync(BIN, [...words, '--help'], { encoding: 'utf8' });
    assert.match(out, new RegExp(`^Usage: fieldplane ${words.join(' ')}`), words.join(' '));
    if (!/COMMAND/.test(out.split('\n')[0])) assert.match(out, /\nExample:\n  \S/, `${words.join(' ')} --help`);
  }
  const bash = execFileSync(BIN, ['completion', 'bash'], { encoding: 'utf8' });
  assert.equal(bash, readFileSync(join(SOURCE_DIR, 'contrib/completion/fieldplane.bash'), 'utf8'));
  const words = execFileSync('bash', ['-c', `source /dev/stdin <<'EOF'\n${bash}\nEOF\nCOMP_WORDS=(fieldplane asset datapoint im); COMP_CWORD=3; _fieldplane; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.equal(words.trim(), 'import');
});
