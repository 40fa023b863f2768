#!/usr/bin/env node
// The OPC UA connector benchmark (bench/opcua-connector/README.md): the reference workload of
// Azure IoT Operations (125 assets x 50 tags at 2 Hz = 12,500 values/s, 125 messages/s) from
// the node-opcua test peer, carried to MQTT by
//   ours     fieldplane-connector-opcua + fieldplane registry + mosquitto,
//   nodered  Node-RED with node-red-contrib-opcua (one subscribe of every item) and mqtt out,
//   diy      diy.mjs (node-opcua client -> mqtt.js, one message per asset per publish),
// one after the other against the same peer, each with a fresh mosquitto and the counting
// subscriber counter.mjs. For each: CPU (utime + stime from /proc/PID/stat over the window, %
// of one core) and RSS (VmHWM, and the mean VmRSS sampled every second) of every process,
// values delivered against the values the peer produced, then the values lost while mosquitto
// is stopped for OUTAGE seconds and restarted. The part `scale` runs ours alone against
// several peers at higher rates and prints which process ran out of CPU.
//
// Everything started here listens on 127.0.0.1, on ports chosen at run time, and is stopped
// on exit. run.sh is the entry point; `node bench.mjs --help` lists the options.
import { spawn, execFileSync } from "node:child_process";
import { cpuSeconds, procMem, loadavg } from "../connector/lib.mjs";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(HERE, "../..");
const PEER = path.join(SRC, "tests/peers/opcua/server.js");

const USAGE = `usage: node bench.mjs --build BUILD_DIR [options]
  --only LIST        parts, comma separated: ours,nodered,diy,scale (default ours,nodered,diy,scale)
  --duration S       measuring window of each part (default 60)
  --settle S         wait after the flow starts before measuring (default 20)
  --outage S         broker outage (default 10; 0 = none)
  --drain S          wait after the broker is back before counting the loss (default 30)
  --assets N         assets (default 125)
  --points N         data points per asset (default 50)
  --interval MS      change, publishing and sampling interval (default 500)
  --sampling MS      sampling interval (default 0: every change, see README.md)
  --queue-size N     monitored item queue size (default 1)
  --scale LEVELS     levels of the scale part: PEERSxITEMS@MS,...
                     (default 1x6250@250,2x6250@250,2x12500@250,3x12500@250)
  --keep             keep the temporary directory`;

function die(msg) {
    process.stderr.write(`bench.mjs: ${msg}\n${USAGE}\n`);
    process.exit(2);
}

let opt;
try {
    opt = parseArgs({
        options: {
            build: { type: "string" },
            only: { type: "string", default: "ours,nodered,diy,scale" },
            duration: { type: "string", default: "60" },
            settle: { type: "string", default: "20" },
            outage: { type: "string", default: "10" },
            drain: { type: "string", default: "30" },
            assets: { type: "string", default: "125" },
            points: { type: "string", default: "50" },
            interval: { type: "string", default: "500" },
            sampling: { type: "string" },
            "queue-size": { type: "string", default: "1" },
            scale: { type: "string", default: "1x6250@250,2x6250@250,2x12500@250,3x12500@250" },
            keep: { type: "boolean", default: false },
            help: { type: "boolean", default: false },
        },
    }).values;
} catch (err) {
    die(err.message);
}
if (opt.help) {
    process.stdout.write(USAGE + "\n");
    process.exit(0);
}
const int = (name, min) => {
    const v = Number(opt[name]);
    if (!Number.isInteger(v) || v < min) die(`--${name} must be an integer >= ${min}, not "${opt[name]}"`);
    return v;
};
const DURATION = int("duration", 1);
const SETTLE = int("settle", 0);
const OUTAGE = int("outage", 0);
const DRAIN = int("drain", 5);
const ASSETS = int("assets", 1);
const POINTS = int("points", 1);
const INTERVAL = int("interval", 10);
if (opt.sampling === undefined) opt.sampling = "0";
const SAMPLING = int("sampling", 0);
const QUEUE = int("queue-size", 1);
const PARTS = opt.only.split(",").map((s) => s.trim()).filter(Boolean);
for (const p of PARTS) {
    if (!["ours", "nodered", "diy", "scale"].includes(p)) die(`--only: unknown part "${p}"`);
}
const LEVELS = opt.scale.split(",").map((s) => {
    const m = s.trim().match(/^(\d+)x(\d+)@(\d+)$/);
    if (!m) die(`--scale: "${s}" is not PEERSxITEMS@MS`);
    const [peers, items, ms] = m.slice(1).map(Number);
    if (peers < 1 || items < POINTS || items % POINTS !== 0 || ms < 10) {
        die(`--scale: "${s}" needs >= 1 peer, items a multiple of --points (${POINTS}), >= 10 ms`);
    }
    return { peers, items, ms };
});
const needOurs = PARTS.includes("ours") || PARTS.includes("scale");
const BUILD = opt.build ? path.resolve(opt.build) : null;
const FP = BUILD && path.join(BUILD, "cli/fieldplane");
const CONNECTOR = BUILD && path.join(BUILD, "connectors/opcua/fieldplane-connector-opcua");
if (needOurs) {
    if (!BUILD) die("--build is required for the parts ours and scale");
    for (const f of [FP, CONNECTOR]) {
        if (!fs.existsSync(f)) die(`missing ${f}: build ${BUILD} first`);
    }
}
for (const f of ["/usr/sbin/mosquitto"]) {
    if (!fs.existsSync(f)) die(`missing ${f} (Debian package mosquitto)`);
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "fp-uabench-"));
fs.chmodSync(TMP, 0o755);
const children = new Set();

