// bench.mjs - the Modbus connector's figures (issue "The Modbus connector", Figures).
//
// SERVERS pymodbus servers (tests/peers/modbus/server.py), each with REGISTERS holding
// registers read as REGISTERS/2 float32 points, sampled every INTERVAL ms; one MQTT message per
// server per sample. Parts, in one run against the same servers:
//   ours      fieldplane-connector-modbus with a registry: one device per server, one asset
//             of one dataset of all its points
//   perpoint  the same with maxRegistersPerRequest 2 and maxGapRegisters 0, i.e. one request
//             per point: the baseline the grouping is measured against
//   nodered   Node-RED with node-red-contrib-modbus (bench/modbus/package.json, exact
//             versions): per server a modbus-client and modbus-read nodes of 124 registers
//             each (62 whole points; one request carries 125 at most), a function node that decodes
//             the float32 values and joins the reads of a server into one message, and an
//             mqtt out node (QoS 1, MQTT 5)
// For each part: settle, then over DURATION s count the requests the servers served, the
// messages and values a subscriber received, and the CPU and RSS of the processes.
//
//   node bench/modbus/bench.mjs --build build/release [--only ours,perpoint,nodered]
//        [--servers 10] [--registers 1000] [--interval 1000] [--duration 60] [--settle 10]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sleep, freePort, until, cpuSeconds, procMem } from '../connector/lib.mjs';

const HERE = import.meta.dirname;
const SRC = path.resolve(HERE, '../..');
const { values: opt } = parseArgs({
  options: {
    build: { type: 'string' },
    only: { type: 'string', default: 'ours,perpoint,nodered' },
    servers: { type: 'string', default: '10' },
    registers: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60' },
    settle: { type: 'string', default: '10' },
  },
});
const PARTS = opt.only.split(',');
const SERVERS = Number(opt.servers);
const REGISTERS = Number(opt.registers);
const POINTS = REGISTERS / 2;
const INTERVAL = Number(opt.interval);
const DURATION = Number(opt.duration);
const SETTLE = Number(opt.settle);
if (!opt.build && (PARTS.includes('ours') || PARTS.includes('perpoint'))) {
  console.error('--build BUILD_DIR (a release build) is required for ours and perpoint');
  process.exit(2);
}
if (REGISTERS % 2 !== 0 || REGISTERS < 2) {
  console.error('--registers must be even: float32 points of two registers');
  process.exit(2);
}
const BUILD = opt.build ? path.resolve(opt.build) : '';
// The tests' helpers start a registry, mosquitto and a connector from these.
process.env.FP_BIN = path.join(BUILD, 'cli/fieldplane');
process.env.FP_BUILD_DIR = BUILD;
const { Registry, Mosquitto } = await import('../../tests/system/lib/registry.mjs');
const { Connector, MqttSub } = await import('../../tests/system/lib/connector.mjs');
const { ModbusPeer } = await import('../../tests/peers/modbus/peer.mjs');

