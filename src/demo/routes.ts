import Router from '@koa/router';
import type { Context } from 'koa';
import * as client from 'openid-client';
import { clientSchema, type ClientConfig } from '../config/schema.js';
import type { EidRegistry } from '../eids/registry.js';
import { supportedLocales } from '../http/locale.js';
import type { Views } from '../http/views.js';
import type { Logger } from '../log.js';
import { sharedSecret } from '../oidc/keys.js';
import type { Store } from '../store/store.js';
import { EXACT_CASE } from '../http/scoped.js';

const CLIENT_ID = 'demo';
const FLOW_COOKIE = 'neb_demo_flow';

/**
 * The demo's own client registration: a confidential web client of this broker. Its name is the
 * demo page's heading in each page language (client_name#sv, …), as the operator's texts give it,
 * so that the picker does not name it in English on a Swedish page.
 */
export async function demoClient(issuer: string, store: Store, views: Views): Promise<ClientConfig> {
  const names = Object.fromEntries(supportedLocales.map((locale) => [`client_name#${locale}`, views.translator(locale)('demo.title')]));
  return clientSchema.parse({
    client_id: CLIENT_ID,
    client_secret: await sharedSecret(store, 'demo-client'),
    redirect_uris: [`${issuer}/demo/callback`],
    post_logout_redirect_uris: [`${issuer}/demo`],
    client_uri: `${issuer}/demo`,
    client_name: views.translator('en')('demo.title'),
    ...names,
  });
}

interface DemoDependencies {
  issuer: string;
  store: Store;
  registry: EidRegistry;
  views: Views;
  log: Logger;
}

export const DEMO_PATH = '/demo';

/**
 * A small relying party at /demo that logs in through this very broker, the way any client
 * would: openid-client, discovery, PKCE, state and nonce, then token and userinfo.
 */
export async function demoRoutes({ issuer, store, registry, views, log }: DemoDependencies): Promise<Router> {
  const secret = await sharedSecret(store, 'demo-client');
  // Discovery waits for the first visit: the broker is not listening yet when this runs.
  let configuration: Promise<client.Configuration> | undefined;
  const discover = () =>
    (configuration ??= client
      .discovery(new URL(issuer), CLIENT_ID, secret, undefined, issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : {})
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      }));

  const router = new Router({ ...EXACT_CASE, prefix: DEMO_PATH });

  router.get('/', (ctx) => {
    views.render(ctx, 'demo', { acrValues: registry.acrValues });
  });

  router.get('/login', async (ctx) => {
    const config = await discover();
    const flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    const acr = typeof ctx.query.acr === 'string' && registry.byAcr(ctx.query.acr) ? ctx.query.acr : undefined;
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${issuer}/demo/callback`,
      scope: 'openid profile personal_number eid',
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
      ...(acr ? { acr_values: acr } : {}),
    });
    setFlow(ctx, Buffer.from(JSON.stringify(flow)).toString('base64url'));
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const stored = ctx.cookies.get(FLOW_COOKIE, { signed: true });
    setFlow(ctx, null);
    if (!stored) return views.render(ctx, 'demo-result', { noLogin: true });
    const flow = JSON.parse(Buffer.from(stored, 'base64url').toString()) as { verifier: string; state: string; nonce: string };
    try {
      const config = await discover();
      const tokens = await client.authorizationCodeGrant(config, new URL(ctx.originalUrl, issuer), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
      views.render(ctx, 'demo-result', { idToken: Object.entries(idToken), userinfo: Object.entries(userinfo) });
    } catch (err) {
      // The person reads the demo's own words in their language, with the support reference; what
      // went wrong, in openid-client's or the broker's English, goes to the log under that traceId.
      const { error, error_description: description } = err as { error?: unknown; error_description?: unknown };
      log.warn({ err, error, description }, 'the demo login did not complete');
      views.render(ctx, 'demo-result', typeof error === 'string' ? { error } : { failed: true });
    }
  });

  return router;
}

function setFlow(ctx: Context, value: string | null) {
  ctx.cookies.set(FLOW_COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', path: '/demo', overwrite: true });
}
