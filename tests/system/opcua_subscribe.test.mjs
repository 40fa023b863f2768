// Subscriptions through the fieldplane-opcua tool against the node-opcua test peer: data
// changes of variables that move every 100 ms, events of a custom type with an OfType filter,
// a deadband, and 1,000 items of which every change must arrive.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPeer, runTool } from "../peers/opcua/harness.mjs";

const N_LOAD = 1000;
let peer;
before(async () => {
    // The peer writes every Load variable every 200 ms; items sampled with interval 0 report
    // each write (queued on the server until the next publish).
    peer = await startPeer(["--items", String(N_LOAD), "--items-interval", "200", "--items-push",
        "--event-interval", "200"]);
});
after(async () => {
    if (peer) {
        await peer.stop();
    }
});

function parseLines(stdout) {
    return stdout.trim().split("\n").filter(Boolean).map((l) => {
        const sp = l.indexOf(" ");
        return [l.slice(0, sp), l.slice(sp + 1)];
    });
}

test("subscribe prints one line per change of moving variables", async () => {
    const r = await runTool(["subscribe", peer.url, "ns=1;s=Dynamic.Counter", "ns=1;s=Dynamic.Sine",
        "--interval", "100", "--duration", "2000", "--stats"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = parseLines(r.stdout);
    const counter = lines.filter(([n]) => n === "ns=1;s=Dynamic.Counter").map(([, v]) => Number(v));
    const sine = lines.filter(([n]) => n === "ns=1;s=Dynamic.Sine").map(([, v]) => Number(v));
    assert.ok(counter.length >= 10, `counter changes: ${counter.length}`);
    assert.ok(sine.length >= 10, `sine changes: ${sine.length}`);
    for (let i = 1; i < counter.length; i++) {
        assert.ok(counter[i] > counter[i - 1], `counter increases: ${counter}`);
    }
    assert.ok(sine.every((v) => v >= -1 && v <= 1));
    assert.match(r.stderr, /lost=0/);
});

test("subscribe to events of the custom type with selected fields", async () => {
    const r = await runTool(["subscribe", peer.url, "i=2253", "--event-fields",
        "EventType,Message,Severity,1:Sequence", "--event-type", "ns=1;s=FieldplaneTestEventType",
        "--duration", "1500"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = parseLines(r.stdout);
    assert.ok(lines.length >= 3, r.stdout);
    let prev = -1;
    for (const [node, v] of lines) {
        assert.equal(node, "i=2253");
        const [type, message, severity, seq] = v.split(",");
        assert.equal(type, "ns=1;s=FieldplaneTestEventType");
        assert.equal(message, `test event ${seq}`);
        assert.ok(Number(severity) >= 100);
        assert.ok(Number(seq) > prev, "event sequence increases");
        prev = Number(seq);
    }
});

test("an absolute deadband filters small changes", async () => {
    // Sine moves by at most 0.1 per 100 ms tick: with a deadband of 0.5 consecutive reported
    // values differ by more than 0.5 and few are reported.
    const r = await runTool(["subscribe", peer.url, "ns=1;s=Dynamic.Sine", "--interval", "100",
        "--deadband", "abs:0.5", "--duration", "3000"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const values = parseLines(r.stdout).map(([, v]) => Number(v));
    assert.ok(values.length >= 2 && values.length <= 12, `reported: ${values}`);
    for (let i = 1; i < values.length; i++) {
        assert.ok(Math.abs(values[i] - values[i - 1]) > 0.5, `${values[i - 1]} -> ${values[i]}`);
    }
});

test("a percent deadband applies to analog items with an EURange only", async () => {
    const ok = await runTool(["subscribe", peer.url, "ns=1;s=Plant.Area1.Line1.Machine1.Temperature",
        "--deadband", "pct:10", "--duration", "800"]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Machine1\.Temperature 21\.5/);
    const refused = await runTool(["subscribe", peer.url, "ns=1;s=Dynamic.Sine",
        "--deadband", "pct:10", "--duration", "500"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /BadMonitoredItemFilterUnsupported/);
});

test("an unknown node in a subscription reports its status", async () => {
    const r = await runTool(["subscribe", peer.url, "ns=1;s=Dynamic.Counter", "ns=1;s=Nope",
        "--duration", "500"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ns=1;s=Nope BadNodeIdUnknown$/m);
    assert.match(r.stdout, /^ns=1;s=Dynamic\.Counter \d+$/m);
});

test(`a subscription on ${N_LOAD} items delivers every change`, async () => {
    const ids = Array.from({ length: N_LOAD }, (_, i) => `ns=1;s=Load.${i}`);
    const t0 = Date.now();
    const r = await runTool(["subscribe", peer.url, ...ids, "--interval", "100", "--sampling", "0",
        "--queue-size", "100", "--duration", "4000", "--stats"], { timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    const byItem = new Map();
    for (const [node, v] of parseLines(r.stdout)) {
        const i = Number(node.slice("ns=1;s=Load.".length));
        if (!byItem.has(i)) {
            byItem.set(i, []);
        }
        byItem.get(i).push(Number(v));
    }
    assert.equal(byItem.size, N_LOAD, "every item reported");
    let total = 0;
    for (const [i, values] of byItem) {
        total += values.length;
        // The peer's value is ticks + i: each change is +1, and none may be missing.
        for (let k = 1; k < values.length; k++) {
            assert.equal(values[k], values[k - 1] + 1, `item ${i}: ${values}`);
        }
        assert.ok(values.length >= 10, `item ${i} saw ${values.length} values`);
    }
    assert.match(r.stderr, /lost=0/);
    // For the report: values per second the tool received.
    process.stderr.write(`# ${total} values from ${N_LOAD} items in ${Date.now() - t0} ms\n`);
});
