#!/usr/bin/env node
// The "do it yourself" alternative of the OPC UA connector benchmark: the smallest script a
// user would write with node-opcua and mqtt.js to get the benchmark's assets onto MQTT.
//
// One session, one subscription at the publishing interval holding every item
// (ns=1;s=Load.<i>, i = asset * points + point), and one MQTT 5 message per asset per
// publishing interval: the values that changed in one PublishResponse are collected per asset
// and sent together once node-opcua has handed all of them over (setImmediate runs after the
// response's notifications are processed). The payload has the connector's shape,
// {"v<i>": {"SourceTimestamp": "...", "Value": n}, ...}, to topic PREFIX/asset-<a>, QoS 1, so
// the same counting subscriber reads all three alternatives. Nothing is tuned: mqtt.js's
// defaults (in-memory queue while the broker is away) are what a user gets.
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import {
    OPCUAClient,
    ClientSubscription,
    ClientMonitoredItemGroup,
    AttributeIds,
    TimestampsToReturn,
    MessageSecurityMode,
    SecurityPolicy,
} from "node-opcua";

const USAGE = `usage: node diy.mjs --opcua URL --broker mqtt://HOST:PORT [options]
  --assets N        assets (default 125)
  --points N        data points per asset (default 50)
  --interval MS     publishing interval (default 500)
  --sampling MS     sampling interval (default 500)
  --queue-size N    monitored item queue size (default 1)
  --topic PREFIX    topic prefix (default fpbench)`;

function fail(msg) {
    process.stderr.write(`diy.mjs: ${msg}\n${USAGE}\n`);
    process.exit(2);
}

let args;
try {
    args = parseArgs({
        options: {
            opcua: { type: "string" },
            broker: { type: "string" },
            assets: { type: "string", default: "125" },
            points: { type: "string", default: "50" },
            interval: { type: "string", default: "500" },
            sampling: { type: "string", default: "500" },
            "queue-size": { type: "string", default: "1" },
            topic: { type: "string", default: "fpbench" },
        },
    }).values;
} catch (err) {
    fail(err.message);
}
const num = (name, min) => {
    const v = Number(args[name]);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, not "${args[name]}"`);
    return v;
};
if (!args.opcua) fail("--opcua is required");
if (!args.broker) fail("--broker is required");
const assets = num("assets", 1);
const points = num("points", 1);
const interval = num("interval", 0);
const sampling = num("sampling", 0);
const queueSize = num("queue-size", 1);

const broker = mqtt.connect(args.broker, { protocolVersion: 5, clientId: `fpbench-diy-${process.pid}` });
broker.on("error", (err) => process.stderr.write(`diy.mjs: mqtt: ${err.message}\n`));

const client = OPCUAClient.create({
    applicationName: "fpbench-diy",
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    keepSessionAlive: true,
    connectionStrategy: { maxRetry: -1, initialDelay: 1000, maxDelay: 10000 },
});
await client.connect(args.opcua);
const session = await client.createSession();
const subscription = ClientSubscription.create(session, {
    requestedPublishingInterval: interval,
    requestedLifetimeCount: 120,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 1,
});
await new Promise((resolve, reject) => {
    subscription.once("started", resolve);
    subscription.once("error", reject);
});

const items = [];
for (let a = 0; a < assets; a++) {
    for (let p = 0; p < points; p++) {
        items.push({ nodeId: `ns=1;s=Load.${a * points + p}`, attributeId: AttributeIds.Value });
    }
}
const pending = new Map(); // asset -> { "v<i>": {SourceTimestamp, Value} }
let flushScheduled = false;

function flush() {
    flushScheduled = false;
    for (const [a, body] of pending) {
        broker.publish(`${args.topic}/asset-${a}`, JSON.stringify(body), { qos: 1 });
    }
    pending.clear();
}

const group = ClientMonitoredItemGroup.create(
    subscription,
    items,
    { samplingInterval: sampling, queueSize, discardOldest: true },
    TimestampsToReturn.Both,
);
group.on("changed", (_item, dataValue, index) => {
    const a = Math.floor(index / points);
    let body = pending.get(a);
    if (!body) {
        body = {};
        pending.set(a, body);
    }
    body[`v${index}`] = {
        SourceTimestamp: (dataValue.sourceTimestamp ?? new Date()).toISOString(),
        Value: dataValue.value.value,
    };
    if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
    }
});
await new Promise((resolve) => group.once("initialized", resolve));
process.stderr.write(`diy.mjs: ${items.length} items of ${assets} assets subscribed\n`);

async function stop() {
    try {
        await subscription.terminate();
        await session.close();
        await client.disconnect();
    } finally {
        broker.end(true);
        process.exit(0);
    }
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
