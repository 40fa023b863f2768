// bench/connector/hung.mjs [BUILD_DIR] [--endpoints N] [--hung-fraction F] [--interval-ms MS]
//     [--timeout-ms MS] [--settle S] [--seconds S] [--servers N] [--hung-hosts N]
//     [--workers N] [--max-threads N] [--cpus LIST] [--connector PATH]
//
// Whether devices that hang cost the others anything, and what holding them costs the
// connector. One HTTP connector process (BUILD_DIR/connectors/http/fieldplane-connector-http,
// or --connector PATH; build with the release preset) serves N device endpoints (default
// 1000), each with one asset of one dataset polled every --interval-ms (1000). A fraction
// of them (--hung-fraction, default 1/3) point at "hung hosts" (tests/peers/hung/server.mjs,
// in this process: they accept TCP connections and never answer), with timeoutMilliseconds
// --timeout-ms (10000); the rest at healthy devices (tests/peers/http/server.mjs, --servers
// child processes, 4 by default, serving one JSON document that every healthy endpoint
// shares). A fresh registry and mosquitto are started; devices and assets are created
// through the REST API, many requests at a time. After --settle seconds (default 20, so
// the hung polls have timed out at least once) it measures over --seconds (60):
//   - healthy messages per second delivered to a subscriber vs the rate offered, how many
//     healthy datasets were heard, and the longest silence of one healthy dataset;
//   - the connector's threads (/proc/<pid>/status Threads:) min/max, sampled every 250 ms,
//     and how many hung polls were in flight (connections held at the hung hosts);
//   - RSS (VmRSS min/max over the window, VmHWM at the end) and CPU (utime + stime from
//     /proc/<pid>/stat over the window);
//   - at the end, how many hung datasets show Unavailable with a timeout in status.
// --workers and --max-threads are handed to the connector as they are (only when given);
// --cpus pins the connector with taskset -c LIST.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HungServer } from '../../tests/peers/hung/server.mjs';
import { sleep, freePort, until, cpuSeconds, procMem, loadavg } from './lib.mjs';

const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name, def) => (flag(name) === undefined ? def : Number(flag(name)));
const BUILD = resolve(args[0] && !args[0].startsWith('--') ? args[0] : 'build/release');
const ENDPOINTS = num('endpoints', 1000);
const HUNG = Math.round(ENDPOINTS * num('hung-fraction', 1 / 3));
const HEALTHY = ENDPOINTS - HUNG;
const INTERVAL = num('interval-ms', 1000);
const TIMEOUT = num('timeout-ms', 10000);
const SETTLE = num('settle', 20);
const SECONDS = num('seconds', 60);
const SERVERS = num('servers', 4);
const HUNG_HOSTS = num('hung-hosts', 4);
const PASS = [];
for (const f of ['workers', 'max-threads']) if (flag(f) !== undefined) PASS.push(`--${f}`, flag(f));
const BIN = join(BUILD, 'cli/fieldplane');
const CONN = resolve(flag('connector') ?? join(BUILD, 'connectors/http/fieldplane-connector-http'));
const PEER = join(SOURCE, 'tests/peers/http/server.mjs');
for (const f of [BIN, CONN, PEER, '/usr/sbin/mosquitto', '/usr/bin/mosquitto_sub'])
  if (!existsSync(f)) throw new Error(`missing ${f}${f.startsWith(BUILD) ? `: build ${BUILD} first` : ''}`);

function metric(text, name) {
  for (const l of text.split('\n')) if (l.startsWith(name) && !l.includes('endpoint=')) return Number(l.split(' ').pop());
  return NaN;
}
// Run fn over items with at most `width` in flight.
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

console.log(`date: ${new Date().toISOString()}`);
console.log(`machine: nproc ${cpus().length}, ${cpus()[0].model}, RAM ${(totalmem() / 2 ** 30).toFixed(1)} GiB`);
console.log(`connector: ${CONN} ${PASS.join(' ')}${flag('cpus') ? ` (taskset -c ${flag('cpus')})` : ''}`);
console.log(`workload: ${ENDPOINTS} HTTP endpoints x 1 asset x 1 dataset every ${INTERVAL} ms: ${HEALTHY} healthy (${SERVERS} device servers), ${HUNG} hung (${HUNG_HOSTS} hosts, timeout ${TIMEOUT} ms)`);
console.log(`load average before: ${loadavg()}`);

