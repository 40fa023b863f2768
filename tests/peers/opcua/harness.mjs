// Helpers for the OPC UA system tests: start the test peer (server.js) on a loopback port chosen
// at run time, wait for its LISTENING line, run the fieldplane-opcua tool, and make sure every
// process started here is killed when the test ends, whether it passed or not.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const peerDir = here;
export const requirePeer = createRequire(path.join(here, "package.json"));

const children = new Set();

function killAll() {
    for (const child of children) {
        try {
            child.kill("SIGKILL");
        } catch {
            // already gone
        }
    }
    children.clear();
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
        killAll();
        process.exit(1);
    });
}

// Start the peer with extra command-line args; resolves to { url, port, pki, proc, stop(), log() }.
// The PKI folder is a fresh temporary one unless args contain --pki.
export async function startPeer(args = [], { timeoutMs = 60000 } = {}) {
    let pki = null;
    let ownPki = false;
    if (!args.includes("--pki")) {
        ownPki = true;
        pki = fs.mkdtempSync(path.join(os.tmpdir(), "fp-opcua-pki-"));
        args = [...args, "--pki", pki];
    } else {
        pki = args[args.indexOf("--pki") + 1];
    }
    const proc = spawn(process.execPath, [path.join(here, "server.js"), ...args], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(proc);
    let stderr = "";
    proc.stderr.on("data", (d) => {
        stderr += d;
        if (stderr.length > 65536) {
            stderr = stderr.slice(-32768);
        }
    });
    const url = await new Promise((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => {
            reject(new Error(`peer did not start in ${timeoutMs} ms:\n${stderr}`));
        }, timeoutMs);
        proc.stdout.on("data", (d) => {
            out += d;
            const m = out.match(/^LISTENING (opc\.tcp:\/\/\S+)/m);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
        proc.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`peer exited with ${code} before listening:\n${stderr}`));
        });
    });
    const port = Number(new URL(url.replace(/^opc\.tcp:/, "http:")).port);
    return {
        url,
        port,
        pki,
        proc,
        log: () => stderr,
        stop: async () => {
            await stopProc(proc);
            if (ownPki) {
                fs.rmSync(pki, { recursive: true, force: true });
            }
        },
    };
}

// Stop a process started here: SIGTERM, then SIGKILL after graceMs.
export function stopProc(proc, graceMs = 3000) {
    return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
            children.delete(proc);
            resolve();
            return;
        }
        const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
        proc.once("exit", () => {
            clearTimeout(timer);
            children.delete(proc);
            resolve();
        });
        proc.kill("SIGTERM");
    });
}

// Path of the fieldplane-opcua tool in the build tree given by FP_BUILD_DIR.
export function toolPath() {
    const build = process.env.FP_BUILD_DIR || path.join(here, "../../../build/dev");
    return path.join(build, "lib/opcua/fieldplane-opcua");
}

// Run the tool to completion; resolves to { code, stdout, stderr }. Killed after timeoutMs.
export function runTool(args, { timeoutMs = 30000, env = {} } = {}) {
    return new Promise((resolve, reject) => {
        const proc = spawn(toolPath(), args, {
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, ...env },
        });
        children.add(proc);
        let stdout = "";
        let stderr = "";
        proc.stdout.on("data", (d) => (stdout += d));
        proc.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
        proc.on("error", (err) => {
            clearTimeout(timer);
            children.delete(proc);
            reject(err);
        });
        proc.on("exit", (code, signal) => {
            clearTimeout(timer);
            children.delete(proc);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

// Start the tool as a long-running process (subscribe); the caller stops it with stopProc().
export function spawnTool(args, { env = {} } = {}) {
    const proc = spawn(toolPath(), args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...env },
    });
    children.add(proc);
    return proc;
}