function cleanupSync() {
    for (const c of children) {
        try {
            c.kill("SIGKILL");
        } catch {
            // gone
        }
    }
    if (!opt.keep) fs.rmSync(TMP, { recursive: true, force: true });
}
process.on("exit", cleanupSync);
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => process.exit(130));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const out = (s) => process.stdout.write(s + "\n");

// stdout goes to the log file too unless the caller reads it (pipe: true): a pipe nobody
// reads fills up and blocks the process.
function start(name, cmd, args, { cwd, env, pipe = false } = {}) {
    const logFile = path.join(TMP, `${name}.log`);
    const fd = fs.openSync(logFile, "a");
    const proc = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["ignore", pipe ? "pipe" : fd, fd] });
    fs.closeSync(fd);
    children.add(proc);
    proc.name = name;
    proc.logFile = logFile;
    proc.exited = new Promise((r) => proc.once("exit", (code, sig) => {
        children.delete(proc);
        r({ code, sig });
    }));
    return proc;
}

async function stop(proc, sig = "SIGTERM", ms = 10000) {
    if (!proc || proc.exitCode !== null || proc.signalCode) return;
    proc.kill(sig);
    const t = setTimeout(() => proc.kill("SIGKILL"), ms);
    await proc.exited;
    clearTimeout(t);
}

function tail(proc, n = 20) {
    try {
        return fs.readFileSync(proc.logFile, "utf8").split("\n").slice(-n).join("\n");
    } catch {
        return "";
    }
}

async function waitFor(fn, what, ms) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
        await sleep(100);
    }
}

async function freePort() {
    const srv = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => srv.once("listening", r));
    const { port } = srv.address();
    await new Promise((r) => srv.close(r));
    return port;
}

