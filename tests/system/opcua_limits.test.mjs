// A server with small OperationLimits (5 nodes per call): the client reads the limits and
// splits Read, Browse, TranslateBrowsePathsToNodeIds and CreateMonitoredItems so that the
// caller never sees BadTooManyOperations.
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

test("a browse of 7 nodes is split into calls of at most 5", async () => {
    const ids = ["i=85", "ns=1;s=Plant", "ns=1;s=Plant.Area1", "ns=1;s=Plant.Area1.Line1",
        "ns=1;s=Scalars", "ns=1;s=Dynamic", "ns=1;s=Methods"];
    const r = await runTool(["browse", peer.url, ...ids]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(!lines.some((l) => l.startsWith("Bad")), r.stdout);
    for (const want of ["ns=1;s=Plant 1:Plant Object", "ns=1;s=Plant.Area1 1:Area1 Object",
        "ns=1;s=Plant.Area1.Line1 1:Line1 Object", "ns=1;s=Plant.Area1.Line1.Machine1 1:Machine1 Object",
        "ns=1;s=Scalar.Int32 1:Int32 Variable", "ns=1;s=Dynamic.Counter 1:Counter Variable",
        "ns=1;s=Methods.Add 1:Add Method"]) {
        assert.ok(lines.includes(want), `${want} in\n${r.stdout}`);
    }
});

test("7 browse paths are translated in calls of at most 5, results in order", async () => {
    const paths = ["i=85/1:Plant", "i=85/1:Plant/1:Area1", "/0:Objects/1:Plant/1:Area1/1:Line1",
        "i=85/1:Scalars/1:Int32", "i=85/1:Nothing", "i=85/1:Dynamic/1:Counter", "i=85/1:Methods/1:Add"];
    const r = await runTool(["translate", peer.url, ...paths]);
    assert.equal(r.code, 1, r.stdout + r.stderr); /* one path does not resolve */
    assert.deepEqual(r.stdout.trim().split("\n"), ["ns=1;s=Plant", "ns=1;s=Plant.Area1",
        "ns=1;s=Plant.Area1.Line1", "ns=1;s=Scalar.Int32", "BadNoMatch", "ns=1;s=Dynamic.Counter",
        "ns=1;s=Methods.Add"]);
});
