// API connectors under /identity/apiConnectors, for the version given as the
// first argument (v1.0 or beta): create with basic authentication, get, list,
// update displayName, upload a client certificate, delete, then a 404.
import assert from "node:assert/strict";
import { env, graphClient, rejectsWithGraphError, step } from "./graph.mjs";

const version = process.argv[2] ?? "v1.0";
const client = graphClient({ version });
const collection = "/identity/apiConnectors";

const created = await client.api(collection).post({
  displayName: `Sign-up validation (${version})`,
  targetUrl: "https://api.example.com/validate",
  authenticationConfiguration: {
    "@odata.type": "#microsoft.graph.basicAuthentication",
    username: "idgraph-user",
    password: "s3cret-passw0rd",
  },
});
assert.equal(typeof created.id, "string");
assert.ok(created.id.length > 0, "created connector has an id");
assert.equal(created.displayName, `Sign-up validation (${version})`);
assert.equal(created.targetUrl, "https://api.example.com/validate");
assert.equal(created.authenticationConfiguration["@odata.type"], "#microsoft.graph.basicAuthentication");
assert.equal(created.authenticationConfiguration.username, "idgraph-user");
assert.equal(created.authenticationConfiguration.password, "******");
step(`${version}: created ${created.id}`);

const path = `${collection}/${created.id}`;
const got = await client.api(path).get();
assert.equal(got.id, created.id);
assert.equal(got.authenticationConfiguration.password, "******");
step(`${version}: got`);

const list = await client.api(collection).get();
assert.ok(list.value.some((c) => c.id === created.id), "list contains the new connector");
step(`${version}: listed`);

// The classic profile answers PATCH with 200 and the updated entity.
const patched = await client.api(path).patch({ displayName: "Renamed connector" });
assert.equal(patched?.displayName, "Renamed connector", "PATCH returns the updated entity");
assert.equal((await client.api(path).get()).displayName, "Renamed connector");
step(`${version}: patched displayName`);

const uploaded = await client.api(`${path}/uploadClientCertificate`).post({
  pkcs12Value: env("IDGRAPH_TEST_PFX_BASE64"),
  password: env("IDGRAPH_TEST_PFX_PASSWORD"),
});
const auth = uploaded.authenticationConfiguration;
assert.equal(uploaded.id, created.id);
assert.equal(auth["@odata.type"], "#microsoft.graph.clientCertificateAuthentication");
assert.ok(Array.isArray(auth.certificateList) && auth.certificateList.length >= 1, "certificateList is not empty");
const [cert] = auth.certificateList;
assert.equal(cert.thumbprint, env("IDGRAPH_TEST_PFX_THUMBPRINT"));
assert.equal(typeof cert.notBefore, "number", "notBefore is a number");
assert.equal(typeof cert.notAfter, "number", "notAfter is a number");
assert.equal(cert.notBefore, Number(env("IDGRAPH_TEST_PFX_NOT_BEFORE")));
assert.equal(cert.notAfter, Number(env("IDGRAPH_TEST_PFX_NOT_AFTER")));
step(`${version}: uploaded client certificate ${cert.thumbprint}`);

await client.api(path).delete();
step(`${version}: deleted`);

await rejectsWithGraphError(client.api(path).get(), { statusCode: 404, code: "Request_ResourceNotFound" }, "get after delete");
step(`${version}: get after delete: 404 Request_ResourceNotFound`);
