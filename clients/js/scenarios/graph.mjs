// Shared setup for the scenarios. Each scenario runs in its own Node process,
// started by test/graph-client.test.mjs with NODE_EXTRA_CA_CERTS pointing at
// idgraph's CA (Node reads that variable only at process start).
import assert from "node:assert/strict";
import { ClientSecretCredential } from "@azure/identity";
import { Client, GraphError } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

export const origin = env("IDGRAPH_URL").replace(/\/+$/, "");

export function credential({ secret = env("AZURE_CLIENT_SECRET") } = {}) {
  return new ClientSecretCredential(env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), secret, {
    authorityHost: origin,
    disableInstanceDiscovery: true,
  });
}

export function graphClient({ version = "v1.0", customHosts = true, secret } = {}) {
  const options = {
    authProvider: new TokenCredentialAuthenticationProvider(credential({ secret }), { scopes: [GRAPH_SCOPE] }),
    baseUrl: origin + "/",
    defaultVersion: version,
  };
  if (customHosts) options.customHosts = new Set([new URL(origin).hostname]);
  return Client.initWithMiddleware(options);
}

// rejectsWithGraphError asserts that promise rejects with a GraphError whose
// fields match expected (e.g. {statusCode: 404, code: "Request_ResourceNotFound"}).
export async function rejectsWithGraphError(promise, expected, what) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof GraphError, `${what}: want a GraphError, got ${err?.constructor?.name}: ${err}`);
    for (const [k, want] of Object.entries(expected)) {
      if (want instanceof RegExp) assert.match(String(err[k]), want, `${what}: GraphError.${k}`);
      else assert.equal(err[k], want, `${what}: GraphError.${k} (message: ${err.message})`);
    }
    return true;
  });
}

export function step(msg) {
  console.log(`ok - ${msg}`);
}
