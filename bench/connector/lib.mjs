// Helpers the connector benchmarks share (runtime.mjs, hung.mjs, ../modbus/bench.mjs): a
// pause, a free loopback port chosen at run time, waiting for a condition with a deadline, and
// a process's CPU time and memory from /proc.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

// utime + stime of a live process, in seconds (the benchmarks' one CPU reading). The
// command name may hold ") ", so the fields are counted from the last one.
export function cpuSeconds(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / HZ;
}

// VmRSS and VmHWM of a live process in MB, and its thread count.
export function procMem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const g = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) ?? [])[1] ?? 0);
  return { rss: g('VmRSS') / 1024, hwm: g('VmHWM') / 1024, threads: g('Threads') };
}

// The load average, for the lines a benchmark prints before and after its run.
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
