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
    const { leftTo } = await bed.rp.browser.follow(final.redirectTo!);
    const tokens = await bed.rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ personal_number: simulatedPersons[0]!.personalNumber, acr: 'urn:nordic-eid:se:bankid:other-device' });
  });

  it('stops at an ending the person may try again, and calling it again (Try again) completes the same login', async () => {
    const { response } = await bed.rp.authorize();
    const uid = /\/interaction\/([^/]+)\//.exec(response.url)![1]!;
    const request = (path: string, init: RequestInit) => bed.rp.browser.request(path, init);
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
    // The person scans the code, then cancels in the app.
    let scanned = false;
    let cancelled = false;
    const ending = await logInWithBankIdOnAnotherDevice({
      uid,
      request,
      wait,
      onStatus: (state) => {
        if (state.qrCode && !scanned) {
          bed.simulator.scanQr(state.qrCode.payload);
          scanned = true;
        }
        if (state.hintCode === 'userSign' && !cancelled) {
          bed.simulator.userCancel(bed.simulator.orders().at(-1)!.orderRef);
          cancelled = true;
        }
      },
    });
    expect(ending).toMatchObject({ status: 'CANCEL', messageCode: 'RFA6', retry: true, reference: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(ending.redirectTo).toBeUndefined();

    const final = await logInWithBankIdOnAnotherDevice({ uid, request, wait, onStatus: bankIdPhone(bed.simulator) });
    expect(final.status).toBe('COMPLETE');
    const { leftTo } = await bed.rp.browser.follow(final.redirectTo!);
    const tokens = await bed.rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ acr: 'urn:nordic-eid:se:bankid:other-device' });
  });

  it('waits out a busy broker (503 with Retry-After) when starting and when polling, and completes', async () => {
    const { response } = await bed.rp.authorize();
    const uid = /\/interaction\/([^/]+)\//.exec(response.url)![1]!;
    const phone = bankIdPhone(bed.simulator);
    // What a broker shedding load answers (src/resilience/load-shedding.ts), for the first start and the second poll.
    const busy = () =>
      new Response(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The broker is busy right now. Try again in a moment.' }), {
        status: 503,
        headers: { 'retry-after': '1', 'content-type': 'application/json' },
      });
    const calls = { start: 0, poll: 0 };
    const waits: number[] = [];

    const final = await logInWithBankIdOnAnotherDevice({
      uid,
      request: async (path: string, init: RequestInit) => {
        if (path.endsWith('/api/start') && ++calls.start === 1) return busy();
        if (path.includes('/api/poll') && ++calls.poll === 2) return busy();
        return bed.rp.browser.request(path, init);
      },
      wait: (ms: number) => {
        waits.push(ms);
        return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
      },
      onStatus: phone,
    });

    expect(final.status).toBe('COMPLETE');
    expect(calls.start).toBe(2);
    expect(calls.poll).toBeGreaterThan(2);
    expect(waits[0]).toBe(1000);
  });
});
