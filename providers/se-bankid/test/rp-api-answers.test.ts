import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, Scrape } from '../../../test/support/ops.js';
import { generator } from '../../../test/support/fuzz.js';
import { BankIdSession, startBankIdTestBed, type BankIdTestBed } from './support.js';

/**
 * BankID, or a proxy in front of it, answering 200 with something that is not an answer of the
 * RP API. The person gets BankID's "try again" in words and the login never answers 500: a start
 * ends with RFA5, and a collect counts as BankID failing for a moment, so the login waits and
 * still completes when the next collect answers properly.
 */

const OTHER = 'urn:nordic-eid:se:bankid:other-device';

/** 200 bodies that are not BankID's: a proxy's page, cut-off JSON, JSON of another shape. */
const notAnswers = [
  { body: '<html><body>Bad gateway</body></html>', contentType: 'text/html' },
  { body: '{"orderRef":' },
  { body: '' },
  { body: 'null' },
  { body: '[]' },
  { body: '"complete"' },
  { body: '{}' },
  { body: '{"orderRef":5,"autoStartToken":{},"qrStartToken":null,"qrStartSecret":[]}' },
];

/** Collect answers naming the order asked about ({{orderRef}}), yet not to be believed. */
const brokenCollects = [
  '{"orderRef":"{{orderRef}}"}',
  '{"orderRef":"{{orderRef}}","status":"complete"}',
  '{"orderRef":"{{orderRef}}","status":"complete","completionData":null}',
  '{"orderRef":"{{orderRef}}","status":"complete","completionData":{"user":{}}}',
  '{"orderRef":"{{orderRef}}","status":"complete","completionData":{"user":{"personalNumber":5,"name":5,"givenName":5,"surname":5},"device":{"ipAddress":"1.2.3.4"},"signature":"x","ocspResponse":"x"}}',
  '{"orderRef":"{{orderRef}}","status":"pending","hintCode":{"x":1}}',
  '{"orderRef":"{{orderRef}}","status":"done"}',
];

let bed: BankIdTestBed;

beforeAll(async () => {
  bed = await startBankIdTestBed('bankid-rp-api-answers');
});

describe('an RP API answer that is not one', () => {
  it.each(notAnswers)('a start answered 200 with %j: "try again" in words (RFA5), never a 500', async (answer) => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('auth', { answer: { status: 200, contentType: 'application/json', ...answer } });
    const started = await session.call('start', { eid: 'se-bankid' });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'ERROR', messageCode: 'RFA5', message: expect.stringMatching(/\w/), reference: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('a start answered with more than the 1 MiB read: "try again" (RFA5), counted as an answer that is not one, not as BankID unreachable', async () => {
    const failures = async (reason: string) => (await Scrape.of(`${bed.tb.issuer}/metrics`)).value('neb_eid_request_failures_total', { eid: 'se-bankid', operation: 'start', reason });
    const [malformedBefore, unreachableBefore] = [await failures('malformedAnswer'), await failures('unreachable')];
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('auth', { answer: { status: 200, contentType: 'application/json', body: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }) } });
    const started = await session.call('start', { eid: 'se-bankid' });
    expect(started.body).toMatchObject({ status: 'ERROR', messageCode: 'RFA5' });
    expect(await failures('malformedAnswer')).toBe(malformedBefore + 1);
    expect(await failures('unreachable')).toBe(unreachableBefore);
  });

  // Seeded: the same draws on every run (FUZZ_SEED for others); bounded by the count, not by time.
  const random = generator(Number(process.env.FUZZ_SEED ?? 20_261_201));
  const draws = Array.from({ length: 12 }, () => random.pick([...notAnswers.map(({ body }) => body), ...brokenCollects]));

  it.each(draws.map((body, draw) => [draw, body]))('draw %i: a collect answered 200 with %s keeps the login waiting, never a 500, and it completes', async (_draw, body) => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const orderRef = session.orderRef();
    const before = bed.simulator.callCount('collect', orderRef);
    bed.simulator.injectFault('collect', { answer: { status: 200, body, contentType: 'application/json' } });
    // The broken answer is taken, and a proper collect after it; every poll meanwhile is an answer.
    await eventually(async () => {
      const poll = await session.call('poll?qr=true');
      expect(poll.status, JSON.stringify(poll.body)).toBe(200);
      expect(poll.body.status).toBe('IN_PROGRESS');
      return bed.simulator.callCount('collect', orderRef) >= before + 2;
    });
    bed.simulator.scanQr((await session.poll()).qrCode!.payload);
    bed.simulator.approve(orderRef, 0);
    expect((await session.pollUntil((state) => state.status !== 'IN_PROGRESS')).status).toBe('COMPLETE');
  });
});
