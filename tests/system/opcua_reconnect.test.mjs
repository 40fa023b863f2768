// The server killed and restarted mid-subscription: the client reconnects, finds its session
// gone, creates a new one, recreates the subscription, and data flows again, with one
// reconnect and no duplicate items.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPeer, spawnTool, stopProc } from "../peers/opcua/harness.mjs";

const pki = fs.mkdtempSync(path.join(os.tmpdir(), "fp-opcua-reconnect-pki-"));
const peers = [];
after(async () => {
    for (const p of peers) {
        await p.stop(); // also removes a PKI folder the harness made for the peer
    }
    fs.rmSync(pki, { recursive: true, force: true });
});

function waitFor(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const timer = setInterval(() => {
            if (pred()) {
                clearInterval(timer);
                resolve();
            } else if (Date.now() - t0 > timeoutMs) {
                clearInterval(timer);
                reject(new Error(`timed out waiting for ${what}`));
            }
        }, 100);
    });
}

test("a subscription survives a server restart", { timeout: 180000 }, async () => {
    const first = await startPeer(["--pki", pki]);
    peers.push(first);
    const tool = spawnTool(["subscribe", first.url, "ns=1;s=Dynamic.Counter", "--interval", "200",
        "--stats"]);
    let out = "";
    let err = "";
    tool.stdout.on("data", (d) => (out += d));
    tool.stderr.on("data", (d) => (err += d));
    const exited = new Promise((resolve) => tool.on("exit", (code) => resolve(code)));
    try {
        const values = () => out.trim().split("\n").filter(Boolean).map((l) => Number(l.split(" ")[1]));
        await waitFor(() => values().length >= 5, 30000, "first values");

        first.proc.kill("SIGKILL");
        await stopProc(first.proc);
        await waitFor(() => /reconnecting/.test(err), 30000, "the loss to be noticed");

        const second = await startPeer(["--pki", pki, "--port", String(first.port)]);
        peers.push(second);
        await waitFor(() => /reconnected/.test(err), 90000, "the reconnect");
        const before = values().length;
        await waitFor(() => values().length >= before + 5, 30000, "values after the restart");
        const after = values().slice(before);
        for (let i = 1; i < after.length; i++) {
            assert.ok(after[i] > after[i - 1], `one item, no duplicates: ${after}`);
        }
    } finally {
        tool.kill("SIGINT");
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 10000))]);
        if (code === "timeout") {
            tool.kill("SIGKILL");
        }
    }
    assert.match(err, /reconnects=1 recreated=1/, err);
    assert.match(err, /reconnected to .* \(new session\)/);
});

test("a server that stops answering is reconnected to, on the same session", { timeout: 180000 }, async () => {
    const peer = await startPeer([]);
    peers.push(peer);
    const tool = spawnTool(["subscribe", peer.url, "ns=1;s=Dynamic.Counter", "--interval", "200",
        "--stats"]);
    let out = "";
    let err = "";
    tool.stdout.on("data", (d) => (out += d));
    tool.stderr.on("data", (d) => (err += d));
    const exited = new Promise((resolve) => tool.on("exit", (code) => resolve(code)));
    const count = () => out.trim().split("\n").filter(Boolean).length;
    try {
        await waitFor(() => count() >= 5, 30000, "first values");
        // Frozen, the peer keeps its sockets but answers nothing: the keep-alive supervision
        // (interval x (keep-alive count + 1) x 1.5 + 5 s) gives up on the connection.
        peer.proc.kill("SIGSTOP");
        await waitFor(() => /reconnecting/.test(err), 30000, "the keep-alive timeout");
        peer.proc.kill("SIGCONT");
        await waitFor(() => /reconnected/.test(err), 60000, "the reconnect");
        const before = count();
        await waitFor(() => count() >= before + 5, 30000, "values after the reconnect");
    } finally {
        peer.proc.kill("SIGCONT");
        tool.kill("SIGINT");
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 10000))]);
        if (code === "timeout") {
            tool.kill("SIGKILL");
        }
    }
    assert.match(err, /reconnected to .* \(same session\)/, err);
    assert.match(err, /reconnects=1 recreated=0/, err);
});
