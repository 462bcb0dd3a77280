// The documentation's shell examples run literally as written, against a real server.
//
// Which blocks: every fenced code block in README.md and docs/*.md whose opening fence is directly
// preceded by a line `<!-- docs-test: run -->` (an HTML comment: invisible on GitHub). The blocks
// of one file run in order in one bash session (variables carry over) against one fresh server.
// README.md must have at least one such block.
//
// How they run unchanged: the commands run in a scratch directory laid out like the repository
// root (its top-level entries are symlinked, `build/rocketmart` is the binary under test and
// `./data` is the server's data directory), and the server is started the way `make run` starts
// it (`rocketmart serve --data-dir ./data`, demo seed on) but on a free port. The documents keep
// saying `localhost:8080`: curl reads a .curlrc (CURL_HOME) whose `connect-to` sends
// localhost:8080 and 127.0.0.1:8080 to that port. The .curlrc also has curl write each answer's
// headers to a file, so the runner knows each command's HTTP status without changing its output.
//
// What is checked, per command (a command is a line, plus the lines a trailing backslash joins):
//  - it exits 0 (bash, with pipefail);
//  - the HTTP status of its (last) curl is 2xx, unless the comment below the command says another;
//  - an answer comment directly below the command, `# -> [STATUS] JSON [prose]`, is checked:
//    the status (if given) and the printed body against JSON, where `...` inside an object or
//    array means "and more" (without it the keys / elements must be exactly those). A `# ->` line
//    that starts with neither a status nor JSON is prose and is not checked.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startServer, binaryPath, sourceDir, makeTempDir } from "./lib/server.mjs";

const MARKER = /^<!--\s*docs-test:\s*run\b.*-->\s*$/;

// Marked fenced blocks of one markdown file: [{line, text}].
export function markedBlocks(markdown) {
  const lines = markdown.split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; ++i) {
    if (!MARKER.test(lines[i].trim())) continue;
    const fence = /^(```+|~~~+)/.exec(lines[i + 1] ?? "");
    if (!fence) throw new Error(`line ${i + 1}: a docs-test marker must sit directly above a fenced block`);
    const body = [];
    let j = i + 2;
    for (; j < lines.length && !lines[j].startsWith(fence[1]); ++j) body.push(lines[j]);
    if (j >= lines.length) throw new Error(`line ${i + 2}: unterminated fenced block`);
    blocks.push({ line: i + 3, text: body.join("\n") });
    i = j;
  }
  return blocks;
}

// Commands of a block with the answer comments that follow each: [{line, command, expects}].
export function commands(block) {
  const lines = block.text.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; ++i) {
    const trimmed = lines[i].trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      const m = /^#\s*->\s*(.*)$/.exec(trimmed);
      if (m && out.length > 0 && out[out.length - 1].open) out[out.length - 1].expects.push(m[1]);
      else if (trimmed !== "" && out.length > 0) out[out.length - 1].open = false;
      continue;
    }
    if (out.length > 0) out[out.length - 1].open = false;
    const start = i;
    let command = lines[i];
    while (/\\\s*$/.test(lines[i]) && i + 1 < lines.length) command += "\n" + lines[++i];
    out.push({ line: block.line + start, command, expects: [], open: true });
  }
  return out;
}

// A tolerant JSON parser: standard JSON plus `...` as an element/member meaning "and more".
export function parseShape(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) ++i;
  };
  // The members of an object or elements of an array up to `close`; `...` sets shape.more.
  const sequence = (close, shape, item) => {
    ++i;
    for (;;) {
      ws();
      if (text[i] === close) {
        ++i;
        return shape;
      }
      if (text.startsWith("...", i)) {
        i += 3;
        shape.more = true;
      } else item();
      ws();
      if (text[i] === ",") ++i;
      else if (text[i] !== close) throw new Error(`expected , or ${close} at ${i}`);
    }
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      const shape = { kind: "object", members: [], more: false };
      return sequence("}", shape, () => {
        const key = string();
        ws();
        if (text[i++] !== ":") throw new Error(`expected : at ${i}`);
        shape.members.push([key, value()]);
      });
    }
    if (c === "[") {
      const shape = { kind: "array", items: [], more: false };
      return sequence("]", shape, () => shape.items.push(value()));
    }
    if (c === '"') return { kind: "value", value: string() };
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 10))} at ${i}`);
    i += m[0].length;
    return { kind: "value", value: JSON.parse(m[0]) };
  };
  const string = () => {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
    if (!m) throw new Error(`expected a string at ${i}`);
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const shape = value();
  return { shape, rest: text.slice(i) };
}

