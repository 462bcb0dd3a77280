// SSE fan-out: N open stock streams on one product while one buyer purchases at a steady rate.
// The streams are spread over CLIENTS child processes (one Node thread cannot read 5,000 sockets
// as fast as the server writes them). For every purchase k (the k-th unit sold, so the stock after
// it is S0 - k) and every stream, the latency is the time from sending the purchase to that stream
// receiving a stock at or below S0 - k (the hub may fold two close changes into one event); times
// are absolute (performance.timeOrigin + now) so processes compare. Prints percentiles and a
// RESULT line. Usage: node sse_fanout.mjs BASE_URL PRODUCT_ID TOKEN [streams] [purchases] [per_second] [clients]
import { fork } from 'node:child_process';
import http from 'node:http';

const now = () => performance.timeOrigin + performance.now();

if (process.env.FANOUT_CHILD) {
  // A child: open its share of streams, say when ready, then turn the purchase times it is sent
  // into latencies.
  const [base, productId, count] = process.argv.slice(2);
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const streams = [];
  const open = () =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: `/products/${productId}/stock/stream`, agent },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          const s = { seen: [], lowest: Infinity, buffer: '', ready: false };
          streams.push(s);
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            const t = now();
            s.buffer += chunk;
            let end;
            while ((end = s.buffer.indexOf('\n\n')) >= 0) {
              const m = /"stock":(\d+)/.exec(s.buffer.slice(0, end));
              s.buffer = s.buffer.slice(end + 2);
              if (m && Number(m[1]) < s.lowest) {
                s.lowest = Number(m[1]);
                s.seen.push([s.lowest, t]);
              }
            }
            if (!s.ready && s.lowest !== Infinity) {
              s.ready = true;
              resolve();
            }
          });
          res.on('error', () => {});
        },
      );
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < Number(count); i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, Number(count) - i) }, open));
  }
  process.send({ ready: Math.min(...streams.map((s) => s.lowest)) });
  process.on('message', ({ start, sent }) => {
    const latencies = [];
    let missing = 0;
    for (const s of streams) {
      let j = 0;
      for (let k = 1; k < sent.length; k++) {
        while (j < s.seen.length && s.seen[j][0] > start - k) j++;
        if (j >= s.seen.length) missing++;
        else latencies.push(Math.max(0, s.seen[j][1] - sent[k]));
      }
    }
    process.send({ latencies, missing }, () => process.exit(0));
  });
} else {
  const [base, productId, token, streamsArg = '5000', purchasesArg = '100', rateArg = '10', clientsArg = '2'] = process.argv.slice(2);
  const STREAMS = Number(streamsArg);
  const PURCHASES = Number(purchasesArg);
  const RATE = Number(rateArg);
  const CLIENTS = Number(clientsArg);
  const t0 = now();
  const children = Array.from({ length: CLIENTS }, (_, i) =>
    fork(new URL(import.meta.url).pathname, [base, productId, String(Math.floor(STREAMS / CLIENTS) + (i < STREAMS % CLIENTS ? 1 : 0))], {
      env: { ...process.env, FANOUT_CHILD: '1' },
    }),
  );
  const readies = await Promise.all(children.map((c) => new Promise((r) => c.once('message', (m) => r(m.ready)))));
  const start = Math.min(...readies);
  const openMs = now() - t0;
  console.log(`${STREAMS} streams open in ${openMs.toFixed(0)} ms (${CLIENTS} client processes); stock ${start}`);

  const sent = [0];
  let failures = 0;
  const begin = now();
  for (let k = 1; k <= PURCHASES; k++) {
    const wait = begin + (k * 1000) / RATE - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent[k] = now();
    const res = await fetch(`${base}/payment/request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Idempotency-Key': `fanout-${process.pid}-${k}` },
      body: JSON.stringify({ productId: Number(productId), amount: 1 }),
    });
    if (res.status !== 201) failures++;
    await res.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 1000)); // the last events
  const reports = await Promise.all(
    children.map((c) => new Promise((r) => {
      c.once('message', r);
      c.send({ start, sent });
    })),
  );
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const missing = reports.reduce((n, r) => n + r.missing, 0);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const result = {
    streams: STREAMS,
    clients: CLIENTS,
    purchases: PURCHASES,
    purchase_failures: failures,
    rate_per_s: RATE,
    deliveries: latencies.length,
    missing,
    open_ms: Math.round(openMs),
    p50_ms: +pct(50).toFixed(1),
    p99_ms: +pct(99).toFixed(1),
    max_ms: +latencies.at(-1).toFixed(1),
  };
  console.log(`stock change -> ${STREAMS} streams: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms; ${missing} missed, ${failures} purchases failed`);
  console.log(`RESULT ${JSON.stringify(result)}`);
}
