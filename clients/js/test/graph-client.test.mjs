// Runs the official Microsoft Graph JavaScript client against a real idgraph
// server. The server is started once; every scenario runs in a child Node
// process (see scenarios/) so that NODE_EXTRA_CA_CERTS can name idgraph's CA.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import https from "node:https";
import { after, before, test } from "node:test";
import {
  createApp, idgraphBinary, makePkcs12, removeDir, runNode, startServer, tempDir,
} from "../harness/idgraph.mjs";

let dir, server, app, pfx;

before(async () => {
  dir = await tempDir();
  const bin = await idgraphBinary(dir);
  const dataDir = `${dir}/data`;
  app = await createApp(bin, dataDir, "js-client-test");
  server = await startServer(bin, dataDir);
  pfx = await makePkcs12(dir, "CertificatePassword");
}, { timeout: 12 * 60_000 });

after(async () => {
  await server?.stop();
  await removeDir(dir);
});

function clientEnv(overrides = {}) {
  return {
    NODE_EXTRA_CA_CERTS: server.caPath,
    IDGRAPH_URL: server.url,
    AZURE_TENANT_ID: app.tenantId,
    AZURE_CLIENT_ID: app.clientId,
    AZURE_CLIENT_SECRET: app.clientSecret,
    ...overrides,
  };
}

async function scenario(script, args = [], env = {}) {
  const r = await runNode(script, args, clientEnv(env));
  assert.equal(r.code, 0,
    `${script} ${args.join(" ")} exited with ${r.code ?? r.signal}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}\n${server.logs()}`);
  return r;
}

test("the server speaks HTTPS and serves its CA at /_idgraph/ca.pem", async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = await readFile(server.caPath, "utf8");
  const served = await new Promise((resolve, reject) => {
    const req = https.get(`${server.url}/_idgraph/ca.pem`, { ca, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (s) => (body += s)).on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
  assert.equal(served.status, 200);
  assert.equal(served.body.trim(), ca.trim());
});

test("deprecated identityProviders: create, list, get, update, delete, 404", async () => {
  await scenario("scenarios/identity-providers.mjs");
});

for (const version of ["v1.0", "beta"]) {
  test(`${version} apiConnectors: create, get, update, upload certificate, delete, 404`, async () => {
    await scenario("scenarios/api-connectors.mjs", [version], {
      IDGRAPH_TEST_PFX_BASE64: pfx.base64,
      IDGRAPH_TEST_PFX_PASSWORD: pfx.password,
      IDGRAPH_TEST_PFX_THUMBPRINT: pfx.thumbprint,
      IDGRAPH_TEST_PFX_NOT_BEFORE: String(pfx.notBefore),
      IDGRAPH_TEST_PFX_NOT_AFTER: String(pfx.notAfter),
    });
  });
}

test("without customHosts the client sends no token and gets a 401 about allowed hosts", async () => {
  await scenario("scenarios/no-custom-hosts.mjs");
});

test("a wrong client secret fails with invalid_client", async () => {
  await scenario("scenarios/wrong-secret.mjs");
});

test("quickstart.mjs creates, updates and deletes a connector", async () => {
  const r = await scenario("quickstart.mjs");
  assert.match(r.stdout, /^created \S+\nupdated\ndeleted\n$/);
});

test("quickstart.mjs exits non-zero on an error", async () => {
  const r = await runNode("quickstart.mjs", [], clientEnv({ AZURE_CLIENT_SECRET: "wrong-secret" }));
  assert.notEqual(r.code, 0, `quickstart exited 0 with a wrong secret:\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, /created/);
  assert.match(r.stderr, /invalid_client|AADSTS7000215/);
});