// Problems with `actual` (a parsed JSON value) against a shape; [] when it matches.
export function matchShape(shape, actual, where = "$") {
  if (shape.kind === "value") {
    return shape.value === actual ? [] : [`${where}: expected ${JSON.stringify(shape.value)}, got ${JSON.stringify(actual)}`];
  }
  if (shape.kind === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return [`${where}: expected an object, got ${JSON.stringify(actual)}`];
    const problems = [];
    for (const [key, sub] of shape.members) {
      if (!(key in actual)) problems.push(`${where}.${key}: missing`);
      else problems.push(...matchShape(sub, actual[key], `${where}.${key}`));
    }
    if (!shape.more) {
      for (const key of Object.keys(actual)) {
        if (!shape.members.some(([k]) => k === key)) problems.push(`${where}.${key}: not in the documented answer (add it, or ... for more)`);
      }
    }
    return problems;
  }
  if (!Array.isArray(actual)) return [`${where}: expected an array, got ${JSON.stringify(actual)}`];
  if (!shape.more && actual.length !== shape.items.length) return [`${where}: expected ${shape.items.length} elements, got ${actual.length}`];
  if (actual.length < shape.items.length) return [`${where}: expected at least ${shape.items.length} elements, got ${actual.length}`];
  return shape.items.flatMap((sub, k) => matchShape(sub, actual[k], `${where}[${k}]`));
}

// {status, shape} of an answer comment, or undefined for prose.
export function parseExpectation(text) {
  const m = /^(\d{3})?\s*(.*)$/.exec(text.trim());
  const status = m[1] ? Number(m[1]) : undefined;
  const rest = m[2];
  if (rest.startsWith("{") || rest.startsWith("[")) return { status, shape: parseShape(rest).shape };
  if (status !== undefined && (rest === "" || /^[;,(]/.test(rest))) return { status };
  return undefined;
}

function lastStatus(headersFile) {
  if (!fs.existsSync(headersFile)) return undefined;
  const statuses = [...fs.readFileSync(headersFile, "latin1").matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)];
  return statuses.length ? Number(statuses[statuses.length - 1][1]) : undefined;
}

