import { errors } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientRequirement } from '../../providers/se-bankid/flow.js';
import { TAGGED_FIELDS } from '../../src/clients/localized.js';
import { createClientRules } from '../../src/clients/rules.js';
import { staticClientProblem } from '../../src/clients/static.js';
import { clientMetadata } from '../../src/oidc/provider.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { sweden } from '../../providers/countries/se.js';
import type { EidPlugin } from '../../src/eids/plugin.js';

const plugin = (id: string, acrValues: string[], clientMetadata?: EidPlugin['clientMetadata']): EidPlugin => ({
  id,
  country: sweden,
  acrValues,
  flow: 'redirect',
  start: async () => ({ redirectTo: '/' }),
  ...(clientMetadata ? { clientMetadata } : {}),
});

const eids = [
  plugin('se-x', ['urn:x', 'urn:x:strong'], { x_level: z.enum(['low', 'high']) }),
  plugin('dk-y', ['urn:y']),
];
const rules = createClientRules({ issuer: 'https://id.example', eids });

function problem(metadata: Record<string, unknown>, written = true): string {
  try {
    rules.check({ redirect_uris: ['https://rp.example/cb'], ...metadata }, { written });
  } catch (err) {
    expect(err).toBeInstanceOf(errors.InvalidClientMetadata);
    return (err as InstanceType<typeof errors.InvalidClientMetadata>).error_description!;
  }
  return 'accepted';
}

describe('client rules', () => {
  it('add the core fields and the ones eIDs declare to OIDC metadata', () => {
    const core = ['display_name', 'allowed_eids', 'allowed_acr_values', 'default_ui_locales', 'return_to_picker', 'refresh_tokens_without_consent', 'frontchannel_logout_uri', 'frontchannel_logout_session_required', 'resource_server', 'registered_openly'];
    expect(rules.extraFields).toEqual([...core, ...TAGGED_FIELDS.map((tagged) => tagged.name), 'x_level']);
    expect(rules.extraFields).toContain('client_name#sv');
    expect(TAGGED_FIELDS).toHaveLength(25);
    expect(rules.eidFields.get('x_level')?.eid).toBe('se-x');
  });

  it.each([
    [{}, 'accepted'],
    [{ redirect_uris: ['https://id.example/own-page'] }, 'accepted'],
    [{ redirect_uris: ['http://id.example/cb'] }, 'redirect_uris[0]: must use https'],
    [{ x_level: 'medium' }, 'x_level: '],
    [{ x_level: 'high' }, 'accepted'],
    [{ allowed_eids: ['se-x'], allowed_acr_values: ['urn:x:strong'] }, 'accepted'],
    [{ allowed_acr_values: ['urn:y'], allowed_eids: ['se-x'] }, "allowed_acr_values[0]: urn:y is dk-y's, which allowed_eids leaves out"],
    [{ allowed_eids: ['se-x', 'fi-z'] }, 'allowed_eids[1]: no eID fi-z is configured (configured: se-x, dk-y)'],
    [{ application_type: 'native', redirect_uris: ['com.example:/cb'] }, 'token_endpoint_auth_method: a native app cannot keep a secret'],
    [{ application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['com.example:/cb'] }, 'accepted'],
    [{ redirect_uris: 'https://rp.example/cb' }, 'redirect_uris: must be an array of URIs'],
    [{ redirect_uris: [42] }, 'redirect_uris[0]: must be a string'],
    [{ backchannel_logout_uri: 'https://rp.example/backchannel' }, 'accepted'],
    [{ backchannel_logout_uri: 'http://rp.example/backchannel' }, 'backchannel_logout_uri: must use https'],
    [{ backchannel_logout_uri: 'https://rp.example/bc#x' }, 'backchannel_logout_uri: must not contain a fragment'],
    [{ frontchannel_logout_uri: 'https://rp.example/frontchannel', frontchannel_logout_session_required: true }, 'accepted'],
    [{ frontchannel_logout_uri: 'https://other.example/frontchannel' }, 'frontchannel_logout_uri: must have the scheme, host and port of one of the redirect_uris'],
    [{ frontchannel_logout_uri: 'https://rp.example:8443/frontchannel' }, 'frontchannel_logout_uri: must have the scheme, host and port'],
    [{ frontchannel_logout_session_required: 'yes' }, 'frontchannel_logout_session_required: '],
    [{ refresh_tokens_without_consent: true, grant_types: ['authorization_code'] }, 'refresh_tokens_without_consent: needs the refresh_token grant'],
    [{ 'client_name#sv': 'Butiken', 'logo_uri#fi': 'https://rp.example/fi.png', 'tos_uri#da': 'http://127.0.0.1/vilkar' }, 'accepted'],
    [{ 'client_name#sv': '' }, 'client_name#sv: must not be empty'],
    [{ 'logo_uri#fi': 'http://rp.example/logo.png' }, 'logo_uri#fi: must be an https URL'],
  ])('%j → %s', (metadata, expected) => {
    expect(problem(metadata)).toContain(expected);
  });

  it('check references only when asked: a stored client naming an eID turned off stays readable', () => {
    expect(problem({ allowed_eids: ['gone'] }, false)).toBe('accepted');
    expect(problem({ allowed_eids: ['gone'] }, true)).toContain('allowed_eids[0]');
  });

  it("run as oidc-provider's validator once per client, on the first extra field, with references for registration requests", () => {
    const metadata = { redirect_uris: ['https://rp.example/cb'], allowed_eids: ['gone'] };
    expect(() => rules.validator(undefined, 'display_name', undefined, metadata)).not.toThrow();
    const registration = { oidc: { body: {} } } as never;
    expect(() => rules.validator(registration, 'display_name', undefined, metadata)).toThrow(errors.InvalidClientMetadata);
    expect(() => rules.validator(registration, 'allowed_eids', undefined, metadata)).not.toThrow();
  });

  it("refuse a registration that names the client in a language the pages do not speak, which oidc-provider would drop without a word", () => {
    const registering = (body: object) => {
      try {
        rules.validator({ oidc: { body } } as never, 'display_name', undefined, { redirect_uris: ['https://rp.example/cb'] });
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(errors.InvalidClientMetadata);
        return (err as InstanceType<typeof errors.InvalidClientMetadata>).error_description!;
      }
    };
    expect(registering({ 'client_name#sv': 'Butiken' })).toBe('accepted');
    expect(registering({ 'client_name#de': 'Der Laden' })).toContain("client_name#de: the broker's pages are in sv, en, nb, fi, da only");
    expect(registering({ 'policy_uri#nn': 'https://rp.example/nn' })).toBe('accepted');
    expect(registering({ 'policy_uri#nn_NO': 'https://rp.example/nn' })).toBe('policy_uri#nn_NO: not a language tag as RFC 5646 writes one: policy_uri#nn-NO');
    // Only the human-readable fields: any other unknown metadata is ignored, as RFC 7591 asks.
    expect(registering({ 'redirect_uris#sv': [] })).toBe('accepted');
  });

  it.each([
    [[plugin('a', ['urn:a'], { Level: z.string() })], 'eids.a: client metadata Level must be lowercase words joined by _'],
    [[plugin('a', ['urn:a'], { level: z.string() })], 'eids.a: client metadata level must be lowercase words joined by _'],
    [[plugin('a', ['urn:a'], { redirect_uris: z.string() })], "eids.a: client metadata redirect_uris is the core's own"],
    [[plugin('a', ['urn:a'], { display_name: z.string() })], "eids.a: client metadata display_name is the core's own"],
    [[plugin('a', ['urn:a'], { a_b: z.string() }), plugin('b', ['urn:b'], { a_b: z.string() })], 'eids.b: client metadata a_b is already declared by a'],
  ])('refuse eIDs whose declared fields cannot be told apart: %#', (plugins, message) => {
    expect(() => createClientRules({ issuer: 'https://id.example', eids: plugins })).toThrow(new ConfigError(message));
  });
});

