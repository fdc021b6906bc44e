import { compiled } from '../lib/bed.js';
import { comparisonFigures, referenceFigures, sideBySide } from '../lib/compare.js';
import { runNodeForJson } from '../lib/processes.js';
import { reproduceCommand, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import type { LoginOutcome } from '../load/login-driver.js';

/**
 * 2. Full login: authorize → eID → code → token → userinfo, people logging in one after the
 * other from a load generator in its own process. On the broker the eID is Swedish BankID on
 * another device: its page, start, the simulated phone scans the QR code and approves at once,
 * a poll says COMPLETE. Bare oidc-provider's interaction logs in at once. Beside it, the like-with-like
 * reference: bare oidc-provider whose interaction does what a minimal BankID integration does
 * (targets/bare-interactions.ts), through the same page, start and poll requests against the
 * same simulator.
 */
export async function login({ options, bed, redis, log }: ScenarioContext): Promise<ScenarioResult> {
  const settings = options.login;
  const broker = await bed.startBroker('login-broker');
  const bare = await bed.startBare('login-bare');
  const bareBankId = await bed.startBare('login-bare-bankid', 'bankid');
  try {
    const measured = await sideBySide(
      redis,
      { broker, bare, 'bare-bankid': bareBankId },
      settings,
      (server, seconds) =>
        runNodeForJson<LoginOutcome>(
          'login-driver',
          compiled('bench/load/login-driver.js'),
          { target: server.target, concurrency: settings.concurrency, seconds },
          (seconds + 60) * 1000,
        ),
      log,
      (outcome) => `${outcome.perSecond.toFixed(1)} logins/s, p99 ${Math.round(outcome.p99Ms)} ms, errors ${outcome.errors}${outcome.errors ? ` (${outcome.errorSamples[0]})` : ''}`,
    );

    const of = (kind: keyof typeof measured, field: 'p50Ms' | 'p99Ms') => median(measured[kind].map((run) => run.outcome[field]));
    const failures = Object.values(measured).flat().reduce((sum, run) => sum + run.outcome.errors, 0);
    const labels = {
      what: 'complete logins/s',
      unit: '/s',
      per: 'login',
      broker: 'broker (BankID simulator)',
      bare: 'bare oidc-provider (instant login)',
      note: `median of ${settings.rounds} runs of ${settings.seconds} s, ${settings.concurrency} at a time`,
      target: 0.8,
    };
    return {
      name: 'login',
      title: '2. Full login',
      reproduce: reproduceCommand('login'),
      figures: [
        ...comparisonFigures(measured, (outcome) => outcome.perSecond, (outcome) => outcome.flows, labels),
        ...referenceFigures({ broker: measured.broker, bare: measured['bare-bankid'] }, (outcome) => outcome.perSecond, (outcome) => outcome.flows, {
          ...labels,
          bare: 'bare oidc-provider + BankID (start and collect over mutual TLS, as a minimal integration)',
          short: 'bare + BankID',
        }),
        { figure: 'broker: p50 / p99 per login', value: `${Math.round(of('broker', 'p50Ms'))} / ${Math.round(of('broker', 'p99Ms'))}`, unit: 'ms' },
        { figure: 'bare oidc-provider: p50 / p99 per login', value: `${Math.round(of('bare', 'p50Ms'))} / ${Math.round(of('bare', 'p99Ms'))}`, unit: 'ms' },
        { figure: 'bare oidc-provider + BankID: p50 / p99 per login', value: `${Math.round(of('bare-bankid', 'p50Ms'))} / ${Math.round(of('bare-bankid', 'p99Ms'))}`, unit: 'ms' },
        ...(failures ? [{ figure: 'failed logins, all runs', value: failures, unit: '' }] : []),
      ],
      runs: measured,
    };
  } finally {
    await Promise.all([broker.stop(), bare.stop(), bareBankId.stop()]);
  }
}
