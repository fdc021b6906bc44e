import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { EventStream } from '../../src/http/event-stream.js';
import { createHttpServer } from '../../src/http/server.js';
import { OpenEventStreams } from '../../src/login/event-streams.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import { median } from '../lib/stats.js';

/**
 * Not a scenario: the CPU of a QR frame in the broker's own code, whatever else the machine
 * runs. N event streams are opened over loopback to this process (the broker's HTTP server and
 * `EventStream`, a reader per stream in a child process), then rounds of frames are sent as the
 * broker's tick sends them: a fortieth of the streams at a time (one 25 ms tick's share), each a
 * `qrPayload` and an `offer`, with I/O let run between ticks. Per round: this thread's CPU per
 * 100,000 frames (garbage collection included), and the time one heartbeat over every stream
 * holds the event loop right after a second of frames, as the broker's heartbeat timer does.
 *
 *   npx tsc -b bench/tsconfig.build.json && node --max-semi-space-size=8 node_modules/.cache/nordic-eid-bench/bench/tools/frame-cost.js [N] [rounds]
 */

const TICKS_PER_SECOND = 40;
const FRAMES_PER_ROUND = 100_000;

if (process.argv[2] === 'readers') await readStreams(Number(process.argv[3]), Number(process.argv[4]));
else await measure(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 5));

/** The child: N connections that read and drop whatever comes. */
async function readStreams(port: number, n: number): Promise<void> {
  let open = 0;
  for (let i = 0; i < n; i += 1) {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => (open += 1) === n && process.send!('open'));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.write('GET /interaction/x/api/events HTTP/1.1\r\nHost: broker.test\r\n\r\n');
    if (i % 200 === 199) await yieldToIo();
  }
  process.on('disconnect', () => process.exit(0));
}

interface Waiting {
  stream: EventStream;
  token: string;
  secret: string;
  orderedAt: number;
}

async function measure(n: number, rounds: number): Promise<void> {
  const streams = new OpenEventStreams({ per_login: n, per_ip: n, heartbeat_seconds: 60 }, new Metrics());
  const waiting: Waiting[] = [];
  const app = new Koa();
  app.use((ctx) => {
    const stream = streams.admit(ctx, 'login', 'ip');
    stream.open();
    waiting.push({ stream, token: randomUUID(), secret: randomUUID(), orderedAt: Date.now() - 60_000 });
  });
  const server = createHttpServer(app.callback(), { headers_timeout_seconds: 60, request_timeout_seconds: 60, keep_alive_timeout_seconds: 5, max_connections: 0, max_connections_per_ip: 0, listen_backlog: 511, max_body_bytes: 1024 });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const readers = fork(fileURLToPath(import.meta.url), ['readers', String((server.address() as AddressInfo).port), String(n)]);
  await once(readers, 'message');

  const perTick = Math.ceil(n / TICKS_PER_SECOND);
  let next = 0;
  const sendTick = (): void => {
    const now = Date.now();
    for (let i = 0; i < perTick; i += 1) {
      const order = waiting[next]!;
      next = (next + 1) % n;
      const seconds = Math.floor((now - order.orderedAt) / 1000);
      order.stream.offer('qr', qrPayload(order.token, order.secret, seconds), seconds);
    }
  };
  const frameCpu: number[] = [];
  const systemShare: number[] = [];
  const heartbeatMs: number[] = [];
  const heartbeatCpuMs: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const started = process.cpuUsage();
    for (let sent = 0; sent < FRAMES_PER_ROUND; sent += perTick) {
      sendTick();
      await yieldToIo();
    }
    const used = process.cpuUsage(started);
    frameCpu.push(((used.user + used.system) / 1000) * (100_000 / FRAMES_PER_ROUND));
    systemShare.push(used.system / (used.user + used.system));
    const beat = performance.now();
    const beatCpu = process.cpuUsage();
    // As the broker's heartbeat timer with heartbeat_seconds 15 calls it (main's ignores the argument).
    for (const { stream } of waiting) stream.heartbeat(Date.now() - 14_000);
    heartbeatMs.push(performance.now() - beat);
    const beatUsed = process.cpuUsage(beatCpu);
    heartbeatCpuMs.push((beatUsed.user + beatUsed.system) / 1000);
    await yieldToIo();
    console.log(`round ${round + 1}: ${frameCpu.at(-1)!.toFixed(0)} ms CPU per 100,000 frames; heartbeat over ${n} streams ${heartbeatMs.at(-1)!.toFixed(1)} ms (${heartbeatCpuMs.at(-1)!.toFixed(1)} ms CPU)`);
  }
  console.log(
    `N = ${n}, node ${process.version}: median ${median(frameCpu).toFixed(0)} ms CPU per 100,000 frames (${((median(frameCpu) / 100_000) * 1000).toFixed(1)} µs a frame, ` +
      `${Math.round(median(systemShare) * 100)} % of it in the kernel); ` +
      `heartbeat ${median(heartbeatMs).toFixed(1)} ms (${median(heartbeatCpuMs).toFixed(1)} ms CPU); RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`,
  );
  readers.disconnect();
  streams.close();
  server.close();
}
