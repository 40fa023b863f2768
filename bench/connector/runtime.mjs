// bench/connector/runtime.mjs BUILD_DIR [--assets N] [--points N] [--interval-ms MS] [--seconds S]
//
// Messages per second through the whole connector runtime into mosquitto, and the
// connector's RSS, with the example connector (examples/connector-counter) serving N assets
// of one dataset of P data points each. For each mode (QoS 0: no disk queue; QoS 1: through
// the disk queue; QoS 1 with --queue-sync: an fdatasync per message) it starts a fresh
// registry, mosquitto and the connector pinned to one core (taskset -c 0), creates the
// assets through the REST API, lets the flow settle, and reads the connector's /metrics
// and /proc over S seconds. The offered rate is N * 1000 / interval messages/s; when the
// measured rate is below it, the runtime (one core) is the limit.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep, freePort, until, cpuSeconds, procMem, loadavg } from './lib.mjs';

const args = process.argv.slice(2);
const BUILD = resolve(args[0] ?? 'build/release');
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ASSETS = opt('assets', 1000);
const POINTS = opt('points', 10);
const INTERVAL = opt('interval-ms', 100);
const SECONDS = opt('seconds', 20);
const BIN = join(BUILD, 'cli/fieldplane');
const CONN = join(BUILD, 'examples/connector-counter/fieldplane-connector-counter');
for (const f of [BIN, CONN]) if (!existsSync(f)) throw new Error(`missing ${f}: build ${BUILD} first`);

function metric(text, name) {
  for (const l of text.split('\n')) if (l.startsWith(name + '{') && !l.includes('endpoint=')) return Number(l.split(' ').pop());
  return NaN;
}

async function runMode(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-conn-'));
  const procs = [];
  try {
    const regPort = await freePort();
    const reg = spawn(BIN, ['registry', '--data', join(dir, 'reg'), '--listen', `127.0.0.1:${regPort}`], { stdio: 'ignore' });
    procs.push(reg);
    const mqPort = await freePort();
    writeFileSync(join(dir, 'mq.conf'), `listener ${mqPort} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n`);
    const mq = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mq.conf')], { stdio: 'ignore' });
    procs.push(mq);
    const url = `http://127.0.0.1:${regPort}`;
    const token = await until(() => readFileSync(join(dir, 'reg', 'admin.token'), 'utf8').trim(), 'the registry');
    const req = async (method, path, body) => {
      const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    };
    await until(() => fetch(url + '/healthz').then((r) => r.ok), 'the registry to serve');
    await req('PUT', '/api/v1/namespaces/bench', { properties: {} });
    await req('PUT', '/api/v1/namespaces/bench/devices/sim', {
      properties: { endpoints: { inbound: { main: { endpointType: 'Example.Counter', address: 'sim://local' } } } },
    });
    const qos = mode.qos;
    const points = Array.from({ length: POINTS }, (_, i) => ({ name: `p${i}`, dataSource: 'counter' }));
    for (let i = 0; i < ASSETS; i++) {
      await req('PUT', `/api/v1/namespaces/bench/assets/asset-${i}`, {
        properties: {
          deviceRef: { deviceName: 'sim', endpointName: 'main' },
          datasets: [{ name: 'd', datasetConfiguration: JSON.stringify({ intervalMilliseconds: INTERVAL }), dataPoints: points,
            destinations: [{ target: 'Mqtt', configuration: { topic: `bench/asset-${i}`, qos } }] }],
        },
      });
    }
    const tok = execFileSync(BIN, ['token', 'create', '--data', join(dir, 'reg'), '--role', 'connector'], { encoding: 'utf8' }).trim().split('\n').pop();
    writeFileSync(join(dir, 'conn.token'), tok + '\n');
    const mPort = await freePort();
    // A subscriber so the broker really delivers what it receives.
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqPort), '-t', 'bench/#', '-q', String(qos === 'Qos1' ? 1 : 0)], { stdio: ['ignore', 'ignore', 'ignore'] });
    procs.push(sub);
    const t0 = Date.now();
    const conn = spawn('taskset', ['-c', '0', CONN, '--registry', url, '--token-file', join(dir, 'conn.token'),
      '--broker', `mqtt://127.0.0.1:${mqPort}`, '--data', join(dir, 'conn'), '--listen', `127.0.0.1:${mPort}`, ...mode.flags], { stdio: 'ignore' });
    procs.push(conn);
    const metrics = () => fetch(`http://127.0.0.1:${mPort}/metrics`).then((r) => r.text());
    await until(async () => metric(await metrics(), 'fieldplane_connector_messages_published_total') >= ASSETS, 'every asset publishing', 120000);
    const startupS = (Date.now() - t0) / 1000;
    await sleep(3000);
    const m0 = await metrics();
    const c0 = cpuSeconds(conn.pid);
    const w0 = Date.now();
    await sleep(SECONDS * 1000);
    const m1 = await metrics();
    const c1 = cpuSeconds(conn.pid);
    const wall = (Date.now() - w0) / 1000;
    const acked = (metric(m1, 'fieldplane_connector_messages_acknowledged_total') - metric(m0, 'fieldplane_connector_messages_acknowledged_total')) / wall;
    const handed = (metric(m1, 'fieldplane_connector_messages_published_total') - metric(m0, 'fieldplane_connector_messages_published_total')) / wall;
    const mem = procMem(conn.pid);
    return {
      mode: mode.name, offered: (ASSETS * 1000) / INTERVAL, published: handed, delivered: acked,
      cpu: ((c1 - c0) / wall) * 100, rss: mem.rss, hwm: mem.hwm, queued: metric(m1, 'fieldplane_connector_messages_queued'),
      dropped: metric(m1, 'fieldplane_connector_messages_dropped_total'), startupS,
    };
  } finally {
    for (const p of procs.reverse()) p.kill('SIGKILL');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = [
  { name: 'QoS 0 (no disk queue)', qos: 'Qos0', flags: [] },
  { name: 'QoS 1 (disk queue)', qos: 'Qos1', flags: [] },
  { name: 'QoS 1 (disk queue, --queue-sync)', qos: 'Qos1', flags: ['--queue-sync'] },
];
console.log(`date: ${new Date().toISOString()}`);
console.log(`machine: nproc ${cpus().length}, ${cpus()[0].model}, RAM ${(totalmem() / 2 ** 30).toFixed(1)} GiB`);
console.log(`workload: ${ASSETS} assets x 1 dataset x ${POINTS} data points every ${INTERVAL} ms; connector pinned to core 0; ${SECONDS} s measured`);
console.log(`load average before: ${loadavg()}`);
console.log('| mode | offered msg/s | handed to the runtime msg/s | acknowledged/sent msg/s | connector CPU % of a core | RSS MB (peak) | queued at end | dropped | start to all assets publishing (s) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const m of modes) {
  if (args.includes('--only') && !m.name.toLowerCase().includes(String(args[args.indexOf('--only') + 1]).toLowerCase())) continue;
  const r = await runMode(m);
  console.log(`| ${r.mode} | ${r.offered.toFixed(0)} | ${r.published.toFixed(0)} | ${r.delivered.toFixed(0)} | ${r.cpu.toFixed(1)} | ${r.rss.toFixed(1)} (${r.hwm.toFixed(1)}) | ${r.queued} | ${r.dropped} | ${r.startupS.toFixed(1)} |`);
}
console.log(`load average after: ${loadavg()}`);
