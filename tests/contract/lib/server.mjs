// Starts the real rocketmart binary for a test: a fresh data directory (unless one is given),
// port 0, the port read back from the "rocketmart listening on http://HOST:PORT" line; the admin
// listener (GET /metrics) on a free port too, read back from "rocketmart metrics on
// http://HOST:PORT/metrics" (adminPort; null when turned off). stop()
// sends SIGTERM (SIGKILL after a grace period) and removes the directory it made.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export function binaryPath() {
  const binary = process.env.ROCKETMART_BINARY;
  if (!binary) throw new Error("ROCKETMART_BINARY is not set (CTest sets it to the built binary)");
  return binary;
}

export function sourceDir() {
  const dir = process.env.ROCKETMART_SOURCE_DIR;
  if (!dir) throw new Error("ROCKETMART_SOURCE_DIR is not set (CTest sets it)");
  return dir;
}

export function makeTempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

// options: {dataDir, env, args, cwd}
export async function startServer(options = {}) {
  const ownsDir = !options.dataDir;
  const dataDir = options.dataDir ?? makeTempDir("rocketmart-contract-");
  const args = ["serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir,
                ...(options.args ?? [])];
  const env = { ...process.env, ROCKETMART_DEMO_SEED: "false", ROCKETMART_LOG_ACCESS_LOG: "false",
                ROCKETMART_SERVER_ADMIN_PORT: "0",
                // The checks' requests come from 127.0.0.1 at machine speed: no rate limits.
                ROCKETMART_GATEWAY_RATE_PER_IP_PER_S: "0", ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S: "0",
                ...(options.env ?? {}) };
  // The test harness's own variables are not configuration.
  for (const k of ["ROCKETMART_BINARY", "ROCKETMART_SOURCE_DIR", "ROCKETMART_NODE_PROJECT"]) delete env[k];
  const child = spawn(binaryPath(), args, { env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d.toString()).slice(-20000);
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not report its port: ${stdout}${stderr}`)), 60000);
    child.stdout.on("data", (d) => {
      stdout += d.toString();
      const m = /rocketmart listening on http:\/\/\S+:(\d+)\s*\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited during start-up (code ${code}, signal ${signal}): ${stdout}${stderr}`));
    });
  });
  const admin = /rocketmart metrics on http:\/\/\S+:(\d+)\/metrics\s*\n/.exec(stdout);
  return {
    port,
    adminPort: admin ? Number(admin[1]) : null,
    dataDir,
    banner: () => stdout,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      if (ownsDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// Runs the binary with a subcommand (e.g. ["admin", "create", ...]); returns stdout.
export function runBinary(args, env = {}) {
  return execFileSync(binaryPath(), args, { env: { ...process.env, ...env }, encoding: "utf8" });
}

// The text (the base64 text/plain part) of the newest .eml in <dataDir>/mail addressed to `to`
// whose text contains `needle`; waits for the mail worker, bounded.
export async function mailTo(dataDir, to, needle, deadlineMs = 20000) {
  const until = Date.now() + deadlineMs;
  const dir = path.join(dataDir, "mail");
  for (;;) {
    const found = [];
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (!name.endsWith(".eml")) continue;
      const file = path.join(dir, name);
      const message = fs.readFileSync(file, "latin1");
      if (!message.includes(`\r\nTo: ${to}\r\n`)) continue;
      const text = plainTextPart(message);
      if (text.includes(needle)) found.push({ mtime: fs.statSync(file).mtimeMs, text });
    }
    if (found.length > 0) {
      found.sort((a, b) => a.mtime - b.mtime);
      return found[found.length - 1].text;
    }
    if (Date.now() > until) throw new Error(`no mail to ${to} with ${needle} in ${dir}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function plainTextPart(message) {
  const type = message.indexOf("Content-Type: text/plain");
  if (type < 0) throw new Error("mail without a text/plain part");
  const start = message.indexOf("\r\n\r\n", type) + 4;
  const end = message.indexOf("--", start);
  return Buffer.from(message.slice(start, end < 0 ? undefined : end).replace(/\s+/g, ""), "base64").toString("utf8");
}

// The value of the token= parameter of the first link in `text` that contains `needle`.
export function tokenFromLink(text, needle) {
  const link = text.split(/\s+/).find((w) => w.startsWith("http") && w.includes(needle));
  if (!link) throw new Error(`no link with ${needle} in: ${text}`);
  return decodeURIComponent(new URL(link).searchParams.get("token") ?? "");
}
