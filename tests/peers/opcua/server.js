#!/usr/bin/env node
// The OPC UA test peer of Fieldplane: a node-opcua server with a known address space that the
// system tests and benchmarks of libfieldplane-opcua drive on a loopback port chosen at run time.
//
// Once it accepts connections it prints one line `LISTENING opc.tcp://127.0.0.1:PORT/fieldplane`
// on stdout, so a test reads the first line and knows where to connect. Everything else goes to
// stderr. SIGINT/SIGTERM shut it down cleanly. The address space (all in ns=1, string node ids)
// is described in docs/opcua-client.md and in --help below.
"use strict";

// stdout carries only the LISTENING line: node-opcua's own messages go to stderr.
console.log = console.error;
console.info = console.error;
console.warn = console.error;

const fs = require("fs");
const net = require("net");
const path = require("path");
const os = require("os");
const {
    OPCUAServer,
    OPCUACertificateManager,
    Variant,
    DataType,
    VariantArrayType,
    StatusCodes,
    SecurityPolicy,
    MessageSecurityMode,
    LocalizedText,
    QualifiedName,
    NodeId,
    ExpandedNodeId,
    standardUnits,
    nodesets,
} = require("node-opcua");

const USAGE = `usage: node server.js [options]
  --port N               TCP port on 127.0.0.1 (0 = pick a free one; default 0)
  --host H               address to listen on and advertise (default 127.0.0.1)
  --pki DIR              PKI folder of the server (default: a fresh temporary folder)
  --security-policies L  comma list of None,Basic256Sha256,Aes128_Sha256_RsaOaep,
                         Aes256_Sha256_RsaPss (default: all four)
  --security-modes L     comma list of None,Sign,SignAndEncrypt (default: all three)
  --no-anonymous         refuse anonymous users
  --user NAME:PASSWORD   a valid user (repeatable; default user1:password1)
  --auto-accept          trust every client and user certificate (default: only those in
                         PKI/trusted resp. PKI/user/trusted)
  --items N              generated variables ns=1;s=Load.<i> (i = 0..N-1) in the Load folder
                         (default 0)
  --items-interval MS    how often the generated variables change (default 100)
  --items-push           the peer writes each generated variable on every change (every
                         change reaches a subscriber with sampling interval 0); default: the
                         value follows the clock and is computed when sampled
  --event-interval MS    period of the custom event FieldplaneTestEventType (default 500)
  --token-lifetime MS    secure channel token lifetime the server grants (default 600000)
  --max-nodes-per-read N OperationLimits.MaxNodesPerRead etc. (default 0 = no limit)
`;

function parseArgs(argv) {
    const opt = {
        port: 0,
        host: "127.0.0.1",
        pki: null,
        policies: ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"],
        modes: ["None", "Sign", "SignAndEncrypt"],
        anonymous: true,
        users: [],
        autoAccept: false,
        items: 0,
        itemsPush: false,
        itemsInterval: 100,
        eventInterval: 500,
        tokenLifetime: 600000,
        maxNodesPerOp: 0,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) {
                throw new Error(`${a} needs a value`);
            }
            return argv[++i];
        };
        const nextInt = () => {
            const v = Number.parseInt(next(), 10);
            if (!Number.isFinite(v) || v < 0) {
                throw new Error(`${a} needs a non-negative integer`);
            }
            return v;
        };
        switch (a) {
        case "--port": opt.port = nextInt(); break;
        case "--host": opt.host = next(); break;
        case "--pki": opt.pki = next(); break;
        case "--security-policies": opt.policies = next().split(",").filter(Boolean); break;
        case "--security-modes": opt.modes = next().split(",").filter(Boolean); break;
        case "--no-anonymous": opt.anonymous = false; break;
        case "--user": {
            const v = next();
            const colon = v.indexOf(":");
            if (colon <= 0) {
                throw new Error("--user needs NAME:PASSWORD");
            }
            opt.users.push({ name: v.slice(0, colon), password: v.slice(colon + 1) });
            break;
        }
        case "--auto-accept": opt.autoAccept = true; break;
        case "--items": opt.items = nextInt(); break;
        case "--items-push": opt.itemsPush = true; break;
        case "--items-interval": opt.itemsInterval = Math.max(10, nextInt()); break;
        case "--event-interval": opt.eventInterval = Math.max(10, nextInt()); break;
        case "--token-lifetime": opt.tokenLifetime = Math.max(1000, nextInt()); break;
        case "--max-nodes-per-read": opt.maxNodesPerOp = nextInt(); break;
        case "-h":
        case "--help": process.stdout.write(USAGE); process.exit(0); break;
        default: throw new Error(`unknown option ${a}`);
        }
    }
    if (opt.users.length === 0) {
        opt.users.push({ name: "user1", password: "password1" });
    }
    for (const p of opt.policies) {
        if (!(p in SecurityPolicy)) {
            throw new Error(`unknown security policy ${p}`);
        }
    }
    for (const m of opt.modes) {
        if (!(m in MessageSecurityMode) || typeof MessageSecurityMode[m] !== "number") {
            throw new Error(`unknown security mode ${m}`);
        }
    }
    return opt;
}