function canConnect(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

// ---- the peer ------------------------------------------------------------------------------

async function startPeer(name, items, ms) {
    const pki = path.join(TMP, `${name}-pki`);
    const p = start(name, process.execPath, [PEER, "--items", String(items), "--items-interval", String(ms),
        "--items-push", "--security-policies", "None", "--security-modes", "None", "--pki", pki], { pipe: true });
    let buf = "";
    p.stdout.on("data", (d) => (buf += d));
    p.url = await waitFor(() => {
        if (p.exitCode !== null) throw new Error(`${name} exited:\n${tail(p)}`);
        return (buf.match(/^LISTENING (opc\.tcp:\/\/\S+)/m) ?? [])[1];
    }, `${name} to listen`, 180000);
    p.items = items;
    log(`${name}: ${items} items every ${ms} ms at ${p.url}`);
    return p;
}

// ---- mosquitto and the counting subscriber ---------------------------------------------------

class Broker {
    constructor(name) {
        this.name = name;
        this.dir = path.join(TMP, name);
        fs.mkdirSync(this.dir, { mode: 0o777 });
        // mosquitto started as root drops to the user "mosquitto": let it write its persistence.
        fs.chmodSync(this.dir, 0o777);
    }

    async start() {
        this.port = this.port ?? (await freePort());
        this.conf = path.join(this.dir, "mosquitto.conf");
        // No limit on what the broker queues for the (persistent) counter while it is away:
        // a loss must be the publisher's, not the broker's default of 1000 queued messages.
        fs.writeFileSync(this.conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\n` +
            `persistence true\npersistence_location ${this.dir}/\nmax_queued_messages 0\n`);
        this.proc = start(this.name, "/usr/sbin/mosquitto", ["-c", this.conf]);
        await waitFor(async () => {
            if (this.proc.exitCode !== null) throw new Error(`mosquitto exited:\n${tail(this.proc)}`);
            return await canConnect(this.port);
        }, "mosquitto to listen", 20000);
        this.url = `mqtt://127.0.0.1:${this.port}`;
        return this;
    }

    async stop() {
        await stop(this.proc);
    }
}

class Counter {
    constructor(broker, id) {
        this.proc = start(`counter-${id}`, process.execPath, [path.join(HERE, "counter.mjs"), "--broker", broker.url,
            "--id", `fpbench-counter-${id}`], { pipe: true });
        this.lines = [];
        this.waiters = [];
        let buf = "";
        this.proc.stdout.on("data", (d) => {
            buf += d;
            let i;
            while ((i = buf.indexOf("\n")) >= 0) {
                const line = JSON.parse(buf.slice(0, i));
                buf = buf.slice(i + 1);
                const w = this.waiters.shift();
                if (w) w(line);
            }
        });
    }

    async ready() {
        await waitFor(() => tail(this.proc).includes("connected"), "the counter to connect", 20000);
        return this;
    }

    snapshot() {
        return new Promise((resolve) => {
            this.waiters.push(resolve);
            this.proc.kill("SIGUSR1");
        });
    }

    async stop() {
        await stop(this.proc);
    }
}

// ---- measuring ---------------------------------------------------------------------------------

// CPU and RSS of named processes over `seconds`, and the counter's values meanwhile.
async function measure(procs, counter, seconds) {
    const t0 = performance.now();
    const cpu0 = procs.map((p) => cpuSeconds(p.pid));
    const c0 = await counter.snapshot();
    const sums = procs.map(() => 0);
    let n = 0;
    const end = t0 + seconds * 1000;
    while (performance.now() < end) {
        await sleep(Math.min(1000, end - performance.now()));
        procs.forEach((p, i) => (sums[i] += procMem(p.pid).rss * 1024));
        n++;
    }
    const c1 = await counter.snapshot();
    const wall = (performance.now() - t0) / 1000;
    const rows = procs.map((p, i) => ({
        name: p.name,
        cpu: (100 * (cpuSeconds(p.pid) - cpu0[i])) / wall,
        rss: sums[i] / n / 1024,
        hwm: procMem(p.pid).hwm,
    }));
    const d = (k) => c1[k] - c0[k];
    return { wall, rows, values: d("values"), msgs: d("msgs"), gaps: d("gaps"), dups: d("dups"), produced: d("produced"),
        bytes: d("bytes"), bad: d("bad"), items: c1.items };
}

// Stop the broker for OUTAGE s, start it again on the same port, wait DRAIN s; the values
// lost are the gaps the counter found meanwhile.
async function outage(broker, counter) {
    const c0 = await counter.snapshot();
    const t0 = Date.now();
    await broker.stop();
    log(`${broker.name}: stopped for ${OUTAGE} s`);
    await sleep(OUTAGE * 1000 - (Date.now() - t0));
    await broker.start();
    log(`${broker.name}: back; draining ${DRAIN} s`);
    await sleep((DRAIN - 5) * 1000);
    const c1 = await counter.snapshot();
    await sleep(5000);
    const c2 = await counter.snapshot();
    return {
        lost: c2.gaps - c0.gaps,
        dups: c2.dups - c0.dups,
        after: ((c2.values - c1.values) * 1000) / (c2.t - c1.t),
    };
}

// ---- ours ----------------------------------------------------------------------------------------

let registries = 0;

async function startRegistry() {
    // A fresh data directory each time: an old registry.url would name a registry gone.
    const data = path.join(TMP, `registry-data-${registries++}`);
    const reg = start("registry", FP, ["registry", "--data", data, "--listen", "127.0.0.1:0"]);
    const urlFile = path.join(data, "registry.url");
    reg.url = await waitFor(() => {
        if (reg.exitCode !== null) throw new Error(`registry exited:\n${tail(reg)}`);
        return fs.existsSync(urlFile) && fs.readFileSync(urlFile, "utf8").trim();
    }, "the registry to serve", 30000);
    reg.token = fs.readFileSync(path.join(data, "admin.token"), "utf8").trim();
    reg.data = data;
    reg.put = async (p, body) => {
        const r = await fetch(reg.url + p, {
            method: "PUT",
            headers: { authorization: `Bearer ${reg.token}`, "content-type": "application/json" },
            body: JSON.stringify(body),
        });
        if (r.status !== 200 && r.status !== 201) throw new Error(`PUT ${p}: ${r.status} ${await r.text()}`);
    };
    return reg;
}

// Namespace fpbench, one device per peer (endpoint "opc"), and the peer's items as assets of
// one dataset of POINTS data points named v<i> after ns=1;s=Load.<i>, to fpbench/asset-<a>.
async function provision(reg, peers, ms, sampling) {
    await reg.put("/api/v1/namespaces/fpbench", { properties: {} });
    let a = 0;
    for (const [d, peer] of peers.entries()) {
        await reg.put(`/api/v1/namespaces/fpbench/devices/plc-${d}`, {
            properties: {
                endpoints: {
                    inbound: {
                        opc: {
                            endpointType: "Microsoft.OpcUa",
                            address: peer.url,
                            authentication: { method: "Anonymous" },
                            additionalConfiguration: JSON.stringify({
                                defaults: { publishingIntervalMilliseconds: ms, samplingIntervalMilliseconds: sampling, queueSize: QUEUE },
                                security: { securityMode: "none" },
                            }),
                        },
                    },
                },
            },
        });
        for (let k = 0; k < peer.items / POINTS; k++, a++) {
            const dataPoints = [];
            for (let j = 0; j < POINTS; j++) {
                const i = k * POINTS + j;
                dataPoints.push({ name: `v${i}`, dataSource: `ns=1;s=Load.${i}` });
            }
            await reg.put(`/api/v1/namespaces/fpbench/assets/asset-${a}`, {
                properties: {
                    deviceRef: { deviceName: `plc-${d}`, endpointName: "opc" },
                    datasets: [{
                        name: "load",
                        datasetConfiguration: JSON.stringify({ publishingInterval: ms, samplingInterval: sampling, queueSize: QUEUE }),
                        dataPoints,
                        destinations: [{ target: "Mqtt", configuration: { topic: `fpbench/d${d}/asset-${a}`, qos: "Qos1", retain: "Never" } }],
                    }],
                },
            });
        }
    }
    return a;
}

async function startOurs(broker, peers, ms, sampling) {
    const reg = await startRegistry();
    const assets = await provision(reg, peers, ms, sampling);
    const token = execFileSync(FP, ["token", "create", "--data", reg.data, "--role", "connector"], { encoding: "utf8" })
        .trim().split("\n").pop();
    const tokenFile = path.join(TMP, "connector.token");
    fs.writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
    const port = await freePort();
    // FP_BENCH_WRAP runs the connector under a profiler, e.g. "valgrind --tool=massif": the
    // figures of such a run are the profiler's, only its profile is of use.
    const wrap = (process.env.FP_BENCH_WRAP ?? "").split(" ").filter(Boolean);
    const connArgs = ["--registry", reg.url, "--token-file", tokenFile, "--broker", broker.url,
        "--data", path.join(TMP, "connector-data"), "--listen", `127.0.0.1:${port}`];
    const conn = wrap.length ? start("connector", wrap[0], [...wrap.slice(1), CONNECTOR, ...connArgs])
        : start("connector", CONNECTOR, connArgs);
    await waitFor(async () => {
        if (conn.exitCode !== null) throw new Error(`connector exited:\n${tail(conn)}`);
        return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null)) !== null;
    }, "the connector to serve /healthz", 30000);
    log(`ours: registry ${reg.url}, ${assets} assets, connector pid ${conn.pid}`);
    return { procs: [conn, reg], stop: async () => { await stop(conn); await stop(reg); } };
}

