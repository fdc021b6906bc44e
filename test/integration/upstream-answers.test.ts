import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import type { IdTokenForgery, SimulatorFaults } from '../../providers/upstream-oidc/simulator.js';
import { capturingLog, Scrape } from '../support/ops.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';

const ACR = 'urn:nordic-eid:no:bankid';
let bed: UpstreamTestBed;
const captured = capturingLog();

beforeAll(async () => {
  bed = await startUpstreamTestBed('upstream-answers', [{ id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' }], undefined, {}, { log: captured.log });
});

/** Starts a login and stops where the browser would go to the upstream: the state the broker sent it. */
async function stateSentUpstream(): Promise<string> {
  const start = await bed.rp.browser.request(await bed.rp.authorizationUrl({ acr_values: ACR }));
  const interaction = await bed.rp.browser.request(start.headers.get('location')!);
  return new URL(interaction.headers.get('location')!).searchParams.get('state')!;
}

/** The upstream's error answer, as its redirect to the broker's callback would carry it. */
async function upstreamAnswers(params: Record<string, string>): Promise<URL> {
  const state = await stateSentUpstream();
  const { leftTo } = await bed.rp.browser.follow(`/eid/no-bankid/callback?${new URLSearchParams({ state, ...params })}`);
  if (!leftTo) throw new Error('the login did not return to the client');
  return leftTo;
}

const markup = `<script>alert(1)</script><a href="https://evil.example">${'x'.repeat(6_000)}</a>`;

describe("an upstream's error answer", () => {
  it("reaches the client in the broker's own words, never the upstream's text", async () => {
    const issuer = bed.simulators['no-bankid']!.issuer;
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ error: markup, error_description: markup }, 'server_error', 'The eID refused the request.'],
      [{ error: 'access_denied', error_description: markup }, 'access_denied', 'The person cancelled or was refused at the eID.'],
      [{ error: 'temporarily_unavailable', error_description: 'Please visit https://evil.example' }, 'server_error', 'The eID is temporarily unavailable.'],
    ];
    for (const [params, error, description] of cases) {
      const callback = await upstreamAnswers({ ...params, iss: issuer });
      expect(callback.searchParams.get('error')).toBe(error);
      expect(callback.searchParams.get('error_description')).toBe(description);
      expect(callback.searchParams.get('state')).toBe(bed.rp.flow.state);
    }
  });

  it.each([
    ['access_denied', 'access_denied', 'The person cancelled or was refused at the eID.', 'ended', 30],
    ['login_required', 'server_error', "The eID would have had to ask the person, which the broker's request did not let it do.", 'refused', 50],
    ['consent_required', 'server_error', "The eID would have had to ask the person, which the broker's request did not let it do.", 'refused', 50],
    ['interaction_required', 'server_error', "The eID would have had to ask the person, which the broker's request did not let it do.", 'refused', 50],
    ['invalid_request', 'server_error', 'The eID refused the request.', 'refused', 50],
    ['a_code_never_heard_of', 'server_error', 'The eID refused the request.', 'refused', 50],
    ['temporarily_unavailable', 'server_error', 'The eID is temporarily unavailable.', 'outage', 40],
    ['server_error', 'server_error', 'The eID failed.', 'outage', 40],
  ])('%s: the client gets %s, and the log says who ended the login', async (code, error, description, outcomeKind, level) => {
    const counted = async () => (await Scrape.of(`${bed.tb.issuer}/metrics`)).value('neb_eid_request_failures_total', { eid: 'no-bankid', operation: 'authorization', reason: code });
    const before = await counted();
    const callback = await upstreamAnswers({ error: code, iss: bed.simulators['no-bankid']!.issuer });
    expect([callback.searchParams.get('error'), callback.searchParams.get('error_description')]).toEqual([error, description]);
    // Only the person's own cancel is one: a code for a request without interaction was taken for it.
    expect(captured.lines().findLast((line) => line.upstreamError === code)).toMatchObject({ outcomeKind, level });
    // An outage the eID reports counts toward its circuit, as a failed call to it does.
    expect(await counted()).toBe(outcomeKind === 'outage' ? before + 1 : before);
  });

  it('is checked for its issuer (RFC 9207) before its code is believed', async () => {
    const discovery = (await (await fetch(`${bed.simulators['no-bankid']!.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
    for (const iss of [{ iss: 'https://evil.example' }, {}] as Array<Record<string, string>>) {
      const callback = await upstreamAnswers({ error: 'access_denied', ...iss });
      expect(callback.searchParams.get('error')).toBe('server_error');
      expect(callback.searchParams.get('error_description')).toBe('The answer from the eID failed validation.');
    }
  });
});

describe("an upstream ID token's iat", () => {
  const loginWithIssuedAt = async (aheadSeconds: number) => {
    bed.simulators['no-bankid']!.faults.issuedAtAheadSeconds = aheadSeconds;
    try {
      const start = await bed.rp.authorize({ acr_values: ACR });
      return await actAtUpstream(bed.rp, start.response, { person: 0 });
    } finally {
      delete bed.simulators['no-bankid']!.faults.issuedAtAheadSeconds;
    }
  };

  it('an hour in the future → server_error, never a login', async () => {
    const callback = await loginWithIssuedAt(3600);
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('a few seconds ahead (clock skew) is accepted', async () => {
    const callback = await loginWithIssuedAt(20);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('an upstream ID token the broker must refuse', () => {
  const loginWith = async (faults: Partial<SimulatorFaults>) => {
    const simulator = bed.simulators['no-bankid']!;
    Object.assign(simulator.faults, faults);
    try {
      const start = await bed.rp.authorize({ acr_values: ACR });
      return await actAtUpstream(bed.rp, start.response, { person: 0 });
    } finally {
      for (const key of Object.keys(faults)) delete simulator.faults[key as keyof SimulatorFaults];
    }
  };
  const now = () => Math.floor(Date.now() / 1000);
  const claimed = (change: (claims: Record<string, unknown>) => Record<string, unknown>): IdTokenForgery => ({ claims: change });
  const forgeries: Array<[string, IdTokenForgery]> = [
    ['unsigned (alg none)', { signing: 'none' }],
    ['HS256 with the public key as its secret', { signing: 'hs256-public-key' }],
    ['for another audience', claimed((claims) => ({ ...claims, aud: 'another-client' }))],
    ['for several audiences, authorized for another party', claimed((claims) => ({ ...claims, aud: [claims.aud, 'another-client'], azp: 'another-client' }))],
    ['from another issuer', claimed((claims) => ({ ...claims, iss: 'https://evil.example' }))],
    ['expired two minutes ago', claimed((claims) => ({ ...claims, iat: now() - 720, exp: now() - 120 }))],
    ['not valid for another hour (nbf)', claimed((claims) => ({ ...claims, nbf: now() + 3600 }))],
    ['without its nonce', claimed(({ nonce: _nonce, ...claims }) => claims)],
    ['whose at_hash is not that of the access token', claimed((claims) => ({ ...claims, at_hash: 'AAAAAAAAAAAAAAAAAAAAAA' }))],
  ];

  it.each(forgeries)('%s → server_error, never a login', async (_name, idToken) => {
    const callback = await loginWith({ idToken });
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it("one with a claim the eID's mapping cannot read (an amr member no text) → server_error saying so, not an upstream out of reach", async () => {
    const callback = await loginWith({ idToken: claimed((claims) => ({ ...claims, amr: [{ toString: 'amr-value-of-the-test' }] })) });
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('error_description')).toBe("The broker could not read the person's details in the eID's answer.");
    expect(callback.searchParams.get('code')).toBeNull();
    // Logged as the broker's fault, where in the mapping, and without what the answer held.
    expect(captured.lines().find((line) => line.outcomeKind === 'unmapped')).toMatchObject({ level: 50, faultType: 'TypeError', faultAt: expect.stringContaining('no-bankid') });
    expect(captured.text()).not.toContain('amr-value-of-the-test');
  });

  it("one re-signed with its access token's at_hash logs in", async () => {
    const atHashOf = (accessToken: string) => createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
    const callback = await loginWith({ idToken: { claims: (claims, response) => ({ ...claims, at_hash: atHashOf(String(response.access_token)) }) } });
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it.each([
    ['announced by its Content-Length', false],
    ['sent chunked, its size unannounced', true],
  ])('a token response of 8 MiB, %s → server_error, never read whole', async (_name, tokenResponseChunked) => {
    const callback = await loginWith({ tokenResponsePaddingBytes: 8 * 1024 * 1024, tokenResponseChunked });
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('a token response sent chunked, of a usual size, logs in', async () => {
    const callback = await loginWith({ tokenResponseChunked: true });
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('a token endpoint that answers no token response', () => {
  it.each(['redirect', 'html', 'trickle', 'truncated', 'reset'] as const)('%s → server_error, in time and never a login', async (tokenAnswer) => {
    const simulator = bed.simulators['no-bankid']!;
    simulator.faults.tokenAnswer = tokenAnswer;
    try {
      const start = await bed.rp.authorize({ acr_values: ACR });
      const callback = await actAtUpstream(bed.rp, start.response, { person: 0 });
      expect(callback.searchParams.get('error')).toBe('server_error');
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      delete simulator.faults.tokenAnswer;
    }
  });
});

describe('a userinfo endpoint that answers no userinfo', () => {
  const json = 'application/json';
  it.each([
    { status: 200, body: '<html>proxy</html>', contentType: 'text/html' },
    { status: 200, body: '{"sub":', contentType: json },
    { status: 200, body: '', contentType: json },
    { status: 200, body: 'null', contentType: json },
    { status: 200, body: '[]', contentType: json },
    { status: 200, body: '{}', contentType: json },
    { status: 200, body: '{"sub":"someone-else"}', contentType: json },
    { status: 200, body: 'a.b.c', contentType: 'application/jwt' },
    { status: 302, body: '', contentType: 'text/plain' },
    { status: 401, body: '{"error":"invalid_token"}', contentType: json },
    { status: 500, body: 'boom', contentType: 'text/plain' },
    { status: 200, body: JSON.stringify({ padding: 'x'.repeat(4 * 1024 * 1024) }), contentType: json },
  ])('$status $contentType ($body.length characters) → server_error, in time and never a login', async (answer) => {
    const simulator = bed.simulators['no-bankid']!;
    simulator.faults.userinfoAnswer = answer;
    try {
      const start = await bed.rp.authorize({ acr_values: ACR, scope: 'openid profile' });
      const callback = await actAtUpstream(bed.rp, start.response, { person: 0 });
      expect(callback.searchParams.get('error')).toBe('server_error');
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      delete simulator.faults.userinfoAnswer;
    }
  });
});
