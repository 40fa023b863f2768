// bench/registry/hostile.mjs [FIELDPLANE_BINARY] [--bodies N] [--body-mb M] [--batch B]
//     [--revocations R]
//
// What hostile clients on the registry's network cost it (issue 13), for docs/benchmarks.md.
// A fresh registry (the given binary, default build/release/cli/fieldplane) on a loopback
// port, then:
//  - bodies: N connections (default 1000), B at a time (250), each sending the headers of
//    a PUT without a token and M MiB (2) of body; the registry's RSS before, at its peak
//    (sampled every 50 ms) and after, from /proc;
//  - revocation: R times (10), a viewer token opens a watch, `fieldplane token revoke`
//    revokes it on the data directory, and the time until the stream ends is taken;
//    median and maximum.
// Prints one JSON object. Loopback only; the registry's data directory is removed after.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const bin = args[0] && !args[0].startsWith('--') ? args[0] : 'build/release/cli/fieldplane';
const N = opt('bodies', 1000);
const MB = opt('body-mb', 2);
const BATCH = opt('batch', 250);
const R = opt('revocations', 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'fp-hostile-'));
const reg = spawn(bin, ['registry', '--data', dir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'inherit'] });
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${reg.pid}/status`, 'utf8'))[1]) / 1024;

try {
  while (!existsSync(join(dir, 'registry.url'))) await sleep(20);
  const url = new URL(readFileSync(join(dir, 'registry.url'), 'utf8').trim());
  const port = Number(url.port);

  // Bodies without a token.
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
  const body = Buffer.alloc(MB << 20, 'x');
  const t0 = Date.now();
  for (let done = 0; done < N; done += BATCH) {
    const conns = [];
    for (let i = done; i < Math.min(N, done + BATCH); i++) {
      conns.push(
        new Promise((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.on('error', resolve);
          s.on('close', resolve);
          s.write(`PUT /api/v1/namespaces/n/devices/d${i} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 1}\r\n\r\n`);
          s.write(body);
          setTimeout(() => s.destroy(), 5000);
        }),
      );
    }
    await Promise.all(conns);
  }
  clearInterval(sampler);
  const bodiesSeconds = (Date.now() - t0) / 1000;
  await sleep(500);
  const after = rss();

  // Revocation of a token with an open watch.
  const took = [];
  for (let i = 0; i < R; i++) {
    const out = execFileSync(bin, ['token', 'create', '--data', dir, '--role', 'viewer'], { encoding: 'utf8' }).trim().split('\n');
    const tok = out[out.length - 1];
    const res = await fetch(`${url.origin}/api/v1/watch?keepaliveSeconds=60`, { headers: { authorization: `Bearer ${tok}` } });
    const reader = res.body.getReader();
    await reader.read();
    execFileSync(bin, ['token', 'revoke', '--data', dir, /^fpt_([0-9a-f]+)_/.exec(tok)[1]]);
    const t = Date.now();
    while (!(await reader.read()).done);
    took.push(Date.now() - t);
  }
  took.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bodies: N,
      bodyMiB: MB,
      bodiesSeconds,
      rssMiB: { before: +before.toFixed(1), peak: +peak.toFixed(1), after: +after.toFixed(1) },
      revocationMs: { median: took[Math.floor(took.length / 2)], max: took[took.length - 1] },
    }),
  );
} finally {
  reg.kill('SIGTERM');
  await new Promise((r) => reg.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
