import { readFileSync } from 'node:fs';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Account } from 'oidc-provider';
import { Agent, request } from 'undici';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import type { CollectResponse, CompletionData, OrderResponse } from '../../providers/se-bankid/api/types.js';
import type { Store } from '../../src/store/store.js';

/**
 * The two interactions bare oidc-provider can run (targets/bare-provider.ts):
 *
 * - instant: logs a fixed person in at once, at the interaction's first request;
 * - bankid: what a minimal relying party integration of Swedish BankID does, with as many
 *   browser requests as the broker's login: a page, its script's start (an order at the RP
 *   API's `/auth` over mutual TLS, kept in the provider's Redis store) and its poll (`/collect`;
 *   once complete, the person from completionData is kept as the account and the interaction
 *   finished). The page is at the interaction's address (`/interaction/<uid>`: oidc-provider gives
 *   the interaction cookie that path, which start and poll are under); start and poll are at the
 *   broker's paths and answer as the broker's do, so the bench's browser runs both alike.
 *
 * The RP API is called with undici, as a simple integration would: the broker uses an HTTP/1.1
 * client of its own instead (providers/se-bankid/api/tls-http.ts), which this reference must
 * not borrow. Nothing of the broker's se-bankid plugin runs here but `qrPayload`, the HMAC the
 * QR code must carry for the simulator's phone to accept it.
 */
export interface BareInteraction {
  /** oidc-provider's interactions.url. */
  url(uid: string): string;
  findAccount(accountId: string): Promise<Account | undefined>;
  /** Koa middleware answering the interaction's requests. */
  middleware(provider: Provider): (ctx: Context, next: Next) => Promise<void>;
}

/** The mutual TLS towards BankID's RP API: its base URL and PEM files. */
export interface RpApi {
  apiUrl: string;
  ca: string;
  cert: string;
  key: string;
}

/** The claims of the one person the instant interaction logs in, as the broker releases them. */
const INSTANT_PERSON = {
  name: 'Astrid Lindqvist',
  given_name: 'Astrid',
  family_name: 'Lindqvist',
  birthdate: '1985-03-12',
  personal_number: '198503122437',
  country: 'SE',
  idp: 'se-bankid',
  idp_person_id: '198503122437',
  idp_request_id: '2c0e44d8-62b4-4b1b-8e43-4a9a42a9f1e6',
  identification_date: '2026-01-01T12:00:00.000Z',
};
const INSTANT_ACCOUNT_ID = 'bare-bench-person';

type Claims = Record<string, string>;

const account = (sub: string, claims: Claims): Account => ({ accountId: sub, claims: () => ({ sub, ...claims }) });

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Ends the interaction (`details`, as this request read it) with `accountId` logged in,
 * consenting to every scope asked for; returns where the browser goes next.
 */
