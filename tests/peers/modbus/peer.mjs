// The Modbus test peer for node tests: runs server.py (pymodbus, Debian's python3-pymodbus)
// as a child process and drives its data store over stdin/stdout. A missing interpreter or
// pymodbus is an error when the peer starts, so a test that needs it fails, never skips.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PYTHON = '/usr/bin/python3'; // Debian's interpreter: its pymodbus, not a pyenv's
const SERVER = join(import.meta.dirname, 'server.py');

export class ModbusPeer {
  // port: Modbus TCP port on 127.0.0.1; or serial: a device path for RTU.
  constructor({ port, serial, units = [1], size = 1000 } = {}) {
    this.port = port;
    this.serial = serial;
    this.units = units;
    this.size = size;
    this.log = '';
  }

  async start() {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the Modbus peer needs Debian's python3 and python3-pymodbus`);
    const args = [SERVER, '--units', this.units.join(','), '--size', String(this.size)];
    if (this.serial) args.push('--serial', this.serial);
    else args.push('--port', String(this.port));
    this.proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    this.waiters = [];
    let buf = '';
    this.proc.stderr.on('data', (d) => (this.log += d));
    const ready = new Promise((resolve, reject) => {
      this.proc.once('exit', (code) => reject(new Error(`the Modbus peer exited (${code}): ${this.log.slice(-2000)}`)));
      this.proc.stdout.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (line.ready) resolve();
          else this.waiters.shift()?.(line);
        }
      });
    });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
    await ready.finally(() => clearTimeout(timer));
    return this;
  }

  ask(req) {
    return new Promise((resolve, reject) => {
      this.waiters.push((a) => (a.error ? reject(new Error(`Modbus peer: ${a.error}`)) : resolve(a)));
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  // table: 'co', 'di', 'ir', 'hr'; values: registers (numbers) or bits (0/1).
  async set(table, address, values, unit = this.units[0]) {
    await this.ask({ op: 'set', unit, table, address, values });
  }

  async get(table, address, count = 1, unit = this.units[0]) {
    return (await this.ask({ op: 'get', unit, table, address, count })).values;
  }

  // Modbus requests the server has served (reads and writes, exceptions included).
  async requests() {
    return (await this.ask({ op: 'stats' })).requests;
  }

  async kill() {
    if (this.proc && this.proc.exitCode === null && !this.proc.signalCode) this.proc.kill('SIGKILL');
    await this.exited;
  }
}
