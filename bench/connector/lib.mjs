// Helpers the connector benchmarks share (runtime.mjs, hung.mjs): a pause, a free loopback
// port chosen at run time, and waiting for a condition with a deadline.
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// fn() until it answers something truthy (errors count as not yet), at most ms.
export async function until(fn, what, ms = 60000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}