const dir = mkdtempSync(join(tmpdir(), 'fp-bench-hung-'));
const procs = [];
const hungHosts = [];
let connLog;
try {
  // The registry and the broker, as bench/connector/runtime.mjs starts them.
  const regPort = await freePort();
  procs.push(spawn(BIN, ['registry', '--data', join(dir, 'reg'), '--listen', `127.0.0.1:${regPort}`], { stdio: 'ignore' }));
  const mqPort = await freePort();
  writeFileSync(join(dir, 'mq.conf'), `listener ${mqPort} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n`);
  procs.push(spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mq.conf')], { stdio: 'ignore' }));
  const url = `http://127.0.0.1:${regPort}`;
  const token = await until(() => readFileSync(join(dir, 'reg', 'admin.token'), 'utf8').trim(), 'the registry');
  const req = async (method, path, body) => {
    const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  await until(() => fetch(url + '/healthz').then((r) => r.ok), 'the registry to serve');

  // The devices: healthy ones in child processes (they answer hundreds of requests a second),
  // hung hosts here (they only hold connections, and their count of open ones is wanted).
  const servers = await Promise.all(
    Array.from({ length: SERVERS }, async () => {
      const p = spawn(process.execPath, [PEER, '--no-record'], { stdio: ['ignore', 'pipe', 'inherit'] });
      procs.push(p);
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      const devUrl = await until(() => out.includes('\n') && out.split('\n')[0].trim(), 'a device server', 10000);
      const r = await fetch(`${devUrl}/_control`, { method: 'POST', body: JSON.stringify({ op: 'setJson', path: '/telemetry', value: { temperature: 21.5, pressure: 1.013, running: true } }) });
      if (!r.ok) throw new Error(`device server ${devUrl}: ${r.status}`);
      return devUrl;
    }),
  );
  for (let i = 0; i < HUNG_HOSTS; i++) hungHosts.push(await new HungServer().start());

  // Endpoint i is hung when i % ENDPOINTS/HUNG falls on it, so hung and healthy devices
  // are interleaved in the registry's order (and in the order the connector adds them).
  const isHung = (i) => HUNG > 0 && Math.floor(((i + 1) * HUNG) / ENDPOINTS) > Math.floor((i * HUNG) / ENDPOINTS);
  const devices = Array.from({ length: ENDPOINTS }, (_, i) => {
    const hung = isHung(i);
    return { i, hung, name: `${hung ? 'hung' : 'healthy'}-${i}`, address: hung ? hungHosts[i % HUNG_HOSTS].url : servers[i % SERVERS] };
  });
  const nHung = devices.filter((d) => d.hung).length;
  const nHealthy = ENDPOINTS - nHung;
  const tc = Date.now();
  await req('PUT', '/api/v1/namespaces/bench', { properties: {} });
  await pool(devices, 32, async (d) => {
    await req('PUT', `/api/v1/namespaces/bench/devices/${d.name}`, {
      properties: {
        endpoints: {
          inbound: {
            main: {
              endpointType: 'Microsoft.Http', address: `${d.address}/`, authentication: { method: 'Anonymous' },
              additionalConfiguration: JSON.stringify({ timeoutMilliseconds: TIMEOUT }),
            },
          },
        },
      },
    });
    await req('PUT', `/api/v1/namespaces/bench/assets/${d.name}`, {
      properties: {
        deviceRef: { deviceName: d.name, endpointName: 'main' },
        datasets: [{
          name: 'd', dataSource: '/telemetry', datasetConfiguration: JSON.stringify({ samplingIntervalInMilliseconds: INTERVAL }),
          dataPoints: [{ name: 'temperature', dataSource: '$.temperature' }, { name: 'pressure', dataSource: '$.pressure' }],
          destinations: [{ target: 'Mqtt', configuration: { topic: `bench/${d.hung ? 'hung' : 'healthy'}/${d.i}`, qos: 'Qos1' } }],
        }],
      },
    });
  });
  const createS = (Date.now() - tc) / 1000;

  // A subscriber that notes when each message arrived, per topic.
  const heard = new Map(); // topic -> arrival times (ms)
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqPort), '-t', 'bench/#', '-q', '1', '-F', '%t'], { stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(sub);
  let buf = '';
  sub.stdout.on('data', (d) => {
    buf += d;
    const now = Date.now();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const t = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!heard.has(t)) heard.set(t, []);
      heard.get(t).push(now);
    }
  });
  await sleep(300);

  const tok = execFileSync(BIN, ['token', 'create', '--data', join(dir, 'reg'), '--role', 'connector'], { encoding: 'utf8' }).trim().split('\n').pop();
  writeFileSync(join(dir, 'conn.token'), tok + '\n');
  const mPort = await freePort();
  connLog = join(dir, 'connector.log');
  const logFd = openSync(connLog, 'w');
  const connArgs = ['--registry', url, '--token-file', join(dir, 'conn.token'), '--broker', `mqtt://127.0.0.1:${mqPort}`,
    '--data', join(dir, 'conn'), '--listen', `127.0.0.1:${mPort}`, '--log-level', 'warn', ...PASS];
  const cpuList = flag('cpus');
  const conn = cpuList ? spawn('taskset', ['-c', cpuList, CONN, ...connArgs], { stdio: ['ignore', logFd, logFd] }) : spawn(CONN, connArgs, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  procs.push(conn);
  const exited = new Promise((r) => conn.once('exit', (code, sig) => r(code ?? sig)));
  // Rejects when the connector exits (a refused flag, a crash) before p settles.
  const orExit = (p) =>
    Promise.race([p, exited.then((c) => { throw new Error(`the connector exited (${c}): ${readFileSync(connLog, 'utf8').slice(-3000)}`); })]);
  const t0 = Date.now();
  const metrics = () => fetch(`http://127.0.0.1:${mPort}/metrics`).then((r) => r.text());
  await orExit(until(() => metrics(), 'the connector to serve /metrics', 30000));
  const firstS = await orExit(until(() => heard.size > 0, 'a first healthy message', SETTLE * 1000).then(() => (Date.now() - t0) / 1000, () => NaN));
  await sleep(Math.max(0, t0 + SETTLE * 1000 - Date.now()));
  if (conn.exitCode !== null) throw new Error(`the connector exited: ${readFileSync(connLog, 'utf8').slice(-3000)}`);

  // The window.
  const m0 = await metrics();
  const c0 = cpuSeconds(conn.pid);
  const w0 = Date.now();
  const s = { tmin: Infinity, tmax: 0, rmin: Infinity, rmax: 0, hmin: Infinity, hmax: 0 };
  while (Date.now() < w0 + SECONDS * 1000) {
    const st = procMem(conn.pid);
    const open = hungHosts.reduce((n, h) => n + h.open, 0);
    s.tmin = Math.min(s.tmin, st.threads);
    s.tmax = Math.max(s.tmax, st.threads);
    s.rmin = Math.min(s.rmin, st.rss);
    s.rmax = Math.max(s.rmax, st.rss);
    s.hmin = Math.min(s.hmin, open);
    s.hmax = Math.max(s.hmax, open);
    await sleep(250);
  }
  const w1 = Date.now();
  const c1 = cpuSeconds(conn.pid);
  const m1 = await metrics();
  const end = procMem(conn.pid);
  const wall = (w1 - w0) / 1000;

  // Healthy messages in the window, per dataset, and each one's longest silence.
  let delivered = 0;
  let heardN = 0;
  let worstGap = 0;
  let hungMsgs = 0;
  for (const d of devices) {
    const times = (heard.get(`bench/${d.hung ? 'hung' : 'healthy'}/${d.i}`) ?? []).filter((t) => t >= w0 && t < w1);
    if (d.hung) {
      hungMsgs += times.length;
      continue;
    }
    delivered += times.length;
    if (times.length) heardN++;
    let prev = w0;
    for (const t of [...times, w1]) {
      worstGap = Math.max(worstGap, t - prev);
      prev = t;
    }
  }
  const published = metric(m1, 'fieldplane_connector_messages_published_total') - metric(m0, 'fieldplane_connector_messages_published_total');

  // Status of the hung datasets, read page by page.
  let hungTimedOut = 0;
  let healthyOk = 0;
  for (let path = '/api/v1/namespaces/bench/assets?top=500'; path; ) {
    const page = await req('GET', path);
    for (const a of page.value) {
      const h = a.properties?.status?.datasets?.[0]?.health;
      if (a.name.startsWith('hung-') && h?.status === 'Unavailable' && /time(d)? ?out/i.test(h.message ?? '')) hungTimedOut++;
      if (a.name.startsWith('healthy-') && h?.status === 'Available') healthyOk++;
    }
    path = page.nextLink;
  }

  const offered = (nHealthy * 1000) / INTERVAL;
  const rate = delivered / wall;
  console.log(`created in ${createS.toFixed(1)} s; first healthy message ${firstS.toFixed(1)} s after start; settle ${SETTLE} s; window ${wall.toFixed(1)} s`);
  console.log(`load average after: ${loadavg()}`);
  console.log('');
  console.log(`healthy messages/s:        ${rate.toFixed(1)} of ${offered.toFixed(1)} offered (${((rate / offered) * 100).toFixed(1)} %); handed to the runtime ${(published / wall).toFixed(1)}/s`);
  console.log(`healthy datasets heard:    ${heardN} of ${nHealthy}; longest silence of one ${(worstGap / 1000).toFixed(1)} s (interval ${INTERVAL / 1000} s)`);
  console.log(`hung polls in flight:      min ${s.hmin}, max ${s.hmax} (of ${nHung})`);
  console.log(`connector threads:         min ${s.tmin}, max ${s.tmax} (at the end ${end.threads})`);
  console.log(`connector RSS MB:          min ${s.rmin.toFixed(1)}, max ${s.rmax.toFixed(1)}; VmHWM ${end.hwm.toFixed(1)}`);
  console.log(`connector CPU:             ${(c1 - c0).toFixed(2)} s in ${wall.toFixed(1)} s = ${(((c1 - c0) / wall) * 100).toFixed(1)} % of a core`);
  console.log(`status at the end:         ${hungTimedOut} of ${nHung} hung datasets Unavailable with a timeout, ${healthyOk} of ${nHealthy} healthy Available`);
  if (hungMsgs) console.log(`warning: ${hungMsgs} messages for hung datasets`);
  console.log('');
  console.log('| endpoints (hung) | flags | healthy msg/s (offered) | healthy heard | longest silence s | threads min-max | hung in flight max | RSS MB max (HWM) | CPU % |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(`| ${ENDPOINTS} (${nHung}) | ${PASS.join(' ') || 'defaults'} | ${rate.toFixed(1)} (${offered.toFixed(0)}) | ${heardN}/${nHealthy} | ${(worstGap / 1000).toFixed(1)} | ${s.tmin}-${s.tmax} | ${s.hmax} | ${s.rmax.toFixed(1)} (${end.hwm.toFixed(1)}) | ${(((c1 - c0) / wall) * 100).toFixed(1)} |`);

  // A clean stop: let the hung hosts go first so no poll holds the stop for its timeout.
  for (const h of hungHosts) await h.stop();
  const ts = Date.now();
  conn.kill('SIGTERM');
  let timer;
  const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('no exit'), TIMEOUT + 5000)))]);
  clearTimeout(timer);
  console.log(`connector stop: ${code === 0 ? 'exit 0' : code} after ${((Date.now() - ts) / 1000).toFixed(1)} s`);
} catch (e) {
  if (connLog && existsSync(connLog)) console.error(`connector log (tail):\n${readFileSync(connLog, 'utf8').slice(-3000)}`);
  throw e;
} finally {
  for (const p of procs.reverse()) if (p.exitCode === null && !p.signalCode) p.kill('SIGKILL');
  for (const h of hungHosts) await h.stop();
  await sleep(300);
  rmSync(dir, { recursive: true, force: true });
}
