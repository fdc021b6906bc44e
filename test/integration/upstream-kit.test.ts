import { beforeAll, describe, expect, it } from 'vitest';
import { startMitIdSimulator, danishPersons } from '../../providers/dk-mitid/simulator/index.js';
import { denmark } from '../../providers/countries/dk.js';
import { upstreamEid, type UpstreamEidDefinition } from '../../providers/upstream-oidc/index.js';
import { personEnded } from '../../providers/upstream-oidc/error-table.js';
import { text } from '../../src/eids/sdk.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { capturingLog } from '../support/ops.js';
import { findFreePort } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';
import { actAtUpstream, startSimulatedUpstream } from '../support/upstream.js';
import type { UpstreamSimulator } from '../../providers/upstream-oidc/simulator.js';

/**
 * The upstream OIDC kit's hooks, on eIDs defined here against the MitID simulator (plain JSON
 * userinfo with the person's claims): a call after the token with the access token, an
 * asynchronous mapping, the eID's own error codes and the parameters its support asks for.
 */
const ACR = 'urn:nordic-eid:test:kit';
const BROKEN_ACR = 'urn:nordic-eid:test:kit-broken';
const SCOPE = 'openid profile personal_number eid';

/** Access tokens the eID's mapping was handed: the hook sees the real one. */
const accessTokens: string[] = [];

/** An eID whose person comes from a resource read after the token: `resource` names the URL from the discovery document. */
function kitEid(acr: string, resource: (metadata: Readonly<Record<string, unknown>>) => string) {
  const definition: UpstreamEidDefinition<Record<string, never>> = {
    country: denmark,
    acrValues: [acr],
    options: {},
    protocol: { requestObject: 'none', encryptedResponses: false, userinfo: 'none' },
    scopes: () => ['openid', 'mitid', 'ssn'],
    authorizationParams: () => ({}),
    errors: { eid_doesnt_exist: personEnded({ error: 'eid_doesnt_exist', description: 'The person has no such eID.' }) },
    logParameters: ['traceId'],
    async outcome(result) {
      accessTokens.push(result.accessToken);
      const profile = await result.fetchResource('profile', resource(result.serverMetadata));
      return {
        person: { FullName: text(profile['mitid.identity_name']), PersonalNumber: text(profile['dk.cpr']), IdProviderRequestId: String(result.idToken.iat) },
        acr,
        amr: ['test'],
      };
    },
    simulator: startMitIdSimulator,
  };
  return upstreamEid(definition);
}

const captured = capturingLog();
let tb: TestBroker;
let rp: RelyingParty;
const simulators: UpstreamSimulator[] = [];

beforeAll(async () => {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const eids: Record<string, unknown> = {};
  for (const id of ['kit-profile', 'kit-broken']) {
    const upstream = await startSimulatedUpstream({ id, start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' }, issuer);
    simulators.push(upstream.simulator);
    eids[id] = upstream.section;
  }
  // A failure ends at the client, which the tests read, rather than taking the person back to the picker.
  tb = await startTestBroker({ issuer, port, eids, clients: [{ ...webClient, return_to_picker: false }], log: { level: 'info' } }, 'upstream-kit', {
    log: captured.log,
    eids: {
      'kit-profile': kitEid(ACR, (metadata) => String(metadata.userinfo_endpoint)),
      'kit-broken': kitEid(BROKEN_ACR, (metadata) => `${String(metadata.issuer)}/no-such-resource`),
    },
  });
  rp = await RelyingParty.discover(tb.issuer, webClient);
  for (const simulator of simulators) rp.browser.alsoFollows.add(new URL(simulator.issuer).origin);
  return () => Promise.all(simulators.map((simulator) => simulator.close()));
});

/** Starts a login through `eid`: where the broker sends the browser (the upstream's authorization endpoint). */
async function sentUpstream(eid: string): Promise<string> {
  const { response } = await rp.authorize({ scope: SCOPE });
  const uid = /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
  const started = await rp.browser.request(`/interaction/${uid}/api/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ eid }),
  });
  return ((await started.json()) as { redirectTo: string }).redirectTo;
}

/** Starts a login through `eid` and lands on its upstream's person picker. */
async function atUpstream(eid: string) {
  return (await rp.browser.follow(await sentUpstream(eid))).response;
}

describe('an eID that reads a resource of its upstream after the token', () => {
  it('maps the person from it, asynchronously, with the access token the code was redeemed for', async () => {
    const tokens = await rp.redeem(await actAtUpstream(rp, await atUpstream('kit-profile'), { person: 0 }));
    expect(tokens.claims()).toMatchObject({ acr: ACR, idp: 'kit-profile', name: danishPersons[0]!.claims['mitid.identity_name'], personal_number: danishPersons[0]!.claims['dk.cpr'] });
    expect(accessTokens.at(-1)).toMatch(/^[\w-]{20,}$/);
  });

  it('ends with server_error when that resource does not answer', async () => {
    const callback = await actAtUpstream(rp, await atUpstream('kit-broken'), { person: 0 });
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('error_description')).toBe('The answer from the eID failed validation.');
  });
});

describe("an upstream's error answer with the eID's own code", () => {
  it("reaches the client as the eID maps it; its description and trace id reach the log only", async () => {
    const state = new URL(await sentUpstream('kit-profile')).searchParams.get('state')!;
    const issuer = simulators[0]!.issuer;
    const description = `No Bank iD at this bank <b>${'x'.repeat(500)}</b>`;
    const { leftTo } = await rp.browser.follow(
      `/eid/kit-profile/callback?${new URLSearchParams({ state, iss: issuer, error: 'eid_doesnt_exist', error_description: description, traceId: 'Ab12Cd34Ef56Gh78' })}`,
    );
    expect(leftTo?.searchParams.get('error')).toBe('eid_doesnt_exist');
    expect(leftTo?.searchParams.get('error_description')).toBe('The person has no such eID.');
    const line = captured.lines().find((entry) => entry.upstreamError === 'eid_doesnt_exist')!;
    expect(line).toMatchObject({ upstreamParameters: { traceId: 'Ab12Cd34Ef56Gh78' }, traceId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(String(line.upstreamErrorDescription)).toHaveLength(200);
    expect(String(line.upstreamErrorDescription).startsWith('No Bank iD at this bank <b>')).toBe(true);
  });
});
