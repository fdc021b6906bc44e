import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulatedPersons } from '../simulator/persons.js';
import { BankIdSession, startBankIdTestBed, type BankIdTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';
/** The broker's ttl.interaction here: the time a login has to choose and start an eID. */
const CHOOSING_SECONDS = 6;

let bed: BankIdTestBed;

beforeAll(async () => {
  bed = await startBankIdTestBed('bankid-expiry', {}, {}, { ttl: { interaction: CHOOSING_SECONDS } });
});

/** Waits until `ms` after `since` (epoch ms). */
const until = (since: number, ms: number) => sleep(Math.max(0, since + ms - Date.now()));

describe('a BankID login started shortly before ttl.interaction runs out', () => {
  it('is approved after ttl.interaction and still ends at the client with a code: the interaction and its cookies live on for the order', async () => {
    const begun = Date.now();
    const session = await BankIdSession.begin(bed, { acr_values: OTHER, scope: 'openid profile personal_number' });
    // The person lingers, then starts BankID with three seconds of the login's time left.
    await until(begun, (CHOOSING_SECONDS - 3) * 1000);
    expect(await session.start()).toMatchObject({ status: 'IN_PROGRESS' });
    // Past ttl.interaction (by 1.5 seconds) the person scans and approves in the app.
    await until(begun, (CHOOSING_SECONDS + 1.5) * 1000);
    bed.simulator.scanQr((await session.poll()).qrCode!.payload);
    bed.simulator.approve(session.orderRef(), 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');

    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: OTHER, personal_number: simulatedPersons[0]!.personalNumber });
  });
});
