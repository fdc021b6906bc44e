import { describe, expect, it } from 'vitest';
import { sweden } from '../../providers/countries/se.js';
import type { EidPlugin, EidPluginFactory } from '../../src/eids/plugin.js';
import { checkEids, EidRegistry } from '../../src/eids/registry.js';
import { chooseEid } from '../../src/login/choose-eid.js';

const plugin = (id: string, acrValues: string[]): EidPlugin => ({
  id,
  country: sweden,
  acrValues,
  flow: 'redirect',
  start: async () => ({ redirectTo: '/' }),
});

const bankid = plugin('se-bankid', ['urn:nordic-eid:se:bankid', 'urn:nordic-eid:se:bankid:same-device', 'urn:nordic-eid:se:bankid:other-device']);
const mitid = plugin('dk-mitid', ['urn:nordic-eid:dk:mitid', 'urn:nordic-eid:dk:mitid:substantial', 'urn:nordic-eid:dk:mitid:high']);
/** No circuit is open in these tests: every eID can take logins. */
const everyEidUp = { isAvailable: () => true };
const registry = new EidRegistry([bankid, mitid], everyEidUp);

describe('chooseEid', () => {
  it('offers every allowed eID on the picker when no acr is asked for', () => {
    expect(chooseEid(registry, undefined, undefined)).toEqual({ kind: 'picker', options: [{ plugin: bankid }, { plugin: mitid }] });
  });

  it('goes straight to the only eID a client may use', () => {
    expect(chooseEid(registry, undefined, ['dk-mitid'])).toEqual({ kind: 'eid', plugin: mitid });
  });

  it('goes straight to the eID of a single acr value, keeping the exact acr', () => {
    expect(chooseEid(registry, 'urn:nordic-eid:dk:mitid:high', undefined)).toEqual({ kind: 'eid', plugin: mitid, acr: 'urn:nordic-eid:dk:mitid:high' });
  });

  it('takes the first acr of an eID when several of its values are asked for', () => {
    expect(chooseEid(registry, 'urn:nordic-eid:se:bankid:other-device urn:nordic-eid:se:bankid', undefined)).toEqual({
      kind: 'eid',
      plugin: bankid,
      acr: 'urn:nordic-eid:se:bankid:other-device',
    });
  });

  it('shows the picker for acr values of several eIDs', () => {
    const choice = chooseEid(registry, 'urn:nordic-eid:dk:mitid urn:nordic-eid:se:bankid', undefined);
    expect(choice).toEqual({
      kind: 'picker',
      options: [
        { plugin: mitid, acr: 'urn:nordic-eid:dk:mitid' },
        { plugin: bankid, acr: 'urn:nordic-eid:se:bankid' },
      ],
    });
  });

  it('drops acr values of eIDs the client may not use, if any allowed one is left', () => {
    expect(chooseEid(registry, 'urn:nordic-eid:dk:mitid urn:nordic-eid:se:bankid', ['se-bankid'])).toMatchObject({ kind: 'eid', plugin: bankid });
  });

  it('refuses an unknown acr value even beside known ones', () => {
    expect(chooseEid(registry, 'urn:nordic-eid:se:bankid urn:nordic-eid:xx', undefined)).toEqual({
      kind: 'refused',
      error: 'invalid_request',
      description: 'acr value urn:nordic-eid:xx is not supported',
    });
  });

  it('refuses when every eID asked for is one the client may not use', () => {
    expect(chooseEid(registry, 'urn:nordic-eid:dk:mitid', ['se-bankid'])).toMatchObject({ kind: 'refused', error: 'unauthorized_client' });
  });

  it('refuses when the client may use no configured eID', () => {
    expect(chooseEid(registry, undefined, ['no-bankid'])).toMatchObject({ kind: 'refused', error: 'unauthorized_client' });
  });

  it('a refusal names what the eIDs had to serve when the request narrowed them, with acr_values or without', () => {
    expect(chooseEid(registry, undefined, [], undefined, 'authorization_details of type sign')).toEqual({
      kind: 'refused',
      error: 'unauthorized_client',
      description: 'no eID this client may use serves authorization_details of type sign',
    });
    expect(chooseEid(registry, 'urn:nordic-eid:dk:mitid', ['se-bankid'], undefined, 'authorization_details of type sign')).toEqual({
      kind: 'refused',
      error: 'unauthorized_client',
      description: 'no eID this client may use (with the acr_values asked for) serves authorization_details of type sign',
    });
  });

  it("the check step refuses two eIDs claiming one acr value, naming the later one's section", async () => {
    const declaring = (acrValues: readonly string[]): EidPluginFactory => ({ check: () => ({ settings: {}, acrValues }), start: async () => bankid });
    const factories = { 'se-bankid': declaring(bankid.acrValues), copy: declaring(['urn:nordic-eid:se:bankid']) };
    const { eids, problems } = await checkEids({ 'se-bankid': {}, copy: {} }, factories, 'https://broker.example');
    expect(eids.map((eid) => eid.id)).toEqual(['se-bankid', 'copy']);
    expect(problems).toEqual(['eids.copy: acr value urn:nordic-eid:se:bankid is already served by se-bankid']);
  });
});
