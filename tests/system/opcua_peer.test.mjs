// Keeps the OPC UA test peer honest: start it on a loopback port chosen at run time and check,
// with node-opcua's own client from the same package, that it serves its endpoints, the address
// space the other OPC UA tests rely on, and a username login.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPeer, requirePeer } from "../peers/opcua/harness.mjs";

const { OPCUAClient, OPCUACertificateManager, AttributeIds, MessageSecurityMode, SecurityPolicy,
    StatusCodes, UserTokenType } = requirePeer("node-opcua");

const peer = await startPeer(["--items", "100"]);
// node-opcua's client keeps its certificate here rather than under $HOME.
const clientPki = fs.mkdtempSync(path.join(os.tmpdir(), "fp-opcua-nodeclient-pki-"));
after(async () => {
    await peer.stop();
    fs.rmSync(clientPki, { recursive: true, force: true });
});

function newClient(options) {
    return OPCUAClient.create({
        ...options,
        clientCertificateManager: new OPCUACertificateManager({ rootFolder: clientPki }),
    });
}

async function withSession(identity, fn) {
    const client = newClient({
        endpointMustExist: false,
        connectionStrategy: { maxRetry: 0, initialDelay: 100 },
        securityMode: MessageSecurityMode.None,
        securityPolicy: SecurityPolicy.None,
    });
    await client.connect(peer.url);
    try {
        const session = await client.createSession(identity);
        try {
            return await fn(session, client);
        } finally {
            await session.close();
        }
    } finally {
        await client.disconnect();
    }
}

test("peer prints a loopback endpoint URL", () => {
    assert.match(peer.url, /^opc\.tcp:\/\/127\.0\.0\.1:\d+\/fieldplane$/);
    assert.ok(peer.port > 0);
});

test("peer offers every security policy and mode", async () => {
    const client = newClient({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
    await client.connect(peer.url);
    try {
        const endpoints = await client.getEndpoints();
        const pairs = new Set(endpoints.map((e) => `${e.securityPolicyUri.split("#")[1]}/${MessageSecurityMode[e.securityMode]}`));
        for (const p of ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]) {
            assert.ok(pairs.has(`${p}/Sign`), `${p}/Sign in ${[...pairs]}`);
            assert.ok(pairs.has(`${p}/SignAndEncrypt`), `${p}/SignAndEncrypt`);
        }
        assert.ok(pairs.has("None/None"));
        const tokens = new Set(endpoints.flatMap((e) => e.userIdentityTokens.map((t) => UserTokenType[t.tokenType])));
        for (const t of ["Anonymous", "UserName", "Certificate"]) {
            assert.ok(tokens.has(t), `${t} user tokens`);
        }
    } finally {
        await client.disconnect();
    }
});

test("peer serves its address space anonymously", async () => {
    await withSession(undefined, async (session) => {
        const ids = ["ns=1;s=Scalar.Int32", "ns=1;s=Array.Double", "ns=1;s=Plant.Area1.Line1.Machine1.Temperature",
            "ns=1;s=Load.99", "ns=1;s=Nope"];
        const values = await session.read(ids.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })));
        assert.equal(values[0].value.value, -123456);
        assert.deepEqual(Array.from(values[1].value.value), [1.25, -0.5, 1e100]);
        assert.equal(values[2].value.value, 21.5);
        assert.equal(values[3].statusCode.value, StatusCodes.Good.value);
        assert.equal(values[4].statusCode.value, StatusCodes.BadNodeIdUnknown.value);

        const c1 = (await session.read({ nodeId: "ns=1;s=Dynamic.Counter", attributeId: AttributeIds.Value })).value.value;
        await new Promise((r) => setTimeout(r, 350));
        const c2 = (await session.read({ nodeId: "ns=1;s=Dynamic.Counter", attributeId: AttributeIds.Value })).value.value;
        assert.ok(c2 > c1, `counter moves: ${c1} -> ${c2}`);

        const w = await session.write({
            nodeId: "ns=1;s=Writable.Int32",
            attributeId: AttributeIds.Value,
            value: { value: { dataType: "Int32", value: 4242 } },
        });
        assert.equal(w.value, StatusCodes.Good.value);

        const r = await session.call({
            objectId: "ns=1;s=Methods",
            methodId: "ns=1;s=Methods.Add",
            inputArguments: [{ dataType: "Int32", value: 2 }, { dataType: "Int32", value: 40 }],
        });
        assert.equal(r.statusCode.value, StatusCodes.Good.value);
        assert.equal(r.outputArguments[0].value, 42);

        const b = await session.browse("ns=1;s=Plant");
        assert.ok(b.references.some((ref) => ref.browseName.name === "Area1"));
    });
});

test("peer accepts the known user and refuses a wrong password", async () => {
    await withSession({ type: UserTokenType.UserName, userName: "user1", password: "password1" }, async (session) => {
        const v = await session.read({ nodeId: "ns=1;s=Scalar.String", attributeId: AttributeIds.Value });
        assert.equal(v.value.value, "hello fieldplane");
    });
    await assert.rejects(withSession({ type: UserTokenType.UserName, userName: "user1", password: "wrong" }, async () => {}));
});
