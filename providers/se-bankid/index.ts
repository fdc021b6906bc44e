import { pluginFolder, SIMULATOR_KEY_LIFETIME_MS, simulatorCached, type EidPluginFactory, type PluginContext, type StartedEid } from '../../src/eids/sdk.js';
import { sweden } from '../countries/se.js';
import { appPagePlugin } from '../shared/app-page.js';
import { BankIdClient } from './api/client.js';
import { certificateNotAfter, checkBankIdConfig, requirement, type BankIdSetup, type BankIdTls } from './config.js';
import { acrValues, BankIdLogin } from './flow.js';
import { begunOrder, OrderStore } from './orders.js';
import { bankIdDetailTypes } from './transactions.js';
import { BankIdPhone } from './phone.js';
import { bankIdRoutes } from './routes.js';
import { WaitingOrders } from './waiting.js';
import type { BankIdSimulator } from './simulator/server.js';

/** Headroom over a login's allowed time, so a finished order still answers its last polls. */
const ORDER_TTL_MARGIN_SECONDS = 300;

const DAY_MS = 86_400_000;

/** In simulator mode the broker runs its own BankID: a real HTTPS server with mutual TLS. */
async function startSimulator(id: string, settings: BankIdSetup) {
  // Loaded only in simulator mode: production never pays for the simulator's code. The PKI is
  // made once and kept on disk (about 1 s of CPU with its code); made again a day before it expires.
  const { startBankIdSimulator } = await import('./simulator/server.js');
  const pki = await simulatorCached(
    `${id}-pki`,
    async () => (await import('./simulator/certificates.js')).createTestPki(),
    (made) => Math.min(Date.now() + SIMULATOR_KEY_LIFETIME_MS, certificateNotAfter({ ca: made.serverCa, ...made.client }).getTime() - DAY_MS),
  );
  const simulator = await startBankIdSimulator({
    pki,
    controlPort: settings.simulator.control_port,
    pickupTimeoutSeconds: settings.simulator.pickup_timeout_seconds,
  });
  const tls: BankIdTls = { ca: pki.serverCa, cert: pki.client.cert, key: pki.client.key };
  return { simulator, url: simulator.apiUrl, tls };
}

/** Swedish BankID, RP API v6: secure start with an animated QR code or autostart. */
export const seBankId: EidPluginFactory<BankIdSetup> = {
  check(section, { issuer }) {
    const checked = checkBankIdConfig(section, issuer);
    if ('issues' in checked) return checked;
    // A client's own requirement, in the shape of the configured one; see BankIdLogin's #requirement.
    return { settings: checked.data, acrValues: [acrValues.any, acrValues.this, acrValues.other], clientMetadata: { bankid_requirement: requirement } };
  },
  start: startBankId,
};

async function startBankId({ id, settings, issuer, store, log, views, telemetry }: PluginContext<BankIdSetup>): Promise<StartedEid> {
  const eidLog = settings.custom_identifier ? log.child({ custom_identifier: settings.custom_identifier }) : log;
  let simulator: BankIdSimulator | undefined;
  let endpoint: { url: string; tls: BankIdTls };
  if (settings.endpoint) {
    endpoint = settings.endpoint;
  } else {
    ({ simulator, ...endpoint } = await startSimulator(id, settings));
    eidLog.info({ app: simulator.appUrl }, 'simulated BankID: open the app page to play the person');
  }

  telemetry.certificate('client certificate', certificateNotAfter(endpoint.tls));
  const client = new BankIdClient({ ...endpoint, timeoutMs: settings.timeout_ms, pipelineCollects: settings.pipeline_collects, log: eidLog, telemetry });
  const orders = new OrderStore(store, {
    ttlSeconds: settings.allowed_polling_for_minutes * 60 + ORDER_TTL_MARGIN_SECONDS,
    pollFrequencySeconds: settings.poll_frequency,
  });
  const login = new BankIdLogin({
    id,
    issuer,
    client,
    orders,
    settings,
    views,
    log: eidLog,
    ...(simulator ? { simulatedAppUrl: simulator.appUrl } : {}),
  });
  const waiting = new WaitingOrders({ login, orders, pollFrequencyMs: settings.poll_frequency * 1000, log: eidLog });

  return {
    id,
    country: sweden,
    assets: pluginFolder(import.meta.url),
    // The device question, its remembered answer, the QR code's settings and the page's script kit.
    ...appPagePlugin(settings),
    // The person waits on the BankID page, which starts the order through the JSON API.
    flow: 'wait',
    // Each start allows allowed_polling_for_minutes (restarts of its QR code included), ended by the first collect past it.
    timeLimitSeconds: settings.allowed_polling_for_minutes * 60 + settings.poll_frequency,
    // Signatures, payments and login messages, asked for with RFC 9396 authorization_details (transactions.ts).
    authorizationDetailsTypes: bankIdDetailTypes,
    evidence: (orderRef) => orders.evidence(orderRef),
    ...(settings.custom_identifier ? { customIdentifier: settings.custom_identifier } : {}),
    ...(simulator ? { simulatorPage: { url: simulator.appUrl, description: 'the simulated BankID app: scan the QR code or open it, then approve' } } : {}),
    probe: () => client.probe(),
    start: (request, options) => login.start(request, options),
    poll: (request, options) => login.poll(request, options, waiting),
    watch: (request, watcher) => waiting.watch(request, watcher),
    backchannel: new BankIdPhone({ client, login, orders, waiting, settings, log: eidLog }),
    cancel: (request) => login.cancel(request),
    stopStarted: (orderRef) => begunOrder(client, orderRef).cancel(),
    routes: (router) => bankIdRoutes(router, login, views, id, settings, simulator?.appUrl),
    async close() {
      await waiting.close();
      await client.close();
      await simulator?.close();
    },
  };
}
