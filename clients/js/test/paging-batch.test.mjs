// Server-side paging and JSON batching through the official Microsoft Graph
// JavaScript client: PageIterator over @odata.nextLink pages, .top(), .filter()
// and .count(), the /$count segment, and BatchRequestContent /
// BatchResponseContent with dependsOn chains.
//
// Like the other client tests, the client code runs in a child Node process
// that trusts idgraph's CA through NODE_EXTRA_CA_CERTS. The child is this same
// file, started with IDGRAPH_PB_CHILD set (see the end of the file); under
// `node --test` it only registers the tests below.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createApp, idgraphBinary, jsDir, removeDir, runNode, startServer, tempDir } from "../harness/idgraph.mjs";

const run = promisify(execFile);
const SELF = path.relative(jsDir, fileURLToPath(import.meta.url));
const CONNECTORS = 250; // two full default pages of 100 and a half one
const ROLES = "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All";

const name = (i) => `PB ${String(i).padStart(3, "0")}`;
const password = (i) => `pb-js-secret-${String(i).padStart(3, "0")}`;

function connector(displayName, secret) {
  return {
    displayName,
    targetUrl: `https://paging.example.com/${encodeURIComponent(displayName)}`,
    authenticationConfiguration: {
      "@odata.type": "#microsoft.graph.basicAuthentication",
      username: "pb-user",
      password: secret,
    },
  };
}

// ---------------------------------------------------------------------------
// The tests (parent process)

function registerTests() {
  let dir, bin, dataDir, server, app, batchApp, seeded;

  before(async () => {
    dir = await tempDir();
    bin = await idgraphBinary(dir);
    dataDir = `${dir}/data`;
    app = await createApp(bin, dataDir, "js-paging-test"); // the default tenant: the 250 connectors
    server = await startServer(bin, dataDir);
    batchApp = await tenantApp(bin, dataDir, "js-batch-test"); // a tenant of its own for the batches
  }, { timeout: 12 * 60_000 });

  after(async () => {
    await server?.stop();
    await removeDir(dir);
  });

  async function scenario(t, mode, args, a, env = {}) {
    const r = await runNode(SELF, args, {
      IDGRAPH_PB_CHILD: mode,
      NODE_EXTRA_CA_CERTS: server.caPath,
      IDGRAPH_URL: server.url,
      AZURE_TENANT_ID: a.tenantId,
      AZURE_CLIENT_ID: a.clientId,
      AZURE_CLIENT_SECRET: a.clientSecret,
      ...env,
    });
    assert.equal(r.code, 0,
      `${mode} ${args.join(" ")} exited with ${r.code ?? r.signal}\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}\n${server.logs().slice(-8000)}`);
    for (const line of r.stderr.trim().split("\n")) if (line) t.diagnostic(line);
    return r;
  }

  test(`create ${CONNECTORS} API connectors (JSON batches of 20 when $batch works)`, { timeout: 5 * 60_000 }, async (t) => {
    const r = await scenario(t, "seed", [], app);
    const last = r.stdout.trim().split("\n").at(-1);
    seeded = JSON.parse(last);
    assert.equal(seeded.ids.length, CONNECTORS);
    assert.equal(new Set(seeded.ids).size, CONNECTORS, "distinct ids");
    t.diagnostic(`created with ${seeded.how}`);
  });

  for (const version of ["v1.0", "beta"]) {
    test(`${version}: PageIterator over ${CONNECTORS} connectors, .top(40), .filter(), .count(true), /$count`, { timeout: 5 * 60_000 }, async (t) => {
      assert.ok(seeded, "the connectors were not created");
      const r = await scenario(t, "paging", [version], app, { IDGRAPH_PB_IDS: JSON.stringify(seeded.ids) });
      for (const line of r.stdout.trim().split("\n")) t.diagnostic(line);
    });
  }

  for (const version of ["v1.0", "beta"]) {
    test(`${version}: BatchRequestContent / BatchResponseContent with dependsOn`, { timeout: 5 * 60_000 }, async (t) => {
      const r = await scenario(t, "batch", [version], batchApp);
      for (const line of r.stdout.trim().split("\n")) t.diagnostic(line);
    });
  }
}

