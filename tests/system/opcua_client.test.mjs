// The fieldplane-opcua tool against the node-opcua test peer, security None, anonymous:
// endpoints, read of every built-in type (scalars and arrays), browse, write, call, and the
// errors a user sees (unknown node, not writable, nothing listening).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startPeer, runTool } from "../peers/opcua/harness.mjs";

let peer;
before(async () => {
    peer = await startPeer(["--items", "250"]);
});
after(async () => {
    if (peer) {
        await peer.stop();
    }
});

async function tool(...args) {
    const r = await runTool(args);
    assert.equal(r.signal, null, `tool killed by ${r.signal}: ${r.stderr}`);
    return r;
}

async function readOne(nodeId) {
    const r = await tool("read", peer.url, nodeId);
    assert.equal(r.code, 0, `read ${nodeId}: ${r.stdout} ${r.stderr}`);
    return r.stdout.trimEnd();
}

test("endpoints lists every policy and mode", async () => {
    const r = await tool("endpoints", peer.url);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    for (const p of ["None None", "Basic256Sha256 Sign", "Basic256Sha256 SignAndEncrypt",
        "Aes128_Sha256_RsaOaep SignAndEncrypt", "Aes256_Sha256_RsaPss SignAndEncrypt"]) {
        assert.ok(lines.some((l) => l.includes(` ${p} `)), `${p} in\n${r.stdout}`);
    }
    assert.ok(lines.every((l) => l.startsWith(peer.url)));
});

test("endpoints --find-servers lists the server", async () => {
    const r = await tool("endpoints", peer.url, "--find-servers");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^urn:fieldplane:test-peer Server Fieldplane OPC UA test peer opc\.tcp:\/\//m);
});

test("read prints scalars of every built-in type", async () => {
    const expected = {
        Boolean: "true",
        SByte: "-100",
        Byte: "200",
        Int16: "-30000",
        UInt16: "60000",
        Int32: "-123456",
        UInt32: "4000000000",
        Int64: "-2",
        UInt64: "4294967296",
        Float: "1.5",
        Double: "3.14159",
        String: "hello fieldplane",
        DateTime: "2024-01-02T03:04:05.678Z",
        Guid: "72962b91-fa75-4ae6-8d28-b404dc7daf63",
        ByteString: "0xdeadbeef",
        XmlElement: "<a>b</a>",
        NodeId: "ns=1;s=Scalar.Int32",
        ExpandedNodeId: "i=2258",
        StatusCode: "BadNodeIdUnknown",
        QualifiedName: "1:Name",
        LocalizedText: "Hello",
    };
    const names = Object.keys(expected);
    const r = await tool("read", peer.url, ...names.map((n) => `ns=1;s=Scalar.${n}`));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, names.length);
    names.forEach((n, i) => assert.equal(lines[i], expected[n], n));
});

test("read prints arrays comma separated", async () => {
    const expected = {
        Boolean: "true,false,true",
        Int32: "-2147483648,0,2147483647",
        Int64: "1,-1",
        Double: "1.25,-0.5,1e+100",
        String: "a,b,c,",
        ByteString: "0x616263,0x000102",
        LocalizedText: "Hallo,x",
        StatusCode: "Good,UncertainLastUsableValue",
    };
    for (const [n, v] of Object.entries(expected)) {
        assert.equal(await readOne(`ns=1;s=Array.${n}`), v, n);
    }
    assert.equal(await readOne("ns=1;s=Array.Matrix"), "1,2,3,4,5,6");
});

test("read of an analog item and its EURange structure", async () => {
    assert.equal(await readOne("ns=1;s=Plant.Area1.Line1.Machine1.Temperature"), "21.5");
    assert.equal(await readOne("ns=1;s=Plant.Area1.Line1.Machine1.Temperature-EURange"),
        "Range{Low=-40,High=200}");
});

test("read of an unknown node prints its status name and fails", async () => {
    const r = await tool("read", peer.url, "ns=1;s=Scalar.Int32", "ns=1;s=DoesNotExist");
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), ["-123456", "BadNodeIdUnknown"]);
});

test("node ids with a namespace URI are resolved through the NamespaceArray", async () => {
    assert.equal(await readOne("nsu=urn:fieldplane:test-peer;s=Scalar.Int32"), "-123456");
    const r = await tool("read", peer.url, "nsu=urn:not-there;s=Scalar.Int32");
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), "BadNodeIdUnknown");
});

