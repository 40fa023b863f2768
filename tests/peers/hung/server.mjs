// server.mjs - a "hung host": a device that accepts TCP connections and never answers.
//
// This is the device that ties a connector up: the connection succeeds at once, so a
// connect timeout never fires, and no byte ever comes back, so only the request's own
// timeout ends the wait. Connectors must show it as unavailable after that timeout and
// keep every other device flowing meanwhile. Uses node:net only. Two ways to drive it:
//   - from a test:  import { HungServer } from './server.mjs';
//                   const hung = await new HungServer().start();   // hung.url, hung.port
//                   hung.accepted   // connections accepted so far
//                   hung.open       // connections open now
//                   await hung.stop();                              // cuts every connection
//   - as a process: node server.mjs [--port N] [--url-file F]
//                   prints its URL on stdout, holds connections until killed.
//
// Whatever a client sends is read and dropped (so its writes never block) and the
// connection is kept until the client closes it (then it is closed here too, so `open`
// counts only connections a client still waits on) or the server stops.
import net from 'node:net';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

export class HungServer {
  constructor({ port = 0 } = {}) {
    this.port = port;
    this.sockets = new Set();
    this.accepted = 0;
    this.server = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get open() {
    return this.sockets.size;
  }

  /** Listen on 127.0.0.1 (a free port unless one was given). */
  start() {
    return new Promise((resolve, reject) => {
      const srv = net.createServer((s) => {
        this.accepted++;
        this.sockets.add(s);
        s.on('data', () => {});
        // A client giving up resets the connection; that is expected, not an error here.
        s.on('error', () => {});
        s.on('close', () => this.sockets.delete(s));
      });
      srv.once('error', reject);
      // A deep backlog: a connector may open hundreds of connections at once.
      srv.listen({ port: this.port, host: '127.0.0.1', backlog: 4096 }, () => {
        this.port = srv.address().port;
        this.server = srv;
        resolve(this);
      });
    });
  }

  /** Stop listening and cut every held connection (clients see a reset or an empty reply). */
  stop() {
    const srv = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!srv) return Promise.resolve(this);
    return new Promise((resolve) => srv.close(() => resolve(this)));
  }
}

// Run as a process: print the URL (and write it to --url-file), hold connections until killed.
if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const args = process.argv.slice(2);
  let port = 0;
  let urlFile;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--url-file') urlFile = args[++i];
  }
  const hung = await new HungServer({ port }).start();
  if (urlFile) fs.writeFileSync(urlFile, `${hung.url}\n`);
  process.stdout.write(`${hung.url}\n`);
  const stop = () => hung.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
