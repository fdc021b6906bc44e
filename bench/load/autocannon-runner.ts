import autocannon from 'autocannon';

/**
 * A load generator in its own process: autocannon against one URL for a fixed time, each
 * request's body taken in turn from `bodies` (so many tokens share the load, as many relying
 * parties' users would). Prints one JSON line with the result.
 *
 * Input (argv[2], JSON): { url, connections, seconds, headers, bodies }.
 */
interface Input {
  url: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  bodies: string[];
}

export interface AutocannonOutcome {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
let next = 0;
const result = await autocannon({
  url: input.url,
  connections: input.connections,
  duration: input.seconds,
  timeout: 10,
  requests: [
    {
      method: 'POST',
      headers: input.headers,
      setupRequest: (request) => ({ ...request, body: input.bodies[next++ % input.bodies.length] }),
    },
  ],
});
const outcome: AutocannonOutcome = {
  requests: result.requests.total,
  perSecond: result.requests.total / result.duration,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
  statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, Number(count)])),
};
console.log(JSON.stringify(outcome));
