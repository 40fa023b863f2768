// server.mjs - a controllable HTTP/SSE test device for the HTTP and SSE connectors.
//
// Uses node:http only. Two ways to drive it:
//   - from a test:  import { DeviceServer } from './server.mjs';
//                   const dev = await new DeviceServer().start();   // dev.url
//                   dev.setJson('/api/v1', {temp: 21.5}); dev.setStatus('/api/v1', 503);
//                   dev.setBody('/api/v1', '{"bad', 'application/json');
//                   await dev.down(); await dev.up();                // same port
//                   dev.sse('/events').push({event: 'alarm', id: '1', data: 'a\nb'});
//   TLS:            new DeviceServer({ tls: { key, cert, ca, requestCert: true } }) serves
//                   https (with requestCert, only clients with a certificate from ca).
//   Load:           new DeviceServer({ record: false }) keeps no request log, for
//                   benchmarks that send it hundreds of requests a second for minutes.
//   - as a process: node server.mjs [--port N] [--url-file F] [--no-record]
//                   prints its URL on stdout; POST /_control with a JSON body
//                   {"op": "setJson"|"setStatus"|"setBody"|"setAuth"|"push"|"closeStreams"|
//                    "down"|"requests"|"reset", ...the method's arguments by name}.
//                   "down" with "forMs" comes back by itself after that many ms.
//
// Every request is recorded (method, path, headers) in dev.requests, so tests can check
// Authorization and Last-Event-ID. An SSE path keeps its events; a client that sends
// Last-Event-ID gets those after that id again, then new ones as they are pushed.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

/** One server-sent events path: its history and its open streams. */
class SseChannel {
  constructor() {
    this.events = []; // {id, event, data, retry}
    this.clients = new Set();
  }

  /** Serialise one event in the stream format (multi-line data -> several data: lines). */
  static format(ev) {
    let out = '';
    if (ev.comment !== undefined) out += `: ${ev.comment}\n`;
    if (ev.retry !== undefined) out += `retry: ${ev.retry}\n`;
    if (ev.event !== undefined) out += `event: ${ev.event}\n`;
    if (ev.id !== undefined) out += `id: ${ev.id}\n`;
    if (ev.data !== undefined) {
      const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
      for (const line of data.split('\n')) out += `data: ${line}\n`;
    }
    return out + '\n';
  }

  /** Queue an event: kept for replay and sent to every open stream. */
  push(ev) {
    this.events.push(ev);
    const text = SseChannel.format(ev);
    for (const res of this.clients) res.write(text);
    return this;
  }

  /** Send raw bytes to the open streams (not kept): for malformed or split input. */
  raw(text) {
    for (const res of this.clients) res.write(text);
    return this;
  }

  /** End every open stream (the clients should reconnect). */
  closeStreams() {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  attach(req, res) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    const last = req.headers['last-event-id'];
    let from = 0;
    if (last !== undefined) {
      const i = this.events.findIndex((e) => e.id !== undefined && String(e.id) === last);
      from = i >= 0 ? i + 1 : 0;
    }
    for (const ev of this.events.slice(from)) res.write(SseChannel.format(ev));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }
}

export class DeviceServer {
  constructor({ tls = null, record = true } = {}) {
    this.tls = tls; // null for plain http, else node:https options (key, cert, ca, requestCert)
    this.record = record; // keep every request in this.requests
    this.port = 0;
    this.routes = new Map(); // path -> {status, body, type}
    this.channels = new Map(); // path -> SseChannel
    this.requests = [];
    this.auth = null; // null | {basic: {user, pass}} | {bearer: token}
    this.sockets = new Set();
    this.server = null;
  }

  get url() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Listen on 127.0.0.1 (a free port the first time, the same port after down()). */
  start() {
    return new Promise((resolve, reject) => {
      const handler = (req, res) => this.handle(req, res);
      const srv = this.tls
        ? https.createServer({ ...this.tls, rejectUnauthorized: !!this.tls.requestCert }, handler)
        : http.createServer(handler);
      srv.on('connection', (s) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
      srv.once('error', reject);
      srv.listen(this.port, '127.0.0.1', () => {
        this.port = srv.address().port;
        this.server = srv;
        resolve(this);
      });
    });
  }

  up() {
    return this.server ? Promise.resolve(this) : this.start();
  }

  /** Stop listening and cut every connection, open streams included. */
  down() {
    const srv = this.server;
    this.server = null;
    if (!srv) return Promise.resolve(this);
    for (const ch of this.channels.values()) ch.clients.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => srv.close(() => resolve(this)));
  }

  stop() {
    return this.down();
  }

