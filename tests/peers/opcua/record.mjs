// Record real server responses of the test peer as seeds for the fuzz_opcua_client harness.
//
// usage: FP_BUILD_DIR=build/dev node tests/peers/opcua/record.mjs OUT_DIR
//
// Starts the peer, puts a TCP proxy on a loopback port chosen at run time between it and the
// fieldplane-opcua tool (security None), runs a few tool commands through the proxy and keeps
// every service response body the server sent after ActivateSession. Each seed file is a list
// of records [flags u8 = 0][length u16 LE][body] in the harness's input format: the responses
// a session needs before its first Publish (CreateSubscription, Read, CreateMonitoredItems of
// three items, as the harness monitors three), followed by a few PublishResponses; and the Read, Browse and Call responses on their own.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { startPeer, runTool, stopProc } from "./harness.mjs";

const outDir = process.argv[2];
if (!outDir) {
    console.error("usage: node record.mjs OUT_DIR");
    process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

// Encoding ids of the responses that belong to the scripted part of the harness or to the
// channel, which the seeds leave out.
const SKIP = new Set([
    428 /* FindServers */, 431 /* GetEndpoints */, 464 /* CreateSession */,
    470 /* ActivateSession */, 476 /* CloseSession */, 449 /* OpenSecureChannel */,
]);
const PUBLISH = 829;

function typeOf(body) {
    if (body.length >= 4 && body[0] === 1 && body[1] === 0) return body.readUInt16LE(2);
    if (body.length >= 7 && body[0] === 2 && body.readUInt16LE(1) === 0) return body.readUInt32LE(3);
    return 0;
}

// A proxy that collects the reassembled MSG bodies the server sends, per connection.
function startProxy(target) {
    const sessions = [];
    const server = net.createServer((client) => {
        const upstream = net.connect(target.port, "127.0.0.1");
        const bodies = [];
        sessions.push(bodies);
        let rx = Buffer.alloc(0);
        let partial = [];
        client.on("data", (d) => upstream.write(d));
        upstream.on("data", (d) => {
            client.write(d);
            rx = Buffer.concat([rx, d]);
            while (rx.length >= 8 && rx.length >= rx.readUInt32LE(4)) {
                const size = rx.readUInt32LE(4);
                const chunk = rx.subarray(0, size);
                rx = rx.subarray(size);
                if (chunk.toString("latin1", 0, 3) !== "MSG") continue;
                partial.push(chunk.subarray(24));
                const kind = String.fromCharCode(chunk[3]);
                if (kind === "A") partial = [];
                if (kind === "F") {
                    bodies.push(Buffer.concat(partial));
                    partial = [];
                }
            }
        });
        const end = () => {
            client.destroy();
            upstream.destroy();
        };
        client.on("close", end);
        upstream.on("close", end);
        client.on("error", end);
        upstream.on("error", end);
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => resolve({ server, sessions, port: server.address().port }));
    });
}

function records(bodies) {
    const parts = [];
    for (const b of bodies) {
        if (b.length > 0xffff) continue;
        const h = Buffer.alloc(3);
        h.writeUInt16LE(b.length, 1);
        parts.push(h, b);
    }
    return Buffer.concat(parts);
}

const peer = await startPeer(["--security-policies", "None", "--security-modes", "None",
    "--event-interval", "200"]);
const proxy = await startProxy(peer);
const url = peer.url.replace(`:${peer.port}`, `:${proxy.port}`);
try {
    const runs = [
        ["subscribe", url, "ns=1;s=Dynamic.Counter", "ns=1;s=Dynamic.Sine", "ns=1;s=Dynamic.Random",
            "--interval", "100",
            "--sampling", "50", "--queue-size", "5", "--duration", "2500"],
        ["subscribe", url, "ns=1;s=Scalar.String", "ns=1;s=Array.Matrix",
            "ns=1;s=Plant.Area1.Line1.Machine1.Temperature", "--duration", "1200"],
        ["subscribe", url, "i=2253", "i=2253", "i=2253", "--event-fields",
            "EventType,Message,Severity,Time", "--duration", "2500"],
        ["read", url, "ns=1;s=Scalar.Double", "ns=1;s=Scalar.LocalizedText", "ns=1;s=Array.Int32",
            "ns=1;s=Array.Matrix", "ns=1;s=Plant.Area1.Line1.Machine1.Temperature",
            "ns=1;s=Scalar.ExtensionObject", "ns=1;s=NoSuchNode"],
        ["browse", url, "ns=1;s=Plant"],
        ["call", url, "ns=1;s=Methods", "ns=1;s=Methods.Add", "2", "3"],
    ];
    for (const args of runs) {
        const r = await runTool(args, { timeoutMs: 20000 });
        if (r.code !== 0) console.error(`${args[0]}: exit ${r.code}: ${r.stderr.trim()}`);
    }
} finally {
    proxy.server.close();
    await stopProc(peer.proc);
}

let n = 0;
const write = (name, bodies) => {
    if (bodies.length === 0) return;
    fs.writeFileSync(path.join(outDir, name), records(bodies));
    n++;
};
proxy.sessions.forEach((all, s) => {
    const bodies = all.filter((b) => !SKIP.has(typeOf(b)));
    const first = bodies.findIndex((b) => typeOf(b) === PUBLISH);
    if (first < 0) {
        write(`peer-${s}-responses`, bodies);
        return;
    }
    const setup = bodies.slice(0, first);
    const publishes = bodies.slice(first).filter((b) => typeOf(b) === PUBLISH);
    for (let i = 0; i < publishes.length && i < 12; i += 2)
        write(`peer-${s}-publish-${i}`, [...setup, ...publishes.slice(i, i + 3)]);
});
console.log(`${n} seeds in ${outDir}`);
