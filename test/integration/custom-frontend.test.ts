import { beforeAll, describe, expect, it } from 'vitest';
import { logInWithBankIdOnAnotherDevice } from '../../docs/examples/bankid-custom-frontend.mjs';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { startBankIdTestBed, type BankIdTestBed } from '../../providers/se-bankid/test/support.js';
import { bankIdPhone } from '../support/interop.js';

let bed: BankIdTestBed;

beforeAll(async () => {
  bed = await startBankIdTestBed('custom-frontend');
});

describe('the custom-frontend example in docs/examples', () => {
  it('completes a Swedish BankID login through the JSON API alone', async () => {
    const { response } = await bed.rp.authorize();
    const uid = /\/interaction\/([^/]+)\//.exec(response.url)![1]!;
    const seen: string[] = [];
    const phone = bankIdPhone(bed.simulator);

    const final = await logInWithBankIdOnAnotherDevice({
      uid,
      request: (path: string, init: RequestInit) => bed.rp.browser.request(path, init),
      wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300))),
      // The person's phone: scan the first QR code shown, then approve once asked to.
      onStatus: (state) => {
        seen.push(state.messageCode ?? '');
        phone(state);
      },
    });

    expect(final.status).toBe('COMPLETE');
    expect(seen).toEqual(expect.arrayContaining(['RFA1', 'RFA9']));
    const { leftTo } = await bed.rp.browser.follow(final.redirectTo);
    const tokens = await bed.rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ personal_number: simulatedPersons[0]!.personalNumber, acr: 'urn:nordic-eid:se:bankid:other-device' });
  });
});
