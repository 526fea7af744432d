// Test harness: builds and starts an idgraph server on loopback, registers an
// app, makes a PKCS#12 certificate, and runs client programs as child Node
// processes that trust idgraph's CA through NODE_EXTRA_CA_CERTS.
import { execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const jsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = path.resolve(jsDir, "../..");

const BUILD_TIMEOUT_MS = 10 * 60_000;
const COMMAND_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const CHILD_TIMEOUT_MS = 60_000;

export async function tempDir() {
  return mkdtemp(path.join(tmpdir(), "idgraph-js-"));
}

export async function removeDir(dir) {
  if (dir) await rm(dir, { recursive: true, force: true });
}

// idgraphBinary returns $IDGRAPH_BIN, or builds ./cmd/idgraph into dir.
export async function idgraphBinary(dir) {
  if (process.env.IDGRAPH_BIN) return process.env.IDGRAPH_BIN;
  const bin = path.join(dir, "idgraph");
  try {
    await run("go", ["build", "-C", repoRoot, "-o", bin, "./cmd/idgraph"], {
      timeout: BUILD_TIMEOUT_MS,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    throw new Error(`building idgraph (needs Go, or set IDGRAPH_BIN): ${err.message}`);
  }
  return bin;
}

// createApp registers an application and returns {tenantId, clientId, clientSecret}.
export async function createApp(bin, dataDir, name) {
  const { stdout } = await run(
    bin,
    ["app", "create", "--data-dir", dataDir, "--name", name, "--roles", "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All"],
    { timeout: COMMAND_TIMEOUT_MS },
  ).catch((err) => {
    throw new Error(`idgraph app create: ${err.message}`);
  });
  let app;
  try {
    app = JSON.parse(stdout);
  } catch {
    throw new Error(`idgraph app create printed no JSON object:\n${stdout}`);
  }
  for (const k of ["tenantId", "clientId", "clientSecret"]) {
    if (typeof app[k] !== "string" || app[k] === "") throw new Error(`idgraph app create: no ${k} in ${stdout}`);
  }
  return app;
}

// startServer runs `idgraph serve` on a free loopback port and waits for its
// banner. It resolves to {url, caPath, stop(), logs()}.
export function startServer(bin, dataDir) {
  const child = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  let stdoutText = "";
  let stderrText = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s) => {
    stderrText = (stderrText + s).slice(-64 << 10);
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const logs = () => `--- idgraph stdout ---\n${stdoutText}--- idgraph stderr (tail) ---\n${stderrText}`;

  async function stop() {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    const result = await exited;
    clearTimeout(timer);
    return result;
  }

  return new Promise((resolve, reject) => {
    let url, caPath, settled = false;
    const fail = (msg) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop().finally(() => reject(new Error(`${msg}\n${logs()}`)));
    };
    const timer = setTimeout(() => fail(`idgraph did not print its URL and CA within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    exited.then(({ code, signal }) => fail(`idgraph serve exited early (code ${code}, signal ${signal})`));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      stdoutText += line + "\n";
      const m = line.match(/^idgraph serving Microsoft Graph at (\S+)/);
      if (m) url = m[1];
      // "  CA certificate: /abs/path/ca.pem", possibly followed by " (also at URL)".
      const ca = line.match(/^\s*CA certificate:\s*(.+?)(?:\s+\(also at [^)]*\))?\s*$/);
      if (ca) caPath = ca[1];
      if (url && caPath && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ url, caPath, stop, logs });
      }
    });
  });
}

// makePkcs12 writes a self-signed certificate and key as a password-protected
// .pfx with openssl, and returns what Graph should report for it.
export async function makePkcs12(dir, password) {
  const key = path.join(dir, "key.pem");
  const crt = path.join(dir, "cert.pem");
  const pfx = path.join(dir, "cert.pfx");
  const opts = { timeout: COMMAND_TIMEOUT_MS };
  try {
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
      "-days", "30", "-subj", "/CN=idgraph-js-client-test"], opts);
    await run("openssl", ["pkcs12", "-export", "-inkey", key, "-in", crt, "-out", pfx, "-passout", `pass:${password}`], opts);
  } catch (err) {
    throw new Error(`making the test certificate with openssl (is it installed?): ${err.message}`);
  }
  const cert = new X509Certificate(await readFile(crt));
  return {
    base64: (await readFile(pfx)).toString("base64"),
    password,
    thumbprint: cert.fingerprint.replaceAll(":", "").toUpperCase(),
    notBefore: Date.parse(cert.validFrom) / 1000,
    notAfter: Date.parse(cert.validTo) / 1000,
  };
}

// runNode runs `node script ...args` in jsDir with a clean environment plus
// env, and resolves to {code, signal, stdout, stderr}.
export function runNode(script, args, env) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) {
    if (/^(AZURE_|IDGRAPH_|NODE_EXTRA_CA_CERTS$|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(k) || /_proxy$/i.test(k)) delete base[k];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: jsDir,
      env: { ...base, NO_PROXY: "127.0.0.1,localhost", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