test("values of Dynamic.Counter move", async () => {
    const a = Number(await readOne("ns=1;s=Dynamic.Counter"));
    await new Promise((r) => setTimeout(r, 400));
    const b = Number(await readOne("ns=1;s=Dynamic.Counter"));
    assert.ok(b > a, `${a} -> ${b}`);
});

test("browse lists the hierarchy", async () => {
    const r = await tool("browse", peer.url);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ns=1;s=Plant 1:Plant Object$/m);
    assert.match(r.stdout, /^i=2253 Server Object$/m);
    const m = await tool("browse", peer.url, "ns=1;s=Plant.Area1.Line1");
    assert.match(m.stdout, /^ns=1;s=Plant\.Area1\.Line1\.Machine1 1:Machine1 Object$/m);
    const t = await tool("browse", peer.url, "ns=1;s=Plant.Area1.Line1.Machine1.Temperature");
    assert.match(t.stdout, / EURange Variable$/m);
});

test("browse follows continuation points (more than 100 references)", async () => {
    // The tool asks for 100 references per node, so 250 children take BrowseNext twice.
    const r = await tool("browse", peer.url, "ns=1;s=Load");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 250);
    assert.equal(new Set(lines).size, 250);
    assert.match(r.stdout, /^ns=1;s=Load\.249 1:V249 Variable$/m);
});

test("browse --count stops early and releases the continuation point", async () => {
    const r = await tool("browse", peer.url, "ns=1;s=Load", "--count", "150", "-v");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, 150);
    // The release is a BrowseNext the server answers without error; then the session ends.
    assert.doesNotMatch(r.stderr, /level=error/);
});

test("write then read back, and a read-only variable refuses", async () => {
    let r = await tool("write", peer.url, "ns=1;s=Writable.Double", "2.75");
    assert.equal(r.stdout.trim(), "Good", r.stderr);
    assert.equal(await readOne("ns=1;s=Writable.Double"), "2.75");
    r = await tool("write", peer.url, "ns=1;s=Writable.String", "written by fieldplane");
    assert.equal(r.stdout.trim(), "Good");
    assert.equal(await readOne("ns=1;s=Writable.String"), "written by fieldplane");
    r = await tool("write", peer.url, "ns=1;s=Writable.Int32Array", "7,8,9,10");
    assert.equal(r.stdout.trim(), "Good");
    assert.equal(await readOne("ns=1;s=Writable.Int32Array"), "7,8,9,10");
    r = await tool("write", peer.url, "ns=1;s=Scalar.ReadOnly", "3");
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), "BadNotWritable");
    r = await tool("write", peer.url, "ns=1;s=Writable.Int32", "not-a-number");
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), "BadTypeMismatch");
});

test("a message larger than a chunk goes both ways", async () => {
    const big = "0123456789".repeat(12000);
    let r = await tool("write", peer.url, "ns=1;s=Writable.String", big);
    assert.equal(r.stdout.trim(), "Good");
    assert.equal(await readOne("ns=1;s=Writable.String"), big);
});

test("call a method with arguments, and a failing one", async () => {
    let r = await tool("call", peer.url, "ns=1;s=Methods", "ns=1;s=Methods.Add", "2", "40");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "42");
    r = await tool("call", peer.url, "ns=1;s=Methods", "ns=1;s=Methods.Concat", "field", "plane");
    assert.equal(r.stdout.trim(), "fieldplane");
    r = await tool("call", peer.url, "ns=1;s=Methods", "ns=1;s=Methods.Fail");
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), "BadInvalidArgument");
});

test("30 sessions on one event loop connect and read concurrently", async () => {
    const r = await tool("read", peer.url, "ns=1;s=Scalar.Int32", "--sessions", "30");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 30);
    assert.equal(new Set(lines.map((l) => l.split(" ")[0])).size, 30, "one line per session");
    assert.ok(lines.every((l) => l.endsWith(" -123456")));
    assert.match(r.stderr, /connected=30 read=30/);
});

test("nothing listening gives BadNotConnected", async () => {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    const port = srv.address().port;
    await new Promise((r) => srv.close(r));
    const r = await tool("read", `opc.tcp://127.0.0.1:${port}/x`, "i=2258");
    assert.equal(r.code, 3);
    assert.equal(r.stdout.trim(), "BadNotConnected");
});
