// A server with small OperationLimits (5 nodes per call): the client reads the limits and
// splits Read and CreateMonitoredItems so that the caller never sees BadTooManyOperations.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPeer, runTool } from "../peers/opcua/harness.mjs";

let peer;
before(async () => {
    peer = await startPeer(["--max-nodes-per-read", "5"]);
});
after(async () => {
    if (peer) {
        await peer.stop();
    }
});

const TYPES = ["Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
    "Float", "Double", "String"];

test("a read of 12 nodes is split into calls of at most 5", async () => {
    const r = await runTool(["read", peer.url, ...TYPES.map((t) => `ns=1;s=Scalar.${t}`)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["true", "-100", "200", "-30000", "60000",
        "-123456", "4000000000", "-2", "4294967296", "1.5", "3.14159", "hello fieldplane"]);
});

test("12 monitored items are created in calls of at most 5", async () => {
    const ids = ["ns=1;s=Dynamic.Counter", "ns=1;s=Dynamic.Sine", ...TYPES.slice(0, 10).map((t) => `ns=1;s=Scalar.${t}`)];
    const r = await runTool(["subscribe", peer.url, ...ids, "--interval", "100", "--duration", "1500"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const seen = new Set(r.stdout.trim().split("\n").map((l) => l.split(" ")[0]));
    for (const id of ids) {
        assert.ok(seen.has(id), `${id} reported`);
    }
});