// A free port on the host: node-opcua computes its endpoint URLs from the configured port, so
// the port is chosen before the server starts (the short race is acceptable for tests).
function freePort(host) {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen({ port: 0, host }, () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

// One scalar and one array sample value for each built-in type exposed by the peer.
function builtinSamples() {
    return [
        ["Boolean", DataType.Boolean, true, [true, false, true]],
        ["SByte", DataType.SByte, -100, [-128, 0, 127]],
        ["Byte", DataType.Byte, 200, [0, 128, 255]],
        ["Int16", DataType.Int16, -30000, [-32768, 0, 32767]],
        ["UInt16", DataType.UInt16, 60000, [0, 1, 65535]],
        ["Int32", DataType.Int32, -123456, [-2147483648, 0, 2147483647]],
        ["UInt32", DataType.UInt32, 4000000000, [0, 1, 4294967295]],
        // node-opcua holds 64-bit integers as [high, low] 32-bit words.
        ["Int64", DataType.Int64, [0xffffffff, 0xfffffffe], [[0, 1], [0xffffffff, 0xffffffff]]],
        ["UInt64", DataType.UInt64, [1, 0], [[0, 0], [0, 42]]],
        ["Float", DataType.Float, 1.5, [0.5, -2.25, 3]],
        ["Double", DataType.Double, 3.14159, [1.25, -0.5, 1e100]],
        ["String", DataType.String, "hello fieldplane", ["a", "b,c", ""]],
        ["DateTime", DataType.DateTime, new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
            [new Date(Date.UTC(2000, 0, 1)), new Date(Date.UTC(2030, 11, 31, 23, 59, 59))]],
        ["Guid", DataType.Guid, "72962B91-FA75-4AE6-8D28-B404DC7DAF63",
            ["00000000-0000-0000-0000-000000000000", "72962B91-FA75-4AE6-8D28-B404DC7DAF63"]],
        ["ByteString", DataType.ByteString, Buffer.from([0xde, 0xad, 0xbe, 0xef]),
            [Buffer.from("abc"), Buffer.from([0, 1, 2])]],
        ["XmlElement", DataType.XmlElement, "<a>b</a>", ["<x/>", "<y/>"]],
        ["NodeId", DataType.NodeId, NodeId.resolveNodeId("ns=1;s=Scalar.Int32"),
            [NodeId.resolveNodeId("i=2258"), NodeId.resolveNodeId("ns=1;s=Tag")]],
        ["ExpandedNodeId", DataType.ExpandedNodeId,
            new ExpandedNodeId(NodeId.NodeIdType.NUMERIC, 2258, 0, "http://opcfoundation.org/UA/", 0),
            [new ExpandedNodeId(NodeId.NodeIdType.NUMERIC, 85, 0)]],
        ["StatusCode", DataType.StatusCode, StatusCodes.BadNodeIdUnknown,
            [StatusCodes.Good, StatusCodes.UncertainLastUsableValue]],
        ["QualifiedName", DataType.QualifiedName, new QualifiedName({ namespaceIndex: 1, name: "Name" }),
            [new QualifiedName({ namespaceIndex: 0, name: "A" })]],
        ["LocalizedText", DataType.LocalizedText, new LocalizedText({ locale: "en", text: "Hello" }),
            [new LocalizedText({ locale: "de", text: "Hallo" }), new LocalizedText({ text: "x" })]],
    ];
}

function buildAddressSpace(server, opt, timers) {
    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.getOwnNamespace();
    const objects = addressSpace.rootFolder.objects;

    // Plant > Area1 > Line1 > Machine1 hierarchy with typical instruments.
    const plant = ns.addFolder(objects, { browseName: "Plant", nodeId: "s=Plant" });
    const area = ns.addObject({ organizedBy: plant, browseName: "Area1", nodeId: "s=Plant.Area1" });
    const line = ns.addObject({ componentOf: area, browseName: "Line1", nodeId: "s=Plant.Area1.Line1" });
    const machine = ns.addObject({
        componentOf: line,
        browseName: "Machine1",
        nodeId: "s=Plant.Area1.Line1.Machine1",
    });
    ns.addAnalogDataItem({
        componentOf: machine,
        browseName: "Temperature",
        nodeId: "s=Plant.Area1.Line1.Machine1.Temperature",
        definition: "temperature of the spindle",
        valuePrecision: 0.1,
        engineeringUnitsRange: { low: -40, high: 200 },
        instrumentRange: { low: -50, high: 250 },
        engineeringUnits: standardUnits.degree_celsius,
        dataType: "Double",
        value: new Variant({ dataType: DataType.Double, value: 21.5 }),
    });
    ns.addVariable({
        componentOf: machine,
        browseName: "SerialNumber",
        nodeId: "s=Plant.Area1.Line1.Machine1.SerialNumber",
        dataType: "String",
        value: new Variant({ dataType: DataType.String, value: "M-0001" }),
    });

    // Scalars and arrays of every built-in type, read-only and writable.
    const scalars = ns.addFolder(objects, { browseName: "Scalars", nodeId: "s=Scalars" });
    const arrays = ns.addFolder(objects, { browseName: "Arrays", nodeId: "s=Arrays" });
    const writable = ns.addFolder(objects, { browseName: "Writable", nodeId: "s=Writable" });
    for (const [name, dataType, scalar, array] of builtinSamples()) {
        ns.addVariable({
            organizedBy: scalars,
            browseName: name,
            nodeId: `s=Scalar.${name}`,
            dataType: name,
            value: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: scalar }),
        });
        ns.addVariable({
            organizedBy: arrays,
            browseName: name,
            nodeId: `s=Array.${name}`,
            dataType: name,
            valueRank: 1,
            arrayDimensions: [array.length],
            value: new Variant({ dataType, arrayType: VariantArrayType.Array, value: array }),
        });
        ns.addVariable({
            organizedBy: writable,
            browseName: name,
            nodeId: `s=Writable.${name}`,
            dataType: name,
            accessLevel: "CurrentRead | CurrentWrite",
            userAccessLevel: "CurrentRead | CurrentWrite",
            value: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: scalar }),
        });
    }
    ns.addVariable({
        organizedBy: writable,
        browseName: "Int32Array",
        nodeId: "s=Writable.Int32Array",
        dataType: "Int32",
        valueRank: 1,
        accessLevel: "CurrentRead | CurrentWrite",
        userAccessLevel: "CurrentRead | CurrentWrite",
        value: new Variant({ dataType: DataType.Int32, arrayType: VariantArrayType.Array, value: [1, 2, 3] }),
    });
    // A 2x3 matrix, for array dimensions.
    ns.addVariable({
        organizedBy: arrays,
        browseName: "Matrix",
        nodeId: "s=Array.Matrix",
        dataType: "Int32",
        valueRank: 2,
        arrayDimensions: [2, 3],
        value: new Variant({
            dataType: DataType.Int32,
            arrayType: VariantArrayType.Matrix,
            dimensions: [2, 3],
            value: [1, 2, 3, 4, 5, 6],
        }),
    });
    // A read-only variable that refuses writes, for error paths.
    ns.addVariable({
        organizedBy: scalars,
        browseName: "ReadOnly",
        nodeId: "s=Scalar.ReadOnly",
        dataType: "Int32",
        accessLevel: "CurrentRead",
        userAccessLevel: "CurrentRead",
        value: new Variant({ dataType: DataType.Int32, value: 7 }),
    });

    // Variables that change every 100 ms.
    const dynamic = ns.addFolder(objects, { browseName: "Dynamic", nodeId: "s=Dynamic" });
    const counter = ns.addVariable({
        organizedBy: dynamic,
        browseName: "Counter",
        nodeId: "s=Dynamic.Counter",
        dataType: "UInt32",
        value: new Variant({ dataType: DataType.UInt32, value: 0 }),
    });
    const sine = ns.addVariable({
        organizedBy: dynamic,
        browseName: "Sine",
        nodeId: "s=Dynamic.Sine",
        dataType: "Double",
        value: new Variant({ dataType: DataType.Double, value: 0 }),
    });
    const random = ns.addVariable({
        organizedBy: dynamic,
        browseName: "Random",
        nodeId: "s=Dynamic.Random",
        dataType: "Double",
        value: new Variant({ dataType: DataType.Double, value: 0 }),
    });
    let tick = 0;
    timers.push(setInterval(() => {
        tick++;
        counter.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: tick >>> 0 }));
        sine.setValueFromSource(new Variant({ dataType: DataType.Double, value: Math.sin(tick / 10) }));
        random.setValueFromSource(new Variant({ dataType: DataType.Double, value: Math.random() }));
    }, 100));

    // Methods on an object: Add(Int32 a, Int32 b) -> Int32 sum; Concat(String, String) -> String;
    // Fail() -> BadInvalidArgument always.
    const methods = ns.addObject({ organizedBy: objects, browseName: "Methods", nodeId: "s=Methods" });
    const add = ns.addMethod(methods, {
        browseName: "Add",
        nodeId: "s=Methods.Add",
        inputArguments: [
            { name: "a", description: { text: "first addend" }, dataType: DataType.Int32 },
            { name: "b", description: { text: "second addend" }, dataType: DataType.Int32 },
        ],
        outputArguments: [{ name: "sum", description: { text: "a + b" }, dataType: DataType.Int32 }],
    });
    add.bindMethod((inputArguments, context, callback) => {
        const sum = (inputArguments[0].value + inputArguments[1].value) | 0;
        callback(null, {
            statusCode: StatusCodes.Good,
            outputArguments: [new Variant({ dataType: DataType.Int32, value: sum })],
        });
    });
    const concat = ns.addMethod(methods, {
        browseName: "Concat",
        nodeId: "s=Methods.Concat",
        inputArguments: [
            { name: "a", dataType: DataType.String },
            { name: "b", dataType: DataType.String },
        ],
        outputArguments: [{ name: "ab", dataType: DataType.String }],
    });
    concat.bindMethod((inputArguments, context, callback) => {
        callback(null, {
            statusCode: StatusCodes.Good,
            outputArguments: [new Variant({
                dataType: DataType.String,
                value: String(inputArguments[0].value) + String(inputArguments[1].value),
            })],
        });
    });
    const fail = ns.addMethod(methods, {
        browseName: "Fail",
        nodeId: "s=Methods.Fail",
        inputArguments: [],
        outputArguments: [],
    });
    fail.bindMethod((inputArguments, context, callback) => {
        callback(null, { statusCode: StatusCodes.BadInvalidArgument });
    });

    // A custom event type, raised on the Server object periodically.
    const eventType = ns.addEventType({
        browseName: "FieldplaneTestEventType",
        nodeId: "s=FieldplaneTestEventType",
        subtypeOf: "BaseEventType",
    });
    ns.addVariable({
        propertyOf: eventType,
        browseName: "Sequence",
        nodeId: "s=FieldplaneTestEventType.Sequence",
        dataType: "UInt32",
        modellingRule: "Mandatory",
    });
    let eventSeq = 0;
    timers.push(setInterval(() => {
        eventSeq++;
        addressSpace.rootFolder.objects.server.raiseEvent(eventType, {
            message: { dataType: DataType.LocalizedText, value: { text: `test event ${eventSeq}` } },
            severity: { dataType: DataType.UInt16, value: 100 + (eventSeq % 900) },
            sequence: { dataType: DataType.UInt32, value: eventSeq },
        });
    }, opt.eventInterval));

    // Load folder: N Double variables whose value follows the clock, so that every sampling
    // interval sees a new value without the peer touching N nodes itself.
    if (opt.items > 0) {
        const load = ns.addFolder(objects, { browseName: "Load", nodeId: "s=Load" });
        const interval = opt.itemsInterval;
        const pushed = [];
        for (let i = 0; i < opt.items; i++) {
            const v = ns.addVariable({
                organizedBy: load,
                browseName: `V${i}`,
                nodeId: `s=Load.${i}`,
                dataType: "Double",
                minimumSamplingInterval: opt.itemsPush ? 0 : Math.min(interval, 100),
                value: opt.itemsPush
                    ? new Variant({ dataType: DataType.Double, value: i })
                    : {
                        get: () => new Variant({
                            dataType: DataType.Double,
                            value: Math.floor(Date.now() / interval) + i,
                        }),
                    },
            });
            pushed.push(v);
        }
        if (opt.itemsPush) {
            // Value of item i after k ticks: k + i, so a subscriber can check it saw each one.
            let k = 0;
            timers.push(setInterval(() => {
                k++;
                for (let i = 0; i < pushed.length; i++) {
                    pushed[i].setValueFromSource(new Variant({ dataType: DataType.Double, value: k + i }));
                }
            }, interval));
        }
    }
}