  setJson(path, value, status = 200) {
    this.routes.set(path, { status, body: JSON.stringify(value), type: 'application/json' });
    return this;
  }

  setBody(path, body, type = 'application/json', status = 200) {
    this.routes.set(path, { status, body, type });
    return this;
  }

  /** Answer path with this status (and a small JSON error body). */
  setStatus(path, status) {
    const r = this.routes.get(path);
    if (r && status >= 200 && status < 300) this.routes.set(path, { ...r, status });
    else this.routes.set(path, { status, body: JSON.stringify({ error: status }), type: 'application/json', keep: r });
    return this;
  }

  /** Back to the document that was set before setStatus(). */
  clearStatus(path) {
    const r = this.routes.get(path);
    if (r && r.keep) this.routes.set(path, r.keep);
    return this;
  }

  /** Require credentials: {basic: {user, pass}}, {bearer: token}, or null for none. */
  setAuth(auth) {
    this.auth = auth;
    return this;
  }

  sse(path) {
    if (!this.channels.has(path)) this.channels.set(path, new SseChannel());
    return this.channels.get(path);
  }

  reset() {
    this.routes.clear();
    for (const ch of this.channels.values()) ch.closeStreams();
    this.channels.clear();
    this.requests = [];
    this.auth = null;
  }

  authorized(req) {
    if (!this.auth) return true;
    const h = req.headers.authorization || '';
    if (this.auth.bearer !== undefined) return h === `Bearer ${this.auth.bearer}`;
    if (this.auth.basic) {
      const want = Buffer.from(`${this.auth.basic.user}:${this.auth.basic.pass}`).toString('base64');
      return h === `Basic ${want}`;
    }
    return false;
  }

  async control(req, res) {
    let body = '';
    for await (const chunk of req) body += chunk;
    let cmd;
    try {
      cmd = JSON.parse(body || '{}');
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `bad JSON: ${e.message}` }));
      return;
    }
    const ok = (v = { ok: true }) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    switch (cmd.op) {
      case 'setJson': this.setJson(cmd.path, cmd.value, cmd.status); return ok();
      case 'setBody': this.setBody(cmd.path, cmd.body, cmd.type, cmd.status); return ok();
      case 'setStatus': this.setStatus(cmd.path, cmd.status); return ok();
      case 'clearStatus': this.clearStatus(cmd.path); return ok();
      case 'setAuth': this.setAuth(cmd.auth || null); return ok();
      case 'push': this.sse(cmd.path).push(cmd.event || {}); return ok();
      case 'raw': this.sse(cmd.path).raw(cmd.text || ''); return ok();
      case 'closeStreams': this.sse(cmd.path).closeStreams(); return ok();
      case 'requests': return ok(this.requests);
      case 'reset': this.reset(); return ok();
      case 'down':
        ok();
        res.on('finish', async () => {
          await this.down();
          if (cmd.forMs) setTimeout(() => this.up(), cmd.forMs);
        });
        return undefined;
      default:
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: `unknown op ${JSON.stringify(cmd.op)}` }));
    }
    return undefined;
  }

  handle(req, res) {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/_control' && req.method === 'POST') return this.control(req, res);
    if (this.record) {
      const peer = req.socket.getPeerCertificate ? req.socket.getPeerCertificate() : null;
      this.requests.push({
        method: req.method,
        path,
        url: req.url,
        headers: req.headers,
        clientCert: peer && peer.subject ? peer.subject.CN : null,
      });
    }
    if (!this.authorized(req)) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="device"' });
      res.end('{"error":"unauthorized"}');
      return undefined;
    }
    if (this.channels.has(path)) {
      const r = this.routes.get(path);
      if (r && r.status !== 200) {
        res.writeHead(r.status, { 'Content-Type': r.type });
        res.end(r.body);
        return undefined;
      }
      this.channels.get(path).attach(req, res);
      return undefined;
    }
    const r = this.routes.get(path);
    if (!r) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `no document at ${path}` }));
      return undefined;
    }
    res.writeHead(r.status, { 'Content-Type': r.type });
    res.end(r.body);
    return undefined;
  }
}

// Run as a process: print the URL (and write it to --url-file), serve until killed.
if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const args = process.argv.slice(2);
  const dev = new DeviceServer();
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') dev.port = Number(args[++i]);
    else if (args[i] === '--url-file') dev.urlFile = args[++i];
    else if (args[i] === '--no-record') dev.record = false;
  }
  await dev.start();
  if (dev.urlFile) fs.writeFileSync(dev.urlFile, `${dev.url}\n`);
  process.stdout.write(`${dev.url}\n`);
  const stop = () => dev.down().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
