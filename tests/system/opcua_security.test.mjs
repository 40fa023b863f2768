// Secure channels and identities through the fieldplane-opcua tool against the node-opcua
// test peer: every security policy in Sign and SignAndEncrypt, UserName (right and wrong
// password), X.509 user, an untrusted server certificate, and token renewal under encryption.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPeer, runTool } from "../peers/opcua/harness.mjs";

let peer;
let pki;
before(async () => {
    // The peer trusts any client certificate; a short token lifetime makes renewal happen.
    peer = await startPeer(["--auto-accept", "--token-lifetime", "2000"]);
    pki = fs.mkdtempSync(path.join(os.tmpdir(), "fp-opcua-client-pki-"));
});
after(async () => {
    if (peer) {
        await peer.stop();
    }
    if (pki) {
        fs.rmSync(pki, { recursive: true, force: true });
    }
});

const POLICIES = ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"];
const MODES = ["Sign", "SignAndEncrypt"];

async function read(extra, nodeId = "ns=1;s=Scalar.String") {
    return runTool(["read", peer.url, nodeId, "--pki", pki, ...extra]);
}

test("an unknown server certificate is refused without auto-accept", async () => {
    const r = await read(["--security-policy", "Basic256Sha256", "--security-mode", "SignAndEncrypt"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.trim(), "BadCertificateUntrusted");
    assert.match(r.stderr, /rejected/);
    assert.ok(fs.readdirSync(path.join(pki, "rejected")).some((f) => f.endsWith(".der")));
});

test("auto-accept trusts the server certificate once and for all", async () => {
    let r = await read(["--security-policy", "Basic256Sha256", "--auto-accept"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), "hello fieldplane");
    r = await read(["--security-policy", "Basic256Sha256"]);
    assert.equal(r.code, 0, "trusted now: " + r.stdout + r.stderr);
});

for (const policy of POLICIES) {
    for (const mode of MODES) {
        test(`read over ${policy} ${mode}`, async () => {
            const r = await read(["--security-policy", policy, "--security-mode", mode]);
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.equal(r.stdout.trim(), "hello fieldplane");
        });
    }
}

test("a message larger than a chunk goes both ways encrypted", async () => {
    const big = "fieldplane".repeat(12000); // 120,000 bytes: several 64 KiB chunks each way
    const sec = ["--pki", pki, "--auto-accept", "--security-policy", "Aes256_Sha256_RsaPss",
        "--security-mode", "SignAndEncrypt"];
    let r = await runTool(["write", peer.url, "ns=1;s=Writable.String", big, ...sec]);
    assert.equal(r.stdout.trim(), "Good", r.stderr);
    r = await runTool(["read", peer.url, "ns=1;s=Writable.String", ...sec]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), big);
});

test("a mode the server does not offer is refused", async () => {
    const r = await read(["--security-policy", "None", "--security-mode", "Sign"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.trim(), "BadSecurityModeRejected");
});

test("UserName with the right password, on None and on an encrypted channel", async () => {
    let r = await read(["--user", "user1", "--password", "password1"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), "hello fieldplane");
    r = await read(["--user", "user1", "--password", "password1", "--security-policy",
        "Aes256_Sha256_RsaPss", "--security-mode", "SignAndEncrypt"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
});

test("a wrong password gives BadUserAccessDenied", async () => {
    const r = await read(["--user", "user1", "--password", "nope"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.trim(), "BadUserAccessDenied");
});

test("X.509 user identity", async () => {
    const r = await read(["--x509-user", "--security-policy", "Basic256Sha256"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), "hello fieldplane");
});

test("the secure channel token is renewed before it expires", async () => {
    const r = await runTool(["subscribe", peer.url, "ns=1;s=Dynamic.Counter", "--pki", pki,
        "--security-policy", "Aes128_Sha256_RsaOaep", "--interval", "100", "--duration", "5000",
        "--stats"], { timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = r.stderr.match(/token_renewals=(\d+)/);
    assert.ok(m && Number(m[1]) >= 2, r.stderr);
    const values = r.stdout.trim().split("\n").map((l) => Number(l.split(" ")[1]));
    assert.ok(values.length >= 20, `changes: ${values.length}`);
    for (let i = 1; i < values.length; i++) {
        assert.ok(values[i] > values[i - 1]);
    }
});
