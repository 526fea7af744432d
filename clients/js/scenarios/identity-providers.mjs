// The deprecated /identityProviders API (v1.0): create, list, get, update,
// delete, then a 404 for the deleted provider.
import assert from "node:assert/strict";
import { graphClient, rejectsWithGraphError, step } from "./graph.mjs";

const client = graphClient();
const secret = "amazon-client-secret-" + Date.now();

const created = await client.api("/identityProviders").post({
  name: "Login with Amazon",
  type: "Amazon",
  clientId: "amzn1.application-oa2-client.idgraph",
  clientSecret: secret,
});
assert.equal(created.id, "Amazon-OAUTH");
assert.equal(created.type, "Amazon");
assert.equal(created.name, "Login with Amazon");
assert.equal(created.clientId, "amzn1.application-oa2-client.idgraph");
assert.notEqual(created.clientSecret, secret, "the secret must not be echoed");
assert.match(String(created.clientSecret), /^\*+$/, "the secret is masked");
step(`created ${created.id}, secret masked as ${created.clientSecret}`);

const path = `/identityProviders/${created.id}`;
const list = await client.api("/identityProviders").get();
assert.ok(Array.isArray(list.value), "list has a value array");
assert.ok(list.value.some((p) => p.id === created.id), "list contains the new provider");
step("listed");

const got = await client.api(path).get();
assert.equal(got.id, created.id);
assert.equal(got.clientId, created.clientId);
step("got");

await client.api(path).patch({ clientSecret: "1111111111111" });
step("patched clientSecret");

await client.api(path).delete();
step("deleted");

await rejectsWithGraphError(client.api(path).get(), { statusCode: 404, code: "Request_ResourceNotFound" }, "get after delete");
step("get after delete: 404 Request_ResourceNotFound");
