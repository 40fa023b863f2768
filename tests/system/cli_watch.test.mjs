// System test of `fieldplane watch` against a registry whose history is
// compacted (--history 10; compaction runs every 1024 changes):
//  - `watch --since REV` with REV no longer kept, or newer than the registry's
//    (a restored backup), exits 3 before printing anything and says to list
//    again (docs/cli.md, exit codes);
//  - a watch whose resume answers 410 (it was stopped while its registry
//    restarted and made more than 1100 changes) says so on stderr and goes on
//    from the current revision, so later changes still arrive;
//  - the same when the registry ends a stream that fell behind with an ERROR
//    event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Registry, waitFor, freePort } from './lib/registry.mjs';
import { Cli } from './cli_helpers.mjs';

const NSP = '/api/v1/namespaces/plant-c';
let reg;
let cli;

before(async () => {
  reg = await new Registry({ args: ['--history', '10'] }).start();
  cli = new Cli(reg);
  cli.ok(['namespace', 'create', 'plant-c']);
});

after(async () => {
  if (cli) rmSync(cli.home, { recursive: true, force: true });
  if (reg) {
    await reg.stopClean();
    await reg.cleanup();
  }
});

// A device whose document is large, so that a stopped watch cannot take the
// whole backlog into socket buffers and really falls behind.
function device(i, size) {
  return {
    tags: { i: String(i) },
    properties: {
      attributes: { blob: 'x'.repeat(size) },
      endpoints: { inbound: { ep: { endpointType: 'Microsoft.Http', address: `http://10.0.0.${i % 250}/` } } },
    },
  };
}

async function changes(r, nsPath, n, size = 10) {
  const work = [];
  for (let i = 0; i < n; i++) {
    work.push(r.req('PUT', `${nsPath}/devices/dev-${i % 50}`, device(i, size)).then((a) => assert.ok(a.status < 300, a.text)));
    if (work.length === 8) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
}

async function watchClients() {
  const m = await reg.req('GET', '/metrics');
  return Number((/fieldplane_watch_clients\s+(\d+)/.exec(m.text) ?? [0, 0])[1]);
}

test('a watch resumed after the history was compacted says so and goes on', async () => {
  // A registry of its own on a fixed port, so that the watch finds it again.
  const port = await freePort();
  const r2 = await new Registry({ args: ['--listen', `127.0.0.1:${port}`, '--history', '10', '--keepalive', '1'] }).start();
  const c2 = new Cli(r2);
  try {
    c2.ok(['namespace', 'create', 'plant-g']);
    const w = c2.spawn(['watch', '--namespace', 'plant-g', '--kinds', 'Device', '--count', '2', '-o', 'json']);
    await waitFor(async () => /fieldplane_watch_clients\s+[1-9]/.test((await r2.req('GET', '/metrics')).text), 'the watch');
    c2.ok(['device', 'create', 'first', '--namespace', 'plant-g']);
    await waitFor(() => w.output().includes('"first"'), 'the first event');
    // While the watch is stopped the registry restarts and makes more
    // changes than its history keeps, so the watch cannot resume where it was.
    w.proc.kill('SIGSTOP');
    try {
      await r2.stopClean();
      await r2.start();
      await changes(r2, '/api/v1/namespaces/plant-g', 1100);
    } finally {
      w.proc.kill('SIGCONT');
    }
    await waitFor(async () => /fieldplane_watch_clients\s+[1-9]/.test((await r2.req('GET', '/metrics')).text), 'the watch to resume', 30000);
    c2.ok(['device', 'create', 'after-gap', '--namespace', 'plant-g']);
    const r = await w.done;
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /the registry's history was compacted past this watch: changes after revision \d+ are no longer kept and some were missed; going on from revision \d+ \(list again for the current state\)/,
    );
    assert.deepEqual(r.out.trim().split('\n').map((l) => JSON.parse(l).name), ['first', 'after-gap']);
  } finally {
    rmSync(c2.home, { recursive: true, force: true });
    await r2.stopClean();
    await r2.cleanup();
  }
});

// The registry ends a stream that falls behind its history with an ERROR
// event; the command says so and goes on.
test('a watch that falls behind while connected says so and goes on', async () => {
  const w = cli.spawn(['watch', '--namespace', 'plant-c', '--kinds', 'Device', '-o', 'json']);
  try {
    await waitFor(async () => (await watchClients()) >= 1, 'the watch to connect');
    cli.ok(['device', 'create', 'first', '--namespace', 'plant-c']);
    await waitFor(() => w.output().includes('"first"'), 'the first event');
    // Stop the watch and make more changes than the history holds, with
    // enough bytes to fill every buffer between the registry and the watch.
    w.proc.kill('SIGSTOP');
    await changes(reg, NSP, 1100, 24000);
    w.proc.kill('SIGCONT');
    await waitFor(() => /"type":\s*"ERROR"/.test(w.output()), 'the registry to end the stream with ERROR', 60000);
    cli.ok(['device', 'create', 'after-gap', '--namespace', 'plant-c']);
    await waitFor(() => w.output().includes('"after-gap"'), 'an event after the gap', 30000);
  } finally {
    w.proc.kill('SIGCONT');
    w.proc.kill('SIGTERM');
  }
  const r = await w.done;
  assert.match(r.err, /the registry's history was compacted past this watch/);
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
  const gone = lines.find((e) => e.type === 'ERROR');
  assert.equal(gone.error.code, 'Gone');
  assert.equal(lines.at(-1).name, 'after-gap');
});

test('watch --since a compacted revision exits 3 and says to list again', async () => {
  // Compaction runs every 1024 changes.
  await changes(reg, NSP, 1100);
  for (const output of ['json', 'table']) {
    const r = cli.run(['watch', '--since', '1', '--count', '1', '-o', output]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, /revision 1 is no longer kept: the registry's history was compacted\. List again and watch from the list's revision \(the current revision is \d+\)/);
  }
  // What it says works: list, then watch from the list's revision.
  const list = await reg.req('GET', `${NSP}/devices?top=1000`);
  const w = cli.spawn(['watch', '--namespace', 'plant-c', '--since', String(list.body.revision), '--count', '1', '-o', 'json']);
  await waitFor(async () => (await watchClients()) >= 1, 'the watch to connect');
  cli.ok(['device', 'create', 'relisted', '--namespace', 'plant-c']);
  const r = await w.done;
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out.trim()).name, 'relisted');
});

test('watch --since a revision newer than the registry\'s exits 3 and says why', async () => {
  const cur = (await reg.req('GET', '/healthz')).body.revision;
  // Spawned with a deadline: a registry that streams from there would keep it waiting.
  const w = cli.spawn(['watch', '--since', String(cur + 1000), '--count', '1']);
  const timer = setTimeout(() => w.proc.kill('SIGTERM'), 10000);
  const r = await w.done;
  clearTimeout(timer);
  assert.equal(r.code, 3, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, new RegExp(`revision ${cur + 1000} is newer than the registry's \\(was its database restored from a backup\\?\\)\\. List again`));
});
