import { compiled } from '../lib/bed.js';
import { comparisonFigures, sideBySide } from '../lib/compare.js';
import { fullLogin, LOGIN_SCOPE, tokenRequest } from '../lib/flows.js';
import { keepAliveAgent } from '../lib/http.js';
import { runNodeForJson } from '../lib/processes.js';
import { reproduceCommand, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import type { AutocannonOutcome } from '../load/autocannon-runner.js';

/**
 * 1. Token endpoint: refresh_token grants against the broker and against bare oidc-provider,
 * autocannon in its own process. Each server first issues refresh tokens through real logins
 * (BankID on the broker); autocannon then sends them in turn, as many users' apps would.
 */
export async function token({ options, bed, redis, log }: ScenarioContext): Promise<ScenarioResult> {
  const settings = options.token;
  const broker = await bed.startBroker('token-broker');
  const bare = await bed.startBare('token-bare');
  try {
    const dispatcher = keepAliveAgent(4);
    const bodies = new Map<string, string[]>();
    for (const server of [broker, bare]) {
      const refreshTokens: string[] = [];
      for (let i = 0; i < settings.refreshTokens; i += 1) {
        const tokens = await fullLogin(dispatcher, server.target, `${LOGIN_SCOPE} offline_access`, { prompt: 'consent' });
        if (!tokens.refresh_token) throw new Error(`${server.target.kind} issued no refresh token`);
        refreshTokens.push(tokens.refresh_token);
      }
      bodies.set(server.target.kind, refreshTokens.map((refreshToken) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString()));
    }
    await dispatcher.close();

    const { headers } = tokenRequest(bed.client, {});
    const measured = await sideBySide(
      redis,
      { broker, bare },
      settings,
      (server, seconds) =>
        runNodeForJson<AutocannonOutcome>(
          'autocannon',
          compiled('bench/load/autocannon-runner.js'),
          { url: `${server.target.issuer}/token`, connections: settings.connections, seconds, headers, bodies: bodies.get(server.target.kind) },
          (seconds + 30) * 1000,
        ),
      log,
      (outcome) => `${Math.round(outcome.perSecond)}/s, p50 ${outcome.p50Ms} ms, p99 ${outcome.p99Ms} ms, non-2xx ${outcome.non2xx}`,
    );

    const of = (kind: 'broker' | 'bare', field: 'p50Ms' | 'p99Ms') => median(measured[kind].map((run) => run.outcome[field]));
    const failures = [...measured.broker, ...measured.bare].reduce((sum, run) => sum + run.outcome.non2xx + run.outcome.errors, 0);
    return {
      name: 'token',
      title: '1. Token endpoint',
      reproduce: reproduceCommand('token'),
      figures: [
        ...comparisonFigures(measured, (outcome) => outcome.perSecond, (outcome) => outcome.requests, {
          what: 'refresh_token grants/s',
          unit: '/s',
          per: 'grant',
          broker: 'broker',
          bare: 'bare oidc-provider',
          note: `median of ${settings.rounds} runs of ${settings.seconds} s, ${settings.connections} connections`,
          target: 0.9,
        }),
        { figure: 'broker: p50 / p99 latency', value: `${of('broker', 'p50Ms')} / ${of('broker', 'p99Ms')}`, unit: 'ms' },
        { figure: 'bare oidc-provider: p50 / p99 latency', value: `${of('bare', 'p50Ms')} / ${of('bare', 'p99Ms')}`, unit: 'ms' },
        ...(failures ? [{ figure: 'failed requests (non-2xx or errors), all runs', value: failures, unit: '' }] : []),
      ],
      runs: measured,
    };
  } finally {
    await Promise.all([broker.stop(), bare.stop()]);
  }
}