// ---- Node-RED ------------------------------------------------------------------------------

// The flow a Node-RED user builds with the package's way of subscribing many items (topic
// "multiple": one monitored item group, sampling interval msg.interval): a first inject creates
// the subscription at the publishing interval (the package takes it from the first message's
// msg.interval) with one static item, a second one, once that is up, subscribes every item with
// the sampling interval (--sampling); a function node collects the values of each asset for
// 100 ms after the first value of a publish arrives and sends one object per asset to an
// mqtt out node (QoS 1, MQTT 5).
function nodeRedFlow(peerUrl, broker) {
    const items = [];
    for (let i = 0; i < ASSETS * POINTS; i++) items.push({ nodeId: `ns=1;s=Load.${i}` });
    const func = `const id = msg.topic;
if (!id.startsWith('ns=1;s=Load.')) return null;
const i = Number(id.slice(12));
const a = Math.floor(i / ${POINTS});
const buf = context.get('buf');
const body = buf[a] || (buf[a] = {});
const dv = msg.payload;
body['v' + i] = { SourceTimestamp: (dv.sourceTimestamp || new Date()).toISOString(), Value: dv.value.value };
if (!context.get('armed')) {
    context.set('armed', true);
    setTimeout(() => {
        const b = context.get('buf');
        context.set('buf', {});
        context.set('armed', false);
        for (const k in b) node.send({ topic: 'fpbench/asset-' + k, payload: b[k] });
    }, 100);
}
return null;`;
    return [
        { id: "tab1", type: "tab", label: "fpbench" },
        { id: "ep1", type: "OpcUa-Endpoint", endpoint: peerUrl, secpol: "None", secmode: "None", none: true, login: false, usercert: false },
        { id: "br1", type: "mqtt-broker", name: "", broker: "127.0.0.1", port: String(broker.port), clientid: "fpbench-nodered",
            autoConnect: true, usetls: false, protocolVersion: "5", keepalive: "60", cleansession: true,
            autoUnsubscribe: true, birthTopic: "", closeTopic: "", willTopic: "" },
        { id: "in0", type: "inject", z: "tab1", name: "subscription",
            props: [{ p: "payload", v: JSON.stringify([{ nodeId: "ns=1;s=Scalar.Int32" }]), vt: "json" },
                { p: "topic", v: "multiple", vt: "str" }, { p: "interval", v: String(INTERVAL), vt: "str" }],
            repeat: "", crontab: "", once: true, onceDelay: "1", topic: "multiple", payload: "", payloadType: "json", wires: [["cl1"]] },
        { id: "in1", type: "inject", z: "tab1", name: "items",
            props: [{ p: "payload", v: JSON.stringify(items), vt: "json" }, { p: "topic", v: "multiple", vt: "str" },
                { p: "interval", v: String(SAMPLING), vt: "str" }],
            repeat: "", crontab: "", once: true, onceDelay: "15", topic: "multiple", payload: "", payloadType: "json", wires: [["cl1"]] },
        { id: "cl1", type: "OpcUa-Client", z: "tab1", endpoint: "ep1", action: "subscribe", deadbandtype: "a", deadbandvalue: 1,
            time: String(INTERVAL), timeUnit: "ms", certificate: "n", localfile: "", localkeyfile: "", securitymode: "None",
            securitypolicy: "None", useTransport: false, maxChunkCount: 1, maxMessageSize: 8192, receiveBufferSize: 8192,
            sendBufferSize: 8192, setstatusandtime: false, keepsessionalive: false, name: "", wires: [["fn1"], [], []] },
        { id: "fn1", type: "function", z: "tab1", name: "batch per asset", func, outputs: 1, timeout: 0, noerr: 0,
            initialize: "context.set('buf', {});\ncontext.set('armed', false);", finalize: "", libs: [], wires: [["mq1"]] },
        { id: "mq1", type: "mqtt out", z: "tab1", name: "", topic: "", qos: "1", retain: "false", respTopic: "",
            contentType: "", userProps: "", correl: "", expiry: "", broker: "br1", wires: [] },
    ];
}

