import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { RelyingParty } from '../support/relying-party.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';
import { admin, ADMIN_TOKEN, createClient } from './admin-support.js';

/** The broker's ttl.interaction here: the time a login has to choose and start an eID. */
const CHOOSING_SECONDS = 6;
const SCOPE = 'openid profile personal_number';

let bed: UpstreamTestBed;

beforeAll(async () => {
  // Norwegian BankID, an upstream OIDC eID, beside the test double: the login has a picker.
  bed = await startUpstreamTestBed(
    'expiry',
    [{ id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true } }],
    undefined,
    { ttl: { interaction: CHOOSING_SECONDS }, eids: { 'test-double': {} }, admin: { token: ADMIN_TOKEN } },
  );
  bed.rp.browser.headers.set('accept-language', 'en');
});

/** Waits until `ms` after `since` (epoch ms). */
const until = (since: number, ms: number) => sleep(Math.max(0, since + ms - Date.now()));

/** Starts a login, lands on the picker; answers its uid. */
async function onPicker(params: Record<string, string> = {}, rp = bed.rp): Promise<string> {
  const { response, leftTo } = await rp.authorize({ scope: SCOPE, ...params });
  if (leftTo) throw new Error(`the login ended early at ${leftTo.href}`);
  const uid = /\/interaction\/([^/?]+)\/?$/.exec(new URL(response.url).pathname)?.[1];
  if (!uid) throw new Error(`expected the picker, got ${response.status} ${response.url}`);
  return uid;
}

/** The frontend JSON API's start of `eid`. */
function apiStart(uid: string, eid: string) {
  return bed.rp.browser.request(`/interaction/${uid}/api/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', origin: bed.tb.issuer },
    body: JSON.stringify({ eid }),
  });
}

describe('an upstream OIDC eID started shortly before ttl.interaction runs out', () => {
  it('comes back after ttl.interaction, and the login still ends at the client with a code', async () => {
    const begun = Date.now();
    const uid = await onPicker();
    await until(begun, (CHOOSING_SECONDS - 3) * 1000);
    const started = await apiStart(uid, 'no-bankid');
    expect(started.status).toBe(200);
    const { redirectTo } = (await started.json()) as { redirectTo: string };
    const { response: atUpstream } = await bed.rp.browser.follow(redirectTo);
    // The person takes their time at the eID: its answer comes back past ttl.interaction.
    await until(begun, (CHOOSING_SECONDS + 1.5) * 1000);
    const tokens = await bed.rp.redeem(await actAtUpstream(bed.rp, atUpstream, { person: 1 }));
    expect(tokens.claims()).toMatchObject({ acr: 'urn:nordic-eid:no:bankid', personal_number: '45018012301' });
  });
});

describe('a login whose person idles on the picker past ttl.interaction', () => {
  it('starts no eID: the page says the time ran out, and its way back brings the client access_denied with its state and iss', async () => {
    const begun = Date.now();
    const uid = await onPicker();
    await until(begun, (CHOOSING_SECONDS + 1) * 1000);

    // The person chooses an eID at last.
    const { response, leftTo } = await bed.rp.browser.submit(`/interaction/${uid}/select`, { eid: 'no-bankid' });
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toContain('The time to start your login ran out, so this login has ended. Go back to the service and start again.');
    const back = /<a class="button" href="([^"]+)">Back to Web &lt;App&gt; &amp; Co<\/a>/.exec(page)?.[1];
    expect(back).toBe(`${bed.tb.issuer}/auth/${uid}`);

    // A custom frontend's start, meanwhile, hears that the login is over (and goes to the login's page, which says the same).
    const refused = await apiStart(uid, 'test-double');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'session_expired' });
    const again = await bed.rp.browser.request(`/interaction/${uid}/`, { headers: { accept: 'text/html' } });
    expect(await again.text()).toContain('The time to start your login ran out');

    const { leftTo: callback } = await bed.rp.browser.follow(back!.replaceAll('&amp;', '&'));
    expect(callback?.origin + callback!.pathname).toBe(bed.rp.redirectUri);
    expect(Object.fromEntries(callback!.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'The login expired: no eID was started in the time allowed.',
      state: bed.rp.flow.state,
      iss: bed.tb.issuer,
    });
  });

  it('with response_mode=form_post, the way back posts the error to the redirect_uri: the picker reloaded late is the next step', async () => {
    const begun = Date.now();
    const uid = await onPicker({ response_mode: 'form_post' });
    await until(begun, (CHOOSING_SECONDS + 1) * 1000);

    const page = await (await bed.rp.browser.request(`/interaction/${uid}/`, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('The time to start your login ran out');
    const back = /<a class="button" href="([^"]+)">Back to /.exec(page)![1]!;
    const { response, leftTo } = await bed.rp.browser.follow(back.replaceAll('&amp;', '&'));
    expect(leftTo).toBeUndefined();
    const posted = await response.text();
    expect(/<form method="post" action="([^"]+)" id="form-post">/.exec(posted)?.[1]).toBe(bed.rp.redirectUri);
    const fields = Object.fromEntries([...posted.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, name, value]) => [name!, value!]));
    expect(fields).toEqual({ error: 'access_denied', error_description: 'The login expired: no eID was started in the time allowed.', state: bed.rp.flow.state, iss: bed.tb.issuer });
  });

  it('whose redirect_uri the client no longer has registered sends nothing there: the plain expired page, with the way back to the client\'s home page', async () => {
    const shop = await createClient(bed.tb.issuer, {
      client_name: 'The Shop',
      client_uri: 'https://shop.example/',
      redirect_uris: ['https://shop.example/callback', 'https://shop.example/v2/callback'],
    });
    const rp = await RelyingParty.discover(bed.tb.issuer, { ...shop, redirect_uris: ['https://shop.example/callback'] });
    rp.browser.headers.set('accept-language', 'en');
    const begun = Date.now();
    const uid = await onPicker({}, rp);
    // Meanwhile the operator moves the client to its new address.
    expect((await admin(bed.tb.issuer, 'PATCH', `/admin/clients/${shop.client_id}`, { redirect_uris: ['https://shop.example/v2/callback'] })).status).toBe(200);
    await until(begun, (CHOOSING_SECONDS + 1) * 1000);

    const page = await (await rp.browser.request(`/interaction/${uid}/`, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('This login has expired, has already finished, or was started in another browser.');
    expect(page).not.toContain(`/auth/${uid}`);
    expect(page).toContain('<a class="button" href="https://shop.example/">Back to The Shop</a>');
  });
});