// Runs one file's marked blocks; returns problems.
async function runFile(file, blocks) {
  const problems = [];
  const work = makeTempDir("rocketmart-docs-");
  const dataDir = path.join(work, "data");
  const io = path.join(work, ".docs-test");
  fs.mkdirSync(io);
  const root = sourceDir();
  for (const entry of fs.readdirSync(root)) {
    if (["build", "data", ".git"].includes(entry)) continue;
    fs.symlinkSync(path.join(root, entry), path.join(work, entry));
  }
  fs.mkdirSync(path.join(work, "build"));
  fs.symlinkSync(binaryPath(), path.join(work, "build", "rocketmart"));
  const server = await startServer({ dataDir, cwd: work, env: { ROCKETMART_DEMO_SEED: "true" } });
  try {
    const headersFile = path.join(io, "headers");
    fs.writeFileSync(path.join(io, ".curlrc"),
      `connect-to = localhost:8080:127.0.0.1:${server.port}\n` +
      `connect-to = 127.0.0.1:8080:127.0.0.1:${server.port}\n` +
      `dump-header = "${headersFile}"\n`);
    const all = blocks.flatMap(commands);
    let script = "set -o pipefail\n";
    all.forEach((c, k) => {
      script += `rm -f "${headersFile}"\n{\n${c.command}\n} >"${io}/out.${k}" 2>"${io}/err.${k}"\n` +
                `echo $? >"${io}/rc.${k}"\n[ -f "${headersFile}" ] && mv "${headersFile}" "${io}/headers.${k}"\n`;
    });
    fs.writeFileSync(path.join(io, "script.sh"), script);
    const env = { ...process.env, CURL_HOME: io };
    for (const k of Object.keys(env)) if (k.startsWith("ROCKETMART_")) delete env[k];
    const run = spawnSync("bash", ["--noprofile", "--norc", path.join(io, "script.sh")], { cwd: work, env, encoding: "utf8", timeout: 300000 });
    if (run.error) problems.push(`${file}: the examples did not finish: ${run.error.message}`);
    all.forEach((c, k) => {
      const where = `${file}:${c.line}: ${c.command.split("\n")[0].trim()}`;
      const read = (name) => (fs.existsSync(path.join(io, `${name}.${k}`)) ? fs.readFileSync(path.join(io, `${name}.${k}`), "utf8") : undefined);
      const rc = read("rc");
      const out = read("out") ?? "";
      const err = read("err") ?? "";
      const status = lastStatus(path.join(io, `headers.${k}`));
      const before = problems.length;
      if (rc === undefined) problems.push(`${where}: did not run`);
      else if (rc.trim() !== "0") problems.push(`${where}: exited ${rc.trim()}: ${err.slice(0, 300)}${out.slice(0, 300)}`);
      const expectations = c.expects.map((e) => ({ text: e, parsed: parseExpectation(e) })).filter((e) => e.parsed);
      const first = expectations[0]?.parsed;
      if (status !== undefined) {
        const wanted = first?.status;
        if (wanted !== undefined ? status !== wanted : status < 200 || status > 299) {
          problems.push(`${where}: answered HTTP ${status}${wanted ? `, the document says ${wanted}` : ""}: ${out.slice(0, 300)}`);
        }
      } else if (first?.status !== undefined) {
        problems.push(`${where}: the document gives a status (${first.status}) but the command made no HTTP request`);
      }
      if (first?.shape) {
        let actual;
        try {
          actual = JSON.parse(out);
        } catch {
          problems.push(`${where}: the document shows a JSON answer but the command printed: ${out.slice(0, 300)}`);
        }
        if (actual !== undefined) {
          for (const p of matchShape(first.shape, actual)) problems.push(`${where}: ${p} (printed ${out.slice(0, 300)})`);
        }
      }
      for (const e of expectations.slice(1)) {
        console.log(`     (only the first answer comment is checked; not: # -> ${e.text})`);
      }
      const unchecked = c.expects.filter((e) => !parseExpectation(e));
      console.log(`${problems.length === before ? "ok  " : "FAIL"} ${where}${first ? ` [checked: ${first.status ?? ""}${first.shape ? " JSON" : ""}]` : ""}`);
      for (const e of unchecked) console.log(`     (prose, not checked: # -> ${e})`);
    });
  } finally {
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return problems;
}

// The runner's own parsing must be able to fail: a synthetic document through each piece.
function selfTest() {
  const problems = [];
  const check = (ok, what) => ok || problems.push(`runner self-test: ${what}`);
  const md = "x\n<!-- docs-test: run -->\n```sh\nA=1 # set\ncurl -s x \\\n  -d 1\n# -> 409 {\"error\":{\"code\":\"X\",...}}; later prose\n# -> prose\n\necho $A\n```\n```sh\nnot marked\n```\n";
  const blocks = markedBlocks(md);
  check(blocks.length === 1, `one marked block, found ${blocks.length}`);
  const cmds = commands(blocks[0]);
  check(cmds.length === 3, `three commands, found ${cmds.length}`);
  check(cmds[1]?.command.includes("-d 1"), "a backslash joins the next line");
  check(cmds[1]?.expects.length === 2 && cmds[2]?.expects.length === 0, "answer comments belong to the command above");
  const e = parseExpectation(cmds[1]?.expects[0] ?? "");
  check(e?.status === 409 && e.shape, "status and shape parsed");
  check(parseExpectation("prose") === undefined, "prose is not an expectation");
  check(matchShape(e.shape, { error: { code: "X", message: "m" } }).length === 0, "... admits more members");
  check(matchShape(e.shape, { error: { code: "Y" } }).length === 1, "a wrong value is reported");
  check(matchShape(parseShape('{"a":1}').shape, { a: 1, b: 2 }).length === 1, "an extra member is reported");
  check(matchShape(parseShape("[1,...]").shape, [1, 2]).length === 0, "... admits more elements");
  check(matchShape(parseShape("[1]").shape, [1, 2]).length === 1, "an extra element is reported");
  return problems;
}

async function main() {
  const root = sourceDir();
  const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
  const problems = selfTest();
  let marked = 0;
  for (const file of files) {
    let blocks;
    try {
      blocks = markedBlocks(fs.readFileSync(path.join(root, file), "utf8"));
    } catch (e) {
      problems.push(`${file}: ${e.message}`);
      continue;
    }
    if (file === "README.md" && blocks.length === 0) {
      problems.push("README.md has no block marked <!-- docs-test: run -->: its Try it examples must be tested");
    }
    if (blocks.length === 0) continue;
    marked += blocks.length;
    console.log(`== ${file}: ${blocks.length} marked block(s)`);
    problems.push(...(await runFile(file, blocks)));
  }
  for (const p of problems) console.log(`FAIL ${p}`);
  console.log(`${marked} block(s) run, ${problems.length} problem(s)`);
  process.exit(problems.length === 0 ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main();
}