async function startNodeRed(broker, peer) {
    const dir = path.join(TMP, "nodered");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "flows.json"), JSON.stringify(nodeRedFlow(peer.url, broker), null, 1));
    fs.writeFileSync(path.join(dir, "settings.js"), `module.exports = {
    flowFile: "flows.json",
    userDir: ${JSON.stringify(dir)},
    httpAdminRoot: false,
    httpNodeRoot: false,
    credentialSecret: false,
    logging: { console: { level: "info", metrics: false, audit: false } },
    functionExternalModules: false,
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
};\n`);
    const nr = start("node-red", process.execPath, [path.join(HERE, "node_modules/node-red/red.js"),
        "--userDir", dir, "--settings", path.join(dir, "settings.js")], { cwd: dir, env: { ...process.env, HOME: dir } });
    await waitFor(() => {
        if (nr.exitCode !== null) throw new Error(`node-red exited:\n${tail(nr)}`);
        return tail(nr, 200).includes("Started flows");
    }, "Node-RED to start its flows", 120000);
    log(`nodered: pid ${nr.pid}`);
    return { procs: [nr], stop: () => stop(nr) };
}

// ---- diy -----------------------------------------------------------------------------------

async function startDiy(broker, peer) {
    const p = start("diy", process.execPath, [path.join(HERE, "diy.mjs"), "--opcua", peer.url, "--broker", broker.url,
        "--assets", String(ASSETS), "--points", String(POINTS), "--interval", String(INTERVAL),
        "--sampling", String(SAMPLING), "--queue-size", String(QUEUE)], { cwd: HERE });
    await waitFor(() => {
        if (p.exitCode !== null) throw new Error(`diy.mjs exited:\n${tail(p)}`);
        return tail(p).includes("subscribed");
    }, "diy.mjs to subscribe", 120000);
    log(`diy: pid ${p.pid}`);
    return { procs: [p], stop: () => stop(p) };
}