// tenantApp creates a B2C tenant and registers an app in it.
async function tenantApp(bin, dataDir, appName) {
  const opts = { timeout: 60_000 };
  const { stdout: tid } = await run(bin, ["tenant", "create", "--kind", "b2c", "--name", `${appName} tenant`, "--data-dir", dataDir], opts);
  const tenantId = tid.trim();
  const { stdout } = await run(bin, ["app", "create", "--tenant", tenantId, "--name", appName, "--roles", ROLES, "--env", "--data-dir", dataDir], opts);
  const a = {};
  for (const f of stdout.replace(/^export /, "").trim().split(/\s+/)) {
    const [k, v] = [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)];
    if (k === "AZURE_TENANT_ID") a.tenantId = v;
    if (k === "AZURE_CLIENT_ID") a.clientId = v;
    if (k === "AZURE_CLIENT_SECRET") a.clientSecret = v;
  }
  if (a.tenantId !== tenantId || !a.clientId || !a.clientSecret) throw new Error(`idgraph app create --env printed ${stdout}`);
  return a;
}

// ---------------------------------------------------------------------------
// The client side (child process)

// installTraffic wraps the global fetch the client uses: it records every
// request and refuses any that is not for the loopback server, so a nextLink
// that led elsewhere (such as the real graph.microsoft.com) fails the test.
function installTraffic(origin) {
  const o = new URL(origin);
  const log = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const href = typeof input === "string" ? input : input.url;
    const u = new URL(href);
    const ex = { method: String(init.method ?? input.method ?? "GET").toUpperCase(), url: href, path: u.pathname, query: u.searchParams };
    log.push(ex);
    if (u.host !== o.host) {
      ex.error = "refused";
      throw new TypeError(`refused a request to ${u.host}: these tests talk only to the loopback server`);
    }
    const res = await realFetch(input, init);
    ex.status = res.status;
    return res;
  };
  return log;
}

async function child(mode, version) {
  const { graphClient, origin } = await import("../scenarios/graph.mjs");
  const graph = await import("@microsoft/microsoft-graph-client");
  const traffic = installTraffic(origin);
  const problems = [];
  const expect = (ok, msg) => {
    if (!ok) problems.push(msg);
  };
  const client = graphClient({ version });
  const ctx = { client, graph, origin, version, traffic, expect };
  const started = Date.now();

  if (mode === "seed") await seed(ctx);
  else if (mode === "paging") await paging(ctx);
  else if (mode === "batch") await batching(ctx);
  else throw new Error(`unknown mode ${mode}`);

  console.error(`${mode} ${version}: ${traffic.length} requests in ${Date.now() - started} ms`);
  if (problems.length) {
    for (const p of problems) console.error(`not ok - ${p}`);
    process.exit(1);
  }
}

const collection = "/identity/apiConnectors";

// seed creates the connectors with 13 batches of 20 POSTs, and with single
// POSTs for whatever a failing batch did not create; it prints the ids in
// creation order and how they were made as the last line of output.
async function seed({ client, graph, origin }) {
  const ids = new Array(CONNECTORS).fill(null);
  const order = [];
  let batches = 0, failure = "";
  for (let start = 0; start < CONNECTORS && !failure; start += 20) {
    const steps = [];
    for (let i = start; i < Math.min(start + 20, CONNECTORS); i++) {
      steps.push({
        id: String(i),
        // The host without the version: 3.0.7 keeps a version segment in the step's url (msgraph-sdk-javascript#1178).
        request: new Request(`${origin}${collection}`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(connector(name(i), password(i))),
        }),
      });
    }
    let raw;
    try {
      raw = await client.api("/$batch").post(await new graph.BatchRequestContent(steps).getContent());
    } catch (err) {
      failure = `batch ${batches + 1}: ${err.statusCode ?? ""} ${err.code ?? err.name}: ${err.message}`;
      break;
    }
    batches++;
    const byId = new Map((raw?.responses ?? []).map((r) => [r.id, r]));
    for (const s of steps) {
      const r = byId.get(s.id);
      if (r?.status === 201 && typeof r.body?.id === "string") {
        ids[Number(s.id)] = r.body.id;
        order.push(r.body.id);
      } else if (!failure) {
        failure = `batch ${batches}, request ${s.id}: ${JSON.stringify(r)}`;
      }
    }
  }
  let posts = 0;
  for (let i = 0; i < CONNECTORS; i++) {
    if (ids[i]) continue;
    const c = await client.api(collection).post(connector(name(i), password(i)));
    ids[i] = c.id;
    order.push(c.id);
    posts++;
  }
  let how = `${batches} JSON batches of up to 20 POSTs (BatchRequestContent)`;
  if (failure) how += ` and ${posts} single POSTs, because the batch failed: ${failure}`;
  console.log(JSON.stringify({ ids: order, how }));
}

