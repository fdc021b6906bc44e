import { pluginFolder, type EidPluginFactory, type PluginContext, type StartedEid } from '../../src/eids/sdk.js';
import { sweden } from '../countries/se.js';
import { appPagePlugin } from '../shared/app-page.js';
import { certificateNotAfter, type MutualTls } from '../shared/mutual-tls.js';
import { LoginRecords } from '../shared/login-records.js';
import { FrejaClient } from './api/client.js';
import { SigningCertificates } from './api/jws.js';
import { checkFrejaConfig, type FrejaSetup } from './config.js';
import { acrValues, FrejaLogin } from './flow.js';
import { frejaRoutes } from './routes.js';
import { transactionVersion, type TransactionRecord } from './transactions.js';
import { FrejaWaiting } from './waiting.js';
import type { FrejaSimulator } from './simulator/server.js';

/** Headroom over a login's allowed time, so a finished transaction still answers its last polls. */
const RECORD_TTL_MARGIN_SECONDS = 300;

/** In simulator mode the broker runs its own Freja eID: a real HTTPS server with mutual TLS. */
async function startSimulator(settings: FrejaSetup) {
  // Loaded only in simulator mode: production never pays for the simulator's code.
  const { startFrejaSimulator } = await import('./simulator/server.js');
  const simulator = await startFrejaSimulator({ controlPort: settings.simulator.control_port, expirySeconds: settings.simulator.expiry_seconds });
  const { pki } = simulator;
  const tls: MutualTls = { ca: pki.serverCa, cert: pki.client.cert, key: pki.client.key };
  return { simulator, url: simulator.apiUrl, tls, certificates: new SigningCertificates([simulator.signingCertificate]) };
}

/** Freja eID (Sweden), Relying Party REST API: QR code on another device, or the app on this one. */
export const seFreja: EidPluginFactory<FrejaSetup> = {
  check(section, { issuer }) {
    const checked = checkFrejaConfig(section, issuer);
    return 'issues' in checked ? checked : { settings: checked.data, acrValues: [acrValues.any, acrValues.this, acrValues.other] };
  },
  start: startFreja,
};

async function startFreja({ id, settings, issuer, store, log, views, telemetry }: PluginContext<FrejaSetup>): Promise<StartedEid> {
  const eidLog = settings.custom_identifier ? log.child({ custom_identifier: settings.custom_identifier }) : log;
  let simulator: FrejaSimulator | undefined;
  let endpoint: { url: string; tls: MutualTls; certificates: SigningCertificates };
  if (settings.endpoint) {
    endpoint = settings.endpoint;
  } else {
    ({ simulator, ...endpoint } = await startSimulator(settings));
    eidLog.info({ app: simulator.appUrl }, 'simulated Freja eID: open the app page to play the person');
  }
  const { certificates } = endpoint;
  telemetry.certificate('client certificate', certificateNotAfter(endpoint.tls));
  telemetry.certificate('JWS signing certificate', certificates.notAfter);

  const client = new FrejaClient({
    url: endpoint.url,
    tls: endpoint.tls,
    timeoutMs: settings.timeout_ms,
    log: eidLog,
    telemetry,
    ...(settings.relying_party_id ? { relyingPartyId: settings.relying_party_id } : {}),
  });
  const records = new LoginRecords<TransactionRecord>(store, 'transaction', {
    ttlSeconds: settings.allowed_seconds + RECORD_TTL_MARGIN_SECONDS,
    pollFrequencySeconds: settings.poll_frequency,
    versionOf: transactionVersion,
  });
  const login = new FrejaLogin({
    id,
    issuer,
    client,
    certificates,
    records,
    minRegistrationLevel: settings.min_registration_level,
    allowedMs: settings.allowed_seconds * 1000,
    views,
    log: eidLog,
    ...(simulator ? { simulatedAppUrl: simulator.appUrl } : {}),
  });
  const waiting = new FrejaWaiting({ login, records, pollFrequencyMs: settings.poll_frequency * 1000, log: eidLog });

  return {
    id,
    country: sweden,
    assets: pluginFolder(import.meta.url),
    // The device question, its remembered answer, the QR code's settings and the page's script kit.
    ...appPagePlugin(settings),
    // The person waits on the Freja eID page, which starts the transaction through the JSON API.
    flow: 'wait',
    // The broker gives up allowed_seconds after the start, at the first poll past it.
    timeLimitSeconds: settings.allowed_seconds + settings.poll_frequency,
    ...(settings.custom_identifier ? { customIdentifier: settings.custom_identifier } : {}),
    ...(simulator ? { simulatorPage: { url: simulator.appUrl, description: 'the simulated Freja eID app: scan the QR code or open it, then approve' } } : {}),
    probe: () => client.probe(),
    start: (request, options) => login.start(request, options),
    poll: (request, options) => login.poll(request, options),
    watch: (request, watcher) => waiting.watch(request, watcher),
    cancel: (request) => login.cancel(request),
    stopStarted: (authRef) => client.cancel(authRef),
    routes: (router) => frejaRoutes(router, login, views, id, settings, simulator?.appUrl),
    async close() {
      await waiting.close();
      await client.close();
      await simulator?.close();
    },
  };
}