// ---- the parts -------------------------------------------------------------------------------

const mb = (x) => x.toFixed(1);
const pct = (x) => x.toFixed(1);

function printRows(title, m, expected, peers) {
    out(`\n== ${title}: ${m.wall.toFixed(1)} s window, load average ${loadavg()}`);
    out("| process | CPU % of one core | RSS mean MB | RSS peak (VmHWM) MB |");
    out("|---|---|---|---|");
    let cpu = 0, rss = 0, hwm = 0;
    for (const r of m.rows) {
        out(`| ${r.name} | ${pct(r.cpu)} | ${mb(r.rss)} | ${mb(r.hwm)} |`);
        cpu += r.cpu;
        rss += r.rss;
        hwm += r.hwm;
    }
    out(`| **sum** | ${pct(cpu)} | ${mb(rss)} | ${mb(hwm)} |`);
    for (const r of peers ?? []) out(`| (${r.name}) | ${pct(r.cpu)} | ${mb(r.rss)} | ${mb(r.hwm)} |`);
    out(`values: ${m.values} delivered in ${m.wall.toFixed(1)} s = ${(m.values / m.wall).toFixed(0)}/s (nominal ${expected}/s); ` +
        `the peer produced ${m.produced} (${(m.produced / m.wall).toFixed(0)}/s): lost ${m.gaps}, duplicates ${m.dups}, ` +
        `bad ${m.bad}; messages ${(m.msgs / m.wall).toFixed(1)}/s, ${((m.bytes / m.wall) / 1024).toFixed(0)} KiB/s; items seen ${m.items}`);
    return { cpu, rss, hwm };
}

const summary = [];

async function runPart(name, peer) {
    const broker = await new Broker(`mosquitto-${name}`).start();
    const counter = await new Counter(broker, name).ready();
    let alt;
    try {
        if (name === "ours") alt = await startOurs(broker, [peer], INTERVAL, SAMPLING);
        else if (name === "nodered") alt = await startNodeRed(broker, peer);
        else alt = await startDiy(broker, peer);
        const expected = (ASSETS * POINTS * 1000) / INTERVAL;
        await waitFor(async () => (await counter.snapshot()).items >= ASSETS * POINTS, `${name}: every item to arrive`, 120000);
        log(`${name}: every item arrived; settling ${SETTLE} s`);
        await sleep(SETTLE * 1000);
        const procs = [...alt.procs, broker.proc];
        const all = [...procs, peer];
        const m = await measure(all, counter, DURATION);
        const peerRow = m.rows.pop();
        const sum = printRows(name, m, expected, [peerRow]);
        let o = null;
        if (OUTAGE > 0) {
            o = await outage(broker, counter);
            out(`outage ${OUTAGE} s: lost ${o.lost} values, duplicates ${o.dups}, ` +
                `${o.after.toFixed(0)} values/s in the last 5 s of the ${DRAIN} s drain`);
        }
        summary.push({ name, m, sum, o, expected, main: m.rows[0] });
    } finally {
        await alt?.stop();
        await counter.stop();
        await broker.stop();
    }
}