async function paging({ client, graph, origin, version, traffic, expect }) {
  const ids = JSON.parse(process.env.IDGRAPH_PB_IDS);
  const filtered = ids.slice(200); // PB 200 ... PB 249
  const filter = "startswith(displayName,'PB 2')";
  const listPath = `/${version}${collection}`.toLowerCase();

  // iterate walks every page of request with PageIterator.
  async function iterate(what, request) {
    const mark = traffic.length;
    const first = await request.get();
    const seen = [];
    const it = new graph.PageIterator(client, first, (c) => {
      seen.push(c);
      return seen.length <= 2 * CONNECTORS; // stop a server that pages forever
    });
    await it.iterate();
    expect(it.isComplete(), `${what}: the iterator did not complete`);
    const requests = traffic.slice(mark).filter((e) => e.method === "GET" && e.path.toLowerCase() === listPath);
    return { seen, requests };
  }

  // pages follows @odata.nextLink by hand.
  async function pages(request) {
    const out = [await request.get()];
    while (out.at(-1)["@odata.nextLink"]) {
      if (out.length > 2 * CONNECTORS) throw new Error("too many pages");
      out.push(await client.api(out.at(-1)["@odata.nextLink"]).get());
    }
    return out;
  }

  function checkVisited(what, got, want) {
    const gotIds = got.map((c) => c.id);
    expect(gotIds.length === want.length, `${what}: visited ${gotIds.length} items, want ${want.length}`);
    expect(new Set(gotIds).size === gotIds.length, `${what}: an item repeated (${gotIds.length} items, ${new Set(gotIds).size} distinct)`);
    const wantSet = new Set(want);
    const extra = gotIds.filter((id) => !wantSet.has(id)).length;
    expect(extra === 0, `${what}: ${extra} unexpected ids`);
    if (gotIds.length === want.length && extra === 0) {
      const first = gotIds.findIndex((id, i) => id !== want[i]);
      expect(first === -1, `${what}: not in creation order from position ${first}`);
    }
  }

  function checkSizes(what, ps, want) {
    const got = ps.map((p) => p.value?.length);
    expect(JSON.stringify(got) === JSON.stringify(want), `${what}: page sizes ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }

  function checkNextLinks(what, ps, keep = {}) {
    for (const [i, p] of ps.slice(0, -1).entries()) {
      const link = p["@odata.nextLink"];
      let u;
      try {
        u = new URL(link);
      } catch {
        expect(false, `${what} page ${i + 1}: @odata.nextLink ${link} is not an absolute URL`);
        continue;
      }
      expect(u.protocol === "https:", `${what} page ${i + 1}: nextLink ${link} is not https`);
      expect(u.pathname.toLowerCase() === listPath, `${what} page ${i + 1}: nextLink path ${u.pathname}, want /${version}${collection}`);
      const q = new Map([...u.searchParams].map(([k, v]) => [k.toLowerCase(), v]));
      expect(q.get("$skiptoken"), `${what} page ${i + 1}: nextLink ${link} has no $skiptoken`);
      for (const [k, v] of Object.entries(keep)) {
        expect(q.get(k) === v, `${what} page ${i + 1}: nextLink ${link} has ${k}=${q.get(k)}, want ${v}`);
      }
    }
  }

  // Default page size: 3 pages of 100, 100, 50; everything once, in creation order, masked.
  let r = await iterate("default", client.api(collection));
  expect(r.requests.length === 3, `default: the iterator sent ${r.requests.length} list requests, want 3: ${r.requests.map((e) => e.url).join(" ")}`);
  checkVisited("default", r.seen, ids);
  const unmasked = r.seen.filter((c) => c.authenticationConfiguration?.password !== "******");
  expect(unmasked.length === 0, `default: ${unmasked.length} items without the password mask`);
  console.log(`ok - default: ${r.seen.length} items in ${r.requests.length} requests`);

  let ps = await pages(client.api(collection));
  checkSizes("default", ps, [100, 100, 50]);
  checkNextLinks("default", ps);

  // The nextLink must lead back to this server: PageIterator follows it verbatim.
  const next = new URL(ps[0]["@odata.nextLink"]);
  expect(next.origin === new URL(origin).origin,
    `@odata.nextLink ${next.href} names ${next.origin}, not the server the client called (${origin}): PageIterator requests page 2 ` +
    `from ${next.host}, the real Microsoft Graph unless a hosts-file entry sends it here (and the client adds a token there only ` +
    `because it is a Graph host). These tests send such requests to the server instead, to check the rest of the paging behaviour.`);

  // .top(40): 7 pages, $top kept in every link.
  r = await iterate("top(40)", client.api(collection).top(40));
  expect(r.requests.length === 7, `top(40): ${r.requests.length} list requests, want 7`);
  for (const e of r.requests) expect(e.query.get("$top") === "40", `top(40): request ${e.url} lost $top`);
  checkVisited("top(40)", r.seen, ids);
  ps = await pages(client.api(collection).top(40));
  checkSizes("top(40)", ps, [40, 40, 40, 40, 40, 40, 10]);
  checkNextLinks("top(40)", ps, { $top: "40" });
  console.log(`ok - top(40): ${r.seen.length} items in ${r.requests.length} requests`);

  // .filter(): 50 items in one page; with .top(20) 20, 20, 10.
  r = await iterate("filter", client.api(collection).filter(filter));
  expect(r.requests.length === 1, `filter: ${r.requests.length} list requests, want 1`);
  checkVisited("filter", r.seen, filtered);
  r = await iterate("filter+top(20)", client.api(collection).filter(filter).top(20));
  expect(r.requests.length === 3, `filter+top(20): ${r.requests.length} list requests, want 3`);
  checkVisited("filter+top(20)", r.seen, filtered);
  ps = await pages(client.api(collection).filter(filter).top(20));
  checkSizes("filter+top(20)", ps, [20, 20, 10]);
  checkNextLinks("filter+top(20)", ps, { $top: "20", $filter: filter });
  const none = await client.api(collection).filter("displayName eq 'no such connector'").get();
  expect(none.value?.length === 0 && !none["@odata.nextLink"], `filter matching nothing: ${JSON.stringify(none)}`);
  console.log(`ok - filter: ${r.seen.length} items in ${r.requests.length} requests`);

  // .count(true): @odata.count on every page.
  for (const [what, req, want] of [
    ["count(true)", () => client.api(collection).count(true), CONNECTORS],
    ["count(true)+filter+top(20)", () => client.api(collection).count(true).filter(filter).top(20), 50],
  ]) {
    ps = await pages(req());
    for (const [i, p] of ps.entries()) {
      expect(p["@odata.count"] === want, `${what} page ${i + 1}: @odata.count ${p["@odata.count"]}, want ${want}`);
    }
  }
  const plain = await client.api(collection).get();
  expect(!("@odata.count" in plain), "without count(): @odata.count is present");
  console.log("ok - count(true)");

  // The /$count segment (text/plain).
  const n = await client.api(`${collection}/$count`).get();
  expect(Number(n) === CONNECTORS, `GET ${collection}/$count = ${JSON.stringify(n)}, want ${CONNECTORS}`);
  const nf = await client.api(`${collection}/$count`).filter(filter).get();
  expect(Number(nf) === 50, `GET ${collection}/$count?$filter = ${JSON.stringify(nf)}, want 50`);
  console.log(`ok - /$count: ${n}, filtered ${nf}`);

  // Bad options are Graph errors.
  for (const [what, req, status, check] of [
    ["top(1000)", () => client.api(collection).top(1000), 400,
      (e) => e.message === "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."],
    ["bad filter", () => client.api(collection).filter("startswith(displayName,"), 400,
      (e) => e.code === "BadRequest" && e.message.startsWith("Invalid filter clause")],
    ["filter on a secret", () => client.api(collection).filter("authenticationConfiguration eq null"), 400,
      (e) => e.code === "Request_UnsupportedQuery"],
  ]) {
    try {
      await req().get();
      expect(false, `${what}: succeeded, want ${status}`);
    } catch (e) {
      expect(e instanceof graph.GraphError && e.statusCode === status && check(e),
        `${what}: got ${e?.constructor?.name} ${e.statusCode} ${e.code}: ${e.message}`);
    }
  }
  console.log("ok - bad options are 400 Graph errors");
}

async function batching({ client, graph, origin, version, traffic, expect }) {
  const json = { "Content-Type": "application/json" };
  // Step URLs: the host without the version; 3.0.7 keeps a version segment in
  // the step's url (msgraph-sdk-javascript#1178) and Graph answers that with 400.
  const url = (p) => `${origin}${p}`;
  const send = async (steps) => {
    const content = await new graph.BatchRequestContent(steps).getContent();
    const raw = await client.api("/$batch").post(content);
    return { content, raw, res: new graph.BatchResponseContent(raw) };
  };

  // Names carry the version: both versions work in the same tenant.
  const X = `Batch X ${version}`, Y = `Batch Y ${version}`, Z = `Batch Z ${version}`;
  const x = await client.api(collection).post(connector(X, "batch-js-secret-X"));
  const xPath = `${collection}/${x.id}`;

  // create Y -> get X -> patch X (a serial chain).
  let { content, raw, res } = await send([
    { id: "1", request: new Request(url(collection), { method: "POST", headers: json, body: JSON.stringify(connector(Y, "batch-js-secret-Y")) }) },
    { id: "2", request: new Request(url(xPath), { method: "GET" }), dependsOn: ["1"] },
    { id: "3", request: new Request(url(xPath), { method: "PATCH", headers: json, body: JSON.stringify({ displayName: `${X} renamed` }) }), dependsOn: ["2"] },
  ]);
  console.log(`ok - the client sent ${JSON.stringify(content)}`);
  const status = (id) => res.getResponseById(id)?.status;
  expect(status("1") === 201 && status("2") === 200 && status("3") === 200,
    `create/get/patch statuses ${status("1")} ${status("2")} ${status("3")}, want 201 200 200: ${JSON.stringify(raw)}`);
  for (const r of raw.responses ?? []) {
    // BatchResponseContent reads the body as JSON only under exactly this key.
    expect(String(r.headers?.["Content-Type"] ?? "").startsWith("application/json"),
      `response ${r.id}: headers["Content-Type"] = ${r.headers?.["Content-Type"]} (headers ${JSON.stringify(r.headers)})`);
  }
  const y = await res.getResponseById("1")?.json();
  expect(y?.displayName === Y && y?.authenticationConfiguration?.password === "******", `created Y: ${JSON.stringify(y)}`);
  const got = await res.getResponseById("2")?.json();
  expect(got?.id === x.id && got?.authenticationConfiguration?.password === "******", `got X: ${JSON.stringify(got)}`);
  const patched = await res.getResponseById("3")?.json();
  expect(patched?.displayName === `${X} renamed`, `patched X: ${JSON.stringify(patched)}`);
  expect(!JSON.stringify(raw).includes("batch-js-secret"), `a password appears in the batch response: ${JSON.stringify(raw)}`);
  const ids = (raw.responses ?? []).map((r) => r.headers?.["request-id"]).filter(Boolean);
  expect(new Set(ids).size === ids.length, `inner request-ids repeat: ${ids}`);
  expect((await client.api(xPath).get()).displayName === `${X} renamed`, "X was not renamed");
  if (y?.id) expect((await client.api(`${collection}/${y.id}`).get()).displayName === Y, "Y was not created");
  console.log(`ok - create/get/patch: ${status("1")} ${status("2")} ${status("3")}`);

  // get (404) -> create Z -> delete X: the dependents answer 424 and do not run.
  ({ raw, res } = await send([
    { id: "a", request: new Request(url(`${collection}/00000000-0000-0000-0000-00000000dead`), { method: "GET" }) },
    { id: "b", request: new Request(url(collection), { method: "POST", headers: json, body: JSON.stringify(connector(Z, "batch-js-secret-Z")) }), dependsOn: ["a"] },
    { id: "c", request: new Request(url(xPath), { method: "DELETE" }), dependsOn: ["b"] },
  ]));
  expect(status("a") === 404 && status("b") === 424 && status("c") === 424,
    `failed chain statuses ${status("a")} ${status("b")} ${status("c")}, want 404 424 424: ${JSON.stringify(raw)}`);
  const ea = await res.getResponseById("a")?.json().catch(() => undefined);
  expect(ea?.error?.code === "Request_ResourceNotFound", `404 body: ${JSON.stringify(ea)}`);
  const eb = await res.getResponseById("b")?.json().catch(() => undefined);
  expect(eb?.error?.code === "FailedDependency" && String(eb?.error?.message).includes("a"), `424 body: ${JSON.stringify(eb)}`);
  const still = await client.api(xPath).get().catch((e) => e);
  expect(still?.id === x.id, `X after a DELETE that must not run: ${still}`);
  const all = await client.api(collection).get();
  expect(!all.value.some((c) => c.displayName === Z), `${Z} was created by a request whose dependency failed`);
  console.log(`ok - failed dependency: ${status("a")} ${status("b")} ${status("c")}`);

  // Inner query options; a bad one is that request's 400, the batch is 200.
  ({ raw, res } = await send([
    { id: "q", request: new Request(url(`${collection}?$select=displayName&$filter=displayName eq '${Y}'&$count=true`), { method: "GET" }) },
    { id: "bad", request: new Request(url(`${collection}?$top=0`), { method: "GET" }) },
  ]));
  const q = await res.getResponseById("q")?.json().catch(() => undefined);
  expect(status("q") === 200 && q?.value?.length === 1 && q?.["@odata.count"] === 1 &&
    q.value[0].displayName === Y && !("targetUrl" in q.value[0]), `inner GET with $select/$filter/$count: ${status("q")} ${JSON.stringify(q)}`);
  expect(status("bad") === 400, `inner GET with $top=0: ${status("bad")}, want 400`);
  console.log(`ok - inner query options: ${status("q")} ${status("bad")}`);

  // Deletes: 204 items without a body.
  ({ raw, res } = await send([
    { id: "dx", request: new Request(url(xPath), { method: "DELETE" }) },
    ...(y?.id ? [{ id: "dy", request: new Request(url(`${collection}/${y.id}`), { method: "DELETE" }) }] : []),
  ]));
  for (const r of raw.responses ?? []) {
    expect(r.status === 204 && (r.body === undefined || r.body === null), `delete ${r.id}: ${JSON.stringify(r)}`);
  }
  expect(status("dx") === 204, `delete X: ${status("dx")}`);
  const gone = await client.api(xPath).get().then(() => undefined, (e) => e);
  expect(gone instanceof graph.GraphError && gone.statusCode === 404, `X after the delete batch: ${gone}`);
  console.log(`ok - deletes: ${status("dx")} ${status("dy")}`);

  // A step URL with the version segment (what 3.0.7 sends for a full Graph URL):
  // Graph rejects the batch with 400, and so does idgraph.
  try {
    await send([{ id: "v", request: new Request(url(`/${version}${collection}`), { method: "GET" }) }]);
    expect(false, `a step url starting with /${version}/ was accepted`);
  } catch (e) {
    expect(e instanceof graph.GraphError && e.statusCode === 400, `a step url starting with /${version}/: ${e?.constructor?.name} ${e.statusCode}: ${e.message}`);
  }
  console.log("ok - a versioned step url is a 400");
}

// Last, so that every constant above is initialised: the child runs the client
// code, the parent registers the tests.
if (process.env.IDGRAPH_PB_CHILD) {
  await child(process.env.IDGRAPH_PB_CHILD, process.argv[2] ?? "v1.0");
} else {
  registerTests();
}