describe('static clients', () => {
  const configured = (extra: Record<string, unknown>) =>
    parseConfig({ clients: [{ client_id: 'a', client_secret: 's'.repeat(32), redirect_uris: ['https://a.example/cb'], ...extra }] }).clients[0]!;
  const problemOf = (extra: Record<string, unknown>) => staticClientProblem(configured(extra), clientMetadata(configured(extra)) as Record<string, unknown>, rules);

  it('may carry the fields eIDs declare; a key no configured eID declares is an unknown key', () => {
    expect(problemOf({ x_level: 'high' })).toBeUndefined();
    expect(problemOf({ y_level: 'high' })).toBe('y_level: unknown key; did you mean x_level?');
    // Keys that cannot be an eID's are refused when the file is read.
    expect(() => configured({ colour: 'red' })).toThrow(new ConfigError('clients[0].colour: unknown key'));
  });

  it('must name configured eIDs and acr values, and keep the rules of every client', () => {
    expect(problemOf({ allowed_eids: ['fi-z'] })).toBe('allowed_eids[0]: no eID fi-z is configured (configured: se-x, dk-y)');
    expect(problemOf({ allowed_acr_values: ['urn:nope'] })).toMatch(/^allowed_acr_values\[0\]: /);
    expect(problemOf({ redirect_uris: ['http://a.example/cb'] })).toMatch(/^redirect_uris\[0\]: must use https/);
  });
});

describe("Swedish BankID: a client's requirement over the configured one", () => {
  it.each([
    [{}, undefined, {}],
    [{ pinCode: true }, undefined, { pinCode: true }],
    [{}, { mrtd: true, cardReader: 'class1' }, { mrtd: true, cardReader: 'class1' }],
    [{ pinCode: true }, { pinCode: false }, { pinCode: true }],
    [{ pinCode: false }, { pinCode: true }, { pinCode: true }],
    [{ cardReader: 'class2' }, { cardReader: 'class1' }, { cardReader: 'class2' }],
    [{ cardReader: 'class1' }, { cardReader: 'class2' }, { cardReader: 'class2' }],
    [{ certificatePolicies: ['1.2.752.78.1.5'] }, { certificatePolicies: ['1.2.752.78.*'] }, { certificatePolicies: ['1.2.752.78.1.5'] }],
    [{}, { certificatePolicies: ['1.2.752.78.1.5'] }, { certificatePolicies: ['1.2.752.78.1.5'] }],
  ] as const)('configured %j, client %j → %j', (configured, client, expected) => {
    expect(clientRequirement(configured as never, client as never)).toEqual(expected);
  });
});
