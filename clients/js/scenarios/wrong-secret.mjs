// A wrong client secret: the credential fails with AAD's invalid_client error.
import assert from "node:assert/strict";
import { GRAPH_SCOPE, credential, graphClient, step } from "./graph.mjs";

const invalidClient = /invalid_client|AADSTS7000215/;
const secret = "not-the-right-secret";

await assert.rejects(credential({ secret }).getToken(GRAPH_SCOPE), (err) => {
  assert.match(String(err?.message), invalidClient);
  return true;
});
step("getToken fails with invalid_client");

await assert.rejects(graphClient({ secret }).api("/identity/apiConnectors").get(), (err) => {
  assert.match(String(err?.message), invalidClient);
  return true;
});
step("a Graph call fails with invalid_client");