async function finish(provider: Provider, ctx: Context, details: Details, accountId: string): Promise<string> {
  const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  return provider.interactionResult(ctx.req, ctx.res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

export function instantInteraction(): BareInteraction {
  return {
    url: (uid) => `/interaction/${uid}`,
    findAccount: async (sub) => account(sub, INSTANT_PERSON),
    middleware: (provider) => async (ctx, next) => {
      if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) return next();
      ctx.status = 303;
      ctx.redirect(await finish(provider, ctx, await provider.interactionDetails(ctx.req, ctx.res), INSTANT_ACCOUNT_ID));
    },
  };
}

/** What the integration keeps of an order between start and collect. */
interface KeptOrder {
  orderRef: string;
  qrStartToken: string;
  qrStartSecret: string;
  orderedAt: number;
}

/** As long as an interaction lives: an order outlives no login. */
const ORDER_TTL_SECONDS = 600;
const PAGE = '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>BankID</title><script src="/bankid.js" defer></script></head><body><main id="qr"></main></body></html>';

const orderKey = (uid: string) => `bankid-order:${uid}`;
const accountKey = (sub: string) => `bankid-account:${sub}`;

/** The order's QR code of this second, as the page shows it. */
const qrCode = (order: KeptOrder) => ({ payload: qrPayload(order.qrStartToken, order.qrStartSecret, (Date.now() - order.orderedAt) / 1000) });

/** The person as the broker releases them, from BankID's completionData. */
function claimsOf(completion: CompletionData, orderRef: string): Claims {
  const { personalNumber, name, givenName, surname } = completion.user;
  return {
    name,
    given_name: givenName,
    family_name: surname,
    birthdate: `${personalNumber.slice(0, 4)}-${personalNumber.slice(4, 6)}-${personalNumber.slice(6, 8)}`,
    personal_number: personalNumber,
    country: 'SE',
    idp: 'se-bankid',
    idp_person_id: personalNumber,
    idp_request_id: orderRef,
    identification_date: new Date().toISOString(),
  };
}

/** BankID's RP API over mutual TLS, with undici's kept-alive connections. */
function rpApi(rp: RpApi) {
  const dispatcher = new Agent({ connect: { ca: readFileSync(rp.ca), cert: readFileSync(rp.cert), key: readFileSync(rp.key) } });
  return async <T>(endpoint: 'auth' | 'collect', body: object): Promise<T> => {
    const answer = await request(`${rp.apiUrl}/${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher,
    });
    if (answer.statusCode !== 200) throw new Error(`BankID /${endpoint} answered ${answer.statusCode}: ${await answer.body.text()}`);
    return (await answer.body.json()) as T;
  };
}

/** `accountTtlSeconds`: how long the person is kept for the tokens' and userinfo's claims (the grant's lifetime). */
export function bankIdInteraction(store: Store, rp: RpApi, accountTtlSeconds: number): BareInteraction {
  const call = rpApi(rp);

  async function start(provider: Provider, ctx: Context): Promise<object> {
    const { uid } = await provider.interactionDetails(ctx.req, ctx.res);
    const order = await call<OrderResponse>('auth', { endUserIp: ctx.ip });
    const kept: KeptOrder = { orderRef: order.orderRef, qrStartToken: order.qrStartToken, qrStartSecret: order.qrStartSecret, orderedAt: Date.now() };
    await store.set(orderKey(uid), JSON.stringify(kept), ORDER_TTL_SECONDS);
    return { status: 'PENDING', qrCode: qrCode(kept) };
  }

  async function poll(provider: Provider, ctx: Context): Promise<object> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { uid } = details;
    const record = await store.get(orderKey(uid));
    if (!record) return { status: 'FAILED', hintCode: 'noOrder' };
    const order = JSON.parse(record.value) as KeptOrder;
    const collected = await call<CollectResponse>('collect', { orderRef: order.orderRef });
    if (collected.status !== 'complete') return notComplete(collected.status, collected.hintCode, order, uid);
    await store.delete(orderKey(uid));
    const sub = collected.completionData.user.personalNumber;
    await store.set(accountKey(sub), JSON.stringify(claimsOf(collected.completionData, order.orderRef)), accountTtlSeconds);
    return { status: 'COMPLETE', redirectTo: await finish(provider, ctx, details, sub) };
  }

  /** A collect that did not complete: pending shows this second's QR code, failed ends the order. */
  async function notComplete(status: 'pending' | 'failed', hintCode: string | undefined, order: KeptOrder, uid: string): Promise<object> {
    if (status === 'pending') return { status: 'PENDING', hintCode, qrCode: qrCode(order) };
    await store.delete(orderKey(uid));
    return { status: 'FAILED', hintCode };
  }

  const api: Record<string, (provider: Provider, ctx: Context) => Promise<object>> = { start, poll };
  /** The page (no call) and its script's calls. */
  const route = /^\/interaction\/[^/]+(?:\/api\/(start|poll))?$/;

  return {
    url: (uid) => `/interaction/${uid}`,
    async findAccount(sub) {
      const record = await store.get(accountKey(sub));
      return record && account(sub, JSON.parse(record.value) as Claims);
    },
    middleware: (provider) => async (ctx, next) => {
      const match = route.exec(ctx.path);
      const call = match?.[1];
      if (match && !call && ctx.method === 'GET') {
        ctx.type = 'html';
        ctx.body = PAGE;
      } else if (call && ctx.method === 'POST') {
        ctx.body = await api[call]!(provider, ctx);
      } else {
        await next();
      }
    },
  };
}
