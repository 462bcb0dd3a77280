// A deliberately small HTTP/1.1 client over a raw TCP socket: one request per connection,
// exactly the bytes given (any method, duplicate or oversized headers, a body without a
// Content-Type), and the answer parsed by hand so nothing is normalised away.
import net from "node:net";

const DEFAULT_TIMEOUT_MS = 15000;

// Sends `bytes` (string or Buffer) to 127.0.0.1:port and reads until the server closes.
export function exchange(port, bytes, timeoutMs = DEFAULT_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (d) => chunks.push(d));
    socket.on("end", finish);
    socket.on("close", finish);
    // A server that answers and closes before reading all we sent may reset the connection;
    // what it sent before the reset is still the answer.
    socket.on("error", (e) => {
      if (chunks.length > 0) finish();
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(e);
      }
    });
  });
}

// Parses one HTTP/1.1 response. headers: lower-case name -> array of values (in order).
export function parseResponse(buffer) {
  const text = buffer.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, end).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let body = buffer.subarray(end + 4);  // latin1 maps bytes to characters one to one
  const length = headers["content-length"];
  if (length) body = body.subarray(0, Number(length[0]));
  return { status: Number(m[1]), headers, body: body.toString("utf8") };
}

// A request with the usual framing. options: {headers: {name: value}, body: string|Buffer,
// rawHeaderLines: [string] (sent as-is, e.g. an oversized header)}.
export async function request(port, method, target, options = {}) {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    head += `${name}: ${value}\r\n`;
  }
  for (const line of options.rawHeaderLines ?? []) head += `${line}\r\n`;
  if (body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  head += "\r\n";
  const bytes = body === undefined ? Buffer.from(head, "latin1")
                                   : Buffer.concat([Buffer.from(head, "latin1"), body]);
  const res = parseResponse(await exchange(port, bytes, options.timeoutMs));
  res.method = method;
  res.target = target;
  return res;
}

// The first value of a header, or undefined.
export function header(res, name) {
  return res.headers[name.toLowerCase()]?.[0];
}

export function json(res) {
  try {
    return JSON.parse(res.body);
  } catch {
    throw new Error(`${res.method} ${res.target} -> ${res.status}: body is not JSON: ${res.body.slice(0, 300)}`);
  }
}
