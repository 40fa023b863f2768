// Helpers for connector system tests: start a connector executable against a real
// registry and mosquitto, and read what it publishes with mosquitto_sub (MQTT 5), so
// that topic, QoS, retain, content type, expiry, user properties and payload are all
// checked as a real subscriber sees them.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, waitFor, BIN, TestProcess } from './registry.mjs';

export const BUILD_DIR = process.env.FP_BUILD_DIR;

// Path of a connector executable in the build tree ("http", "sse", or the example "counter").
export function connectorBin(name) {
  const p =
    name === 'counter'
      ? join(BUILD_DIR, 'examples/connector-counter/fieldplane-connector-counter')
      : join(BUILD_DIR, `connectors/${name}/fieldplane-connector-${name}`);
  if (!existsSync(p)) throw new Error(`connector executable not built: ${p}`);
  return p;
}

// A connector process. start() resolves once its /healthz answers.
export class Connector extends TestProcess {
  constructor({ name, registry, broker, dataDir, args = [], port }) {
    super(`connector ${name}`, dataDir ?? tempDir(`fp-conn-${name}-`));
    this.bin = connectorBin(name);
    this.registry = registry;
    this.broker = broker;
    this.args = args;
    this.port = port;
  }

  tokenFile() {
    const f = join(this.dataDir, 'connector.token');
    if (!existsSync(f)) writeFileSync(f, this.registry.tokenFor('connector') + '\n', { mode: 0o600 });
    return f;
  }

  async start() {
    if (!this.port) {
      const { freePort } = await import('./registry.mjs');
      this.port = await freePort();
    }
    const args = [
      '--registry', this.registry.url,
      '--token-file', this.tokenFile(),
      '--broker', `mqtt://127.0.0.1:${this.broker.port}`,
      '--data', join(this.dataDir, 'data'),
      '--listen', `127.0.0.1:${this.port}`,
      ...this.args,
    ];
    this.spawn(this.bin, args);
    this.url = `http://127.0.0.1:${this.port}`;
    await waitFor(async () => {
      this.checkRunning();
      const r = await fetch(`${this.url}/healthz`).catch(() => null);
      return r !== null;
    }, 'the connector to serve /healthz', 30000);
    return this;
  }

  async metrics() {
    const r = await fetch(`${this.url}/metrics`);
    return await r.text();
  }
}

// One value of a metric line `name{labels} value` (first match), or undefined.
export function metric(text, name, labels = '') {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) return Number(m[3]);
  }
  return undefined;
}

const SEP = '\x1f';

// A mosquitto_sub (MQTT 5, QoS 1, retain-as-published) collecting messages as
// {topic, qos, retain, contentType, expiry, props, responseTopic, correlation, payload, json, at}
// (at: Date.now() when the line was read, for tests that measure a rate).
// With `id`, the session is persistent (survives a broker restart with persistence).
export class MqttSub {
  constructor(port, topic, { id } = {}) {
    this.port = port;
    this.topic = topic;
    this.id = id;
    this.messages = [];
    this.buf = '';
    this.log = '';
  }

  async start() {
    const fmt = ['%t', '%q', '%r', '%C', '%E', '%P', '%R', '%D', '%p'].join(SEP);
    const args = ['-h', '127.0.0.1', '-p', String(this.port), '-V', '5', '-q', '1', '--retain-as-published',
      '-t', this.topic, '-F', fmt];
    if (this.id) args.push('-c', '-i', this.id);
    this.spawn(args);
    // mosquitto_sub prints nothing on subscribe; give it a moment to connect.
    await new Promise((r) => setTimeout(r, 300));
    return this;
  }

  spawn(args) {
    this.args = args;
    this.proc = spawn('mosquitto_sub', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => this.feed(String(d)));
    this.proc.stderr.on('data', (d) => (this.log += d));
    this.exited = new Promise((r) => this.proc.once('exit', r));
    // mosquitto_sub exits when the broker goes away; restart it while we run.
    this.proc.once('exit', () => {
      if (!this.stopping) setTimeout(() => !this.stopping && this.spawn(this.args), 300);
    });
  }

  feed(s) {
    this.buf += s;
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const f = line.split(SEP);
      if (f.length < 9) continue;
      const props = {};
      for (const kv of f[5].split(' ').filter(Boolean)) {
        const c = kv.indexOf(':');
        props[kv.slice(0, c)] = kv.slice(c + 1);
      }
      const payload = f.slice(8).join(SEP);
      let json;
      try {
        json = JSON.parse(payload);
      } catch {
        json = undefined;
      }
      this.messages.push({
        topic: f[0], qos: Number(f[1]), retain: f[2] === '1', contentType: f[3],
        expiry: f[4] === '' ? undefined : Number(f[4]), props, responseTopic: f[6],
        correlation: f[7], payload, json, at: Date.now(),
      });
    }
  }

  async waitFor(pred, what, timeoutMs = 20000) {
    return await waitFor(() => this.messages.find(pred), what, timeoutMs);
  }

  async stop() {
    this.stopping = true;
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
  }
}

// Publish with mosquitto_pub (MQTT 5); extra args such as ['-D', 'publish', 'response-topic', 'r'].
export function mqttPub(port, topic, message, args = []) {
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', '5', '-q', '1', '-t', topic, '-m', message, ...args]);
}

// A management action request as a client sends it (MQTT 5 request/response): published on
// topic with a response topic (replyPrefix/id) and correlation data id, sent again every 2 s
// while no answer came (the connector may not have subscribed yet). Resolves to the answer
// from replies (an MqttSub on replyPrefix/#), whose correlation data must be id; throws
// explain(...) when none came within timeoutMs.
export async function mqttRequest({ port, replies, topic, payload, replyPrefix, id, timeoutMs = 30000, explain = (w) => w }) {
  const responseTopic = `${replyPrefix}/${id}`;
  const send = () => mqttPub(port, topic, payload, ['-D', 'publish', 'response-topic', responseTopic, '-D', 'publish', 'correlation-data', id]);
  send();
  const end = Date.now() + timeoutMs;
  let next = Date.now() + 2000;
  while (Date.now() < end) {
    const m = replies.messages.find((x) => x.topic === responseTopic);
    if (m) {
      if (m.correlation !== id) throw new Error(explain(`the answer on ${responseTopic} carries correlation data ${m.correlation}, not ${id}`));
      return m;
    }
    if (Date.now() > next) {
      send();
      next = Date.now() + 2000;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(explain(`no reply to ${topic} ${payload}`));
}

export { BIN };