const log = (s) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const out = (s) => process.stdout.write(s + '\n');
const cleanups = [];
async function cleanup() {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups.length = 0;
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

// The float32 value of point i of server s, as registers (ABCD) and as the message carries it.
const value = (s, i) => Math.fround(s * 1000 + i * 0.25);
function regs(v) {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

async function startServers() {
  const peers = [];
  for (let s = 0; s < SERVERS; s++) {
    const p = await new ModbusPeer({ port: await freePort(), size: REGISTERS }).start();
    cleanups.push(() => p.kill());
    const all = [];
    for (let i = 0; i < POINTS; i++) all.push(...regs(value(s, i)));
    for (let a = 0; a < REGISTERS; a += 100) await p.set('hr', a, all.slice(a, a + 100));
    peers.push(p);
  }
  log(`${SERVERS} pymodbus servers with ${REGISTERS} holding registers each`);
  return peers;
}

// A subscriber counting messages and values, checking every value against the server's.
function counter(sub) {
  const c = { msgs: 0, values: 0, bad: 0 };
  let seen = 0;
  c.poll = () => {
    for (; seen < sub.messages.length; seen++) {
      const m = sub.messages[seen];
      const s = Number(m.topic.split('/').pop());
      if (!m.json) {
        c.bad++;
        continue;
      }
      c.msgs++;
      for (const [k, v] of Object.entries(m.json)) {
        c.values++;
        if (Math.fround(v) !== value(s, Number(k.slice(1)))) c.bad++;
      }
    }
    return { ...c };
  };
  return c;
}

async function measure(name, procs, peers, count) {
  await sleep(SETTLE * 1000);
  const req0 = await Promise.all(peers.map((p) => p.requests()));
  const c0 = count.poll();
  const cpu0 = procs.map((p) => cpuSeconds(p.pid));
  const t0 = performance.now();
  const rss = procs.map(() => 0);
  let n = 0;
  while (performance.now() - t0 < DURATION * 1000) {
    await sleep(1000);
    procs.forEach((p, i) => (rss[i] += procMem(p.pid).rss));
    n++;
  }
  const wall = (performance.now() - t0) / 1000;
  const req1 = await Promise.all(peers.map((p) => p.requests()));
  const c1 = count.poll();
  const requests = req1.reduce((a, v, i) => a + v - req0[i], 0);
  const expected = (SERVERS * 1000) / INTERVAL;
  out(`\n## ${name}`);
  out(`requests/s on the wire   ${(requests / wall).toFixed(1)}   (one per point would be ${((SERVERS * POINTS * 1000) / INTERVAL).toFixed(0)})`);
  out(`messages/s               ${((c1.msgs - c0.msgs) / wall).toFixed(2)}   (expected ${expected.toFixed(2)})`);
  out(`values/s                 ${((c1.values - c0.values) / wall).toFixed(0)}   wrong values: ${c1.bad - c0.bad}`);
  procs.forEach((p, i) => {
    const cpu = (100 * (cpuSeconds(p.pid) - cpu0[i])) / wall;
    const m = procMem(p.pid);
    out(`${p.label.padEnd(24)} CPU ${cpu.toFixed(2)} % of a core   RSS ${(rss[i] / n).toFixed(1)} MB (peak ${m.hwm.toFixed(1)} MB)`);
  });
  return { requestsPerS: requests / wall };
}

async function runOurs(name, peers, extraConfig) {
  const reg = await new Registry().start();
  const mq = await new Mosquitto().start();
  cleanups.push(() => reg.cleanup(), () => mq.cleanup());
  const ns = '/api/v1/namespaces/fpbench';
  const put = async (p, body) => {
    const r = await reg.req('PUT', p, body);
    if (r.status !== 200 && r.status !== 201) throw new Error(`PUT ${p}: ${r.status} ${r.text}`);
  };
  await put(ns, { properties: {} });
  const dataPoints = [];
  for (let i = 0; i < POINTS; i++) dataPoints.push({ name: `v${i}`, dataSource: `hr:${2 * i}` });
  for (let s = 0; s < SERVERS; s++) {
    await put(`${ns}/devices/plc-${s}`, {
      properties: {
        endpoints: {
          inbound: {
            main: {
              endpointType: 'Fieldplane.Modbus',
              address: `modbus-tcp://127.0.0.1:${peers[s].port}`,
              authentication: { method: 'Anonymous' },
              additionalConfiguration: JSON.stringify(extraConfig),
            },
          },
        },
      },
    });
    await put(`${ns}/assets/server-${s}`, {
      properties: {
        deviceRef: { deviceName: `plc-${s}`, endpointName: 'main' },
        datasets: [
          {
            name: 'registers',
            datasetConfiguration: JSON.stringify({ samplingIntervalInMilliseconds: INTERVAL, type: 'float32' }),
            dataPoints,
            destinations: [{ target: 'Mqtt', configuration: { topic: `fpbench/${s}`, qos: 'Qos1' } }],
          },
        ],
      },
    });
  }
  const sub = await new MqttSub(mq.port, 'fpbench/#').start();
  cleanups.push(() => sub.stop());
  const conn = await new Connector({ name: 'modbus', registry: reg, broker: mq }).start();
  cleanups.push(() => conn.cleanup());
  conn.proc.label = 'fieldplane-connector-modbus';
  reg.proc.label = 'fieldplane registry';
  const count = counter(sub);
  await until(() => count.poll().msgs >= SERVERS, 'a message from every server', 120000);
  log(`${name}: connector pid ${conn.proc.pid}, messages flowing`);
  return await measure(name, [conn.proc, reg.proc], peers, count);
}

// Node-RED: per server a modbus-client and modbus-read nodes of 124 registers (62 whole
// float32 points, as a user who knows the 125-register limit splits them; the same number of
// requests as ours); a function node per server decodes the reads' registers as float32
// (ABCD) and sends one message once every read of a round has come.
const PER_READ = 124;
function nodeRedFlow(peers, broker) {
  const reads = Math.ceil(REGISTERS / PER_READ);
  const nodes = [
    { id: 'tab1', type: 'tab', label: 'fpbench' },
    { id: 'br1', type: 'mqtt-broker', name: '', broker: '127.0.0.1', port: String(broker.port), clientid: 'fpbench-nodered',
      autoConnect: true, usetls: false, protocolVersion: '5', keepalive: '60', cleansession: true, autoUnsubscribe: true,
      birthTopic: '', closeTopic: '', willTopic: '' },
    { id: 'mq1', type: 'mqtt out', z: 'tab1', name: '', topic: '', qos: '1', retain: 'false', respTopic: '', contentType: '',
      userProps: '', correl: '', expiry: '', broker: 'br1', wires: [] },
  ];
  peers.forEach((p, s) => {
    nodes.push({ id: `cl${s}`, type: 'modbus-client', name: `plc-${s}`, clienttype: 'tcp', bufferCommands: true,
      stateLogEnabled: false, queueLogEnabled: false, failureLogEnabled: true, tcpHost: '127.0.0.1', tcpPort: String(p.port),
      tcpType: 'DEFAULT', serialPort: '/dev/ttyUSB', serialType: 'RTU-BUFFERD', serialBaudrate: '9600', serialDatabits: '8',
      serialStopbits: '1', serialParity: 'none', serialConnectionDelay: '100', serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: '1', commandDelay: '1', clientTimeout: '1000', reconnectOnTimeout: true, reconnectTimeout: '2000',
      parallelUnitIdsAllowed: true, showErrors: false, showWarnings: true, showLogs: false });
    const func = `const part = Number(msg.topic);
const regs = msg.payload;
const buf = context.get('buf') || {};
const b = Buffer.alloc(4);
for (let k = 0; k + 1 < regs.length; k += 2) {
    b.writeUInt16BE(regs[k], 0);
    b.writeUInt16BE(regs[k + 1], 2);
    buf['v' + ((part * ${PER_READ} + k) / 2)] = b.readFloatBE(0);
}
const got = (context.get('got') || 0) + 1;
if (got === ${reads}) {
    context.set('got', 0);
    context.set('buf', {});
    return { topic: 'fpbench/${s}', payload: buf };
}
context.set('got', got);
context.set('buf', buf);
return null;`;
    nodes.push({ id: `fn${s}`, type: 'function', z: 'tab1', name: `join ${s}`, func, outputs: 1, timeout: 0, noerr: 0,
      initialize: '', finalize: '', libs: [], wires: [['mq1']] });
    for (let r = 0; r < reads; r++) {
      nodes.push({ id: `rd${s}_${r}`, type: 'modbus-read', z: 'tab1', name: '', topic: String(r), showStatusActivities: false,
        logIOActivities: false, showErrors: false, showWarnings: true, unitid: '', dataType: 'HoldingRegister',
        adr: String(r * PER_READ), quantity: String(Math.min(PER_READ, REGISTERS - r * PER_READ)), rate: String(INTERVAL), rateUnit: 'ms', delayOnStart: false,
        startDelayTime: '', server: `cl${s}`, useIOFile: false, ioFile: '', useIOForPayload: false, emptyMsgOnFail: false,
        wires: [[`fn${s}`], []] });
    }
  });
  return nodes;
}

async function runNodeRed(peers) {
  const red = path.join(HERE, 'node_modules/node-red/red.js');
  if (!fs.existsSync(red)) throw new Error(`${red} is missing: run npm ci in ${HERE}`);
  const mq = await new Mosquitto().start();
  cleanups.push(() => mq.cleanup());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-mbbench-nr-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(nodeRedFlow(peers, mq), null, 1));
  fs.writeFileSync(path.join(dir, 'settings.js'), `module.exports = {
    flowFile: "flows.json", userDir: ${JSON.stringify(dir)}, httpAdminRoot: false, httpNodeRoot: false,
    credentialSecret: false, logging: { console: { level: "warn", metrics: false, audit: false } },
    functionExternalModules: false, externalModules: { autoInstall: false, palette: { allowInstall: false } },
    telemetry: { enabled: false }, diagnostics: { enabled: false },
};\n`);
  const sub = await new MqttSub(mq.port, 'fpbench/#').start();
  cleanups.push(() => sub.stop());
  let nrLog = '';
  const nr = spawn(process.execPath, [red, '--userDir', dir, '--settings', path.join(dir, 'settings.js')],
    { cwd: dir, env: { ...process.env, HOME: dir, NODE_PATH: path.join(HERE, 'node_modules') }, stdio: ['ignore', 'pipe', 'pipe'] });
  nr.stdout.on('data', (d) => (nrLog = (nrLog + d).slice(-20000)));
  nr.stderr.on('data', (d) => (nrLog = (nrLog + d).slice(-20000)));
  cleanups.push(async () => nr.kill('SIGKILL'));
  nr.label = 'node-red';
  const count = counter(sub);
  await until(() => {
    if (nr.exitCode !== null) throw new Error(`node-red exited: ${nrLog}`);
    return count.poll().msgs >= SERVERS;
  }, 'a message from every server through Node-RED', 180000).catch((e) => {
    throw new Error(`${e.message}\n${nrLog.slice(-3000)}`);
  });
  log(`nodered: pid ${nr.pid}, messages flowing`);
  return await measure('nodered', [nr], peers, count);
}

out(`# Modbus connector benchmark, ${new Date().toISOString()}`);
out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB; load before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
out(`workload: ${SERVERS} pymodbus servers x ${REGISTERS} holding registers as ${POINTS} float32 points, every ${INTERVAL} ms; ${DURATION} s measured after ${SETTLE} s`);
try {
  const peers = await startServers();
  const peerCleanups = cleanups.splice(0);
  const res = {};
  for (const part of PARTS) {
    if (part === 'ours') res.ours = await runOurs('ours', peers, {});
    else if (part === 'perpoint') res.perpoint = await runOurs('perpoint (one request per point)', peers, { maxRegistersPerRequest: 2, maxGapRegisters: 0 });
    else if (part === 'nodered') res.nodered = await runNodeRed(peers);
    else throw new Error(`unknown part ${part}`);
    await cleanup();
  }
  cleanups.push(...peerCleanups);
  out(`\nload after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (res.ours) {
    const perPoint = res.perpoint?.requestsPerS ?? (SERVERS * POINTS * 1000) / INTERVAL;
    out(`grouping: ${(perPoint / res.ours.requestsPerS).toFixed(1)}x fewer requests than one per point (target >= 5x)`);
  }
} finally {
  await cleanup();
}
