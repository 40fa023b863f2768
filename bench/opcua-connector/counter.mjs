#!/usr/bin/env node
// The counting subscriber of the OPC UA connector benchmark: reads every message under
// PREFIX/# (MQTT 5, QoS 1, a persistent session so that a broker restart loses nothing on
// its side) and checks each data point value against the peer's sequence.
//
// The peer (tests/peers/opcua/server.js --items-push) writes k + i to ns=1;s=Load.<i> at its
// k-th change, so every item goes up by exactly 1 per change: a value more than one above
// the last one seen for that item is a gap of (value - last - 1) lost changes, a value not
// above it a duplicate. Data points are named v<i> by all three alternatives; an item is a
// topic and a data point name.
//
// On SIGUSR1 it prints one JSON line of cumulative counters on stdout:
// {"t": ms since the epoch, "msgs", "values", "gaps", "dups", "produced", "items", "bytes", "bad"}.
// "produced" is how far the items' values advanced (the changes the peer made since each item
// was first seen: delivered + gaps), "items" how many distinct items were seen, "bad" values
// or messages that were not the expected JSON.
import { parseArgs } from "node:util";
import mqtt from "mqtt";

const { values: args } = parseArgs({
    options: {
        broker: { type: "string" },
        topic: { type: "string", default: "fpbench" },
        id: { type: "string", default: `fpbench-counter-${process.pid}` },
    },
});
if (!args.broker) {
    process.stderr.write("usage: node counter.mjs --broker mqtt://HOST:PORT [--topic PREFIX] [--id CLIENT_ID]\n");
    process.exit(2);
}

const last = new Map();
const c = { msgs: 0, values: 0, gaps: 0, dups: 0, produced: 0, bytes: 0, bad: 0 };

const client = mqtt.connect(args.broker, {
    protocolVersion: 5,
    clientId: args.id,
    clean: false,
    reconnectPeriod: 100,
    properties: { sessionExpiryInterval: 3600 },
});
client.on("connect", (ack) => {
    process.stderr.write(`counter: connected (session present ${ack.sessionPresent})\n`);
    if (!ack.sessionPresent) client.subscribe(`${args.topic}/#`, { qos: 1 });
});
client.on("error", (err) => process.stderr.write(`counter: ${err.message}\n`));
client.on("message", (topic, payload) => {
    c.msgs++;
    c.bytes += payload.length;
    let body;
    try {
        body = JSON.parse(payload);
    } catch {
        c.bad++;
        return;
    }
    for (const key in body) {
        const v = body[key]?.Value;
        if (key[0] !== "v" || typeof v !== "number") {
            c.bad++;
            continue;
        }
        c.values++;
        const item = `${topic}/${key}`;
        const prev = last.get(item);
        if (prev === undefined) {
            last.set(item, v);
        } else if (v > prev) {
            c.produced += v - prev;
            c.gaps += v - prev - 1;
            last.set(item, v);
        } else {
            c.dups++;
        }
    }
});

process.on("SIGUSR1", () => {
    process.stdout.write(JSON.stringify({ t: Date.now(), ...c, items: last.size }) + "\n");
});
process.on("SIGTERM", () => {
    client.end(true);
    process.exit(0);
});