async function main() {
    let opt;
    try {
        opt = parseArgs(process.argv.slice(2));
    } catch (err) {
        process.stderr.write(`server.js: ${err.message}\n${USAGE}`);
        process.exit(2);
    }
    const pki = opt.pki || fs.mkdtempSync(path.join(os.tmpdir(), "fp-opcua-peer-"));
    fs.mkdirSync(pki, { recursive: true });
    const port = opt.port || (await freePort(opt.host));

    const serverCertificateManager = new OPCUACertificateManager({
        rootFolder: pki,
        automaticallyAcceptUnknownCertificate: opt.autoAccept,
    });
    const userCertificateManager = new OPCUACertificateManager({
        rootFolder: path.join(pki, "user"),
        automaticallyAcceptUnknownCertificate: opt.autoAccept,
    });
    await serverCertificateManager.initialize();
    await userCertificateManager.initialize();

    const users = new Map(opt.users.map((u) => [u.name, u.password]));
    const limits = opt.maxNodesPerOp > 0 ? {
        maxNodesPerRead: opt.maxNodesPerOp,
        maxNodesPerWrite: opt.maxNodesPerOp,
        maxNodesPerBrowse: opt.maxNodesPerOp,
        maxNodesPerMethodCall: opt.maxNodesPerOp,
        maxNodesPerRegisterNodes: opt.maxNodesPerOp,
        maxNodesPerTranslateBrowsePathsToNodeIds: opt.maxNodesPerOp,
        maxMonitoredItemsPerCall: opt.maxNodesPerOp,
    } : {};

    const server = new OPCUAServer({
        port,
        host: opt.host,
        hostname: opt.host,
        resourcePath: "/fieldplane",
        nodeset_filename: [nodesets.standard],
        securityPolicies: opt.policies.map((p) => SecurityPolicy[p]),
        securityModes: opt.modes.map((m) => MessageSecurityMode[m]),
        allowAnonymous: opt.anonymous,
        userManager: { isValidUser: (name, password) => users.get(name) === password },
        serverCertificateManager,
        userCertificateManager,
        defaultSecureTokenLifetime: opt.tokenLifetime,
        maxConnectionsPerEndpoint: 100,
        serverCapabilities: {
            maxSessions: 100,
            maxSubscriptionsPerSession: 100,
            maxMonitoredItems: 1000000,
            maxMonitoredItemsPerSubscription: 1000000,
            operationLimits: limits,
        },
        buildInfo: { productName: "Fieldplane OPC UA test peer", softwareVersion: "1.0.0" },
        serverInfo: {
            applicationUri: `urn:fieldplane:test-peer`,
            productUri: "urn:fieldplane:test-peer",
            applicationName: { text: "Fieldplane OPC UA test peer" },
        },
    });
    await server.initialize();
    const timers = [];
    buildAddressSpace(server, opt, timers);
    await server.start();

    let stopping = false;
    const stop = async () => {
        if (stopping) {
            return;
        }
        stopping = true;
        for (const t of timers) {
            clearInterval(t);
        }
        try {
            await server.shutdown(0);
        } finally {
            process.exit(0);
        }
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);

    const url = server.getEndpointUrl();
    process.stderr.write(`peer: pki ${pki}, policies ${opt.policies.join(",")}, ` +
        `modes ${opt.modes.join(",")}, items ${opt.items}\n`);
    process.stdout.write(`LISTENING ${url}\n`);
}

main().catch((err) => {
    process.stderr.write(`server.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