async function runScale() {
    for (const lv of LEVELS) {
        const peers = [];
        const broker = await new Broker(`mosquitto-scale-${lv.peers}x${lv.items}`).start();
        const counter = await new Counter(broker, `scale-${lv.peers}x${lv.items}@${lv.ms}`).ready();
        let alt;
        try {
            for (let k = 0; k < lv.peers; k++) peers.push(await startPeer(`peer-s${k}`, lv.items, lv.ms));
            alt = await startOurs(broker, peers, lv.ms, SAMPLING);
            const total = lv.peers * lv.items;
            const expected = (total * 1000) / lv.ms;
            await waitFor(async () => (await counter.snapshot()).items >= total, "every item to arrive", 180000);
            await sleep(SETTLE * 1000);
            counter.proc.name = "counter (subscriber)";
            const m = await measure([...alt.procs, broker.proc, ...peers, counter.proc], counter, DURATION);
            const peerRows = m.rows.splice(alt.procs.length + 1);
            const title = `scale ${lv.peers} peers x ${lv.items} items every ${lv.ms} ms (${expected} values/s)`;
            printRows(title, m, expected, peerRows);
            const busiest = [...m.rows, ...peerRows].sort((x, y) => y.cpu - x.cpu)[0];
            out(`busiest process: ${busiest.name} at ${pct(busiest.cpu)} % of one core`);
            summary.push({ name: `scale ${lv.peers}x${lv.items}@${lv.ms}`, m, expected, main: m.rows[0], busiest });
        } finally {
            await alt?.stop();
            for (const p of peers) await stop(p);
            await counter.stop();
            await broker.stop();
        }
    }
}

out(`date: ${new Date().toISOString()}`);
out(`machine: nproc ${os.cpus().length}, ${os.cpus()[0]?.model ?? "?"}, RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}`);
out(`uptime before: ${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
out(`workload: ${ASSETS} assets x ${POINTS} points, change/publish every ${INTERVAL} ms, sampling ${SAMPLING} ms, ` +
    `queue size ${QUEUE}: ${(ASSETS * POINTS * 1000) / INTERVAL} values/s, ${(ASSETS * 1000) / INTERVAL} messages/s; ` +
    `window ${DURATION} s after ${SETTLE} s settle; outage ${OUTAGE} s, drain ${DRAIN} s`);

try {
    const mains = PARTS.filter((p) => p !== "scale");
    if (mains.length) {
        const peer = await startPeer("peer", ASSETS * POINTS, INTERVAL);
        try {
            for (const p of mains) {
                log(`== ${p}`);
                await runPart(p, peer);
            }
        } finally {
            await stop(peer);
        }
    }
    if (PARTS.includes("scale")) await runScale();
} catch (err) {
    out(`FAILED: ${err.message}`);
    out(`uptime after: ${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
    process.exitCode = 1;
}

if (summary.length) {
    out("\n== summary");
    out("| run | main process CPU % | main RSS mean / peak MB | stack CPU % | stack RSS mean / peak MB | values/s (expected) | lost in window | lost / duplicated in outage |");
    out("|---|---|---|---|---|---|---|---|");
    for (const s of summary) {
        const stack = s.m.rows.reduce((acc, r) => ({ cpu: acc.cpu + r.cpu, rss: acc.rss + r.rss, hwm: acc.hwm + r.hwm }), { cpu: 0, rss: 0, hwm: 0 });
        out(`| ${s.name} | ${pct(s.main.cpu)} | ${mb(s.main.rss)} / ${mb(s.main.hwm)} | ${pct(stack.cpu)} | ${mb(stack.rss)} / ${mb(stack.hwm)} | ` +
            `${(s.m.values / s.m.wall).toFixed(0)} (${s.expected}) | ${s.m.gaps} | ${s.o ? `${s.o.lost} / ${s.o.dups}` : "-"} |`);
    }
}
if (process.exitCode !== 1) out(`uptime after: ${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
if (opt.keep) out(`kept ${TMP}`);
// A child left by a failed start keeps the event loop alive: exit, which kills every child.
process.exit();
