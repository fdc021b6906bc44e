import { beforeAll, describe, expect, it } from 'vitest';
import { generator } from '../../../test/support/fuzz.js';
import { eventually } from '../../../test/support/ops.js';
import { FrejaSession, startFrejaTestBed, type FrejaTestBed } from './support.js';

/**
 * Freja, or a proxy in front of it, answering 200 with something that is not Freja's answer.
 * The person gets Freja's failure in words — never a 500, and never a QR code of a transaction
 * that does not exist.
 */

const OTHER = 'urn:nordic-eid:se:freja:other-device';

/** 200 bodies that are not Freja's answers: a proxy's page, cut-off JSON, JSON of another shape. */
const notAnswers = ['<html><body>Bad gateway</body></html>', '{"authRef":', '', 'null', '[]', '{}', '{"authRef":5}', '{"authRef":""}', '{"status":{"a":1}}', '{"status":"APPROVED","details":5}'];

describe('a Freja start answered with something that is not its answer', () => {
  let bed: FrejaTestBed;
  beforeAll(async () => {
    bed = await startFrejaTestBed('freja-start-answers');
  });

  it.each(notAnswers)('a start answered 200 with %j: Freja failing, in words, and no QR code', async (body) => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('start', { answer: { status: 200, body, contentType: 'application/json' } });
    const started = await session.call('start', { eid: 'se-freja' });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'ERROR', messageCode: 'failed', message: expect.stringMatching(/\w/), reference: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(started.body.qrCode).toBeUndefined();
  });

});

describe('a Freja result answered with something that is not its answer', () => {
  // A broker of its own: the starts above count as Freja failing, ten in a row open its circuit.
  let bed: FrejaTestBed;
  beforeAll(async () => {
    bed = await startFrejaTestBed('freja-result-answers');
  });

  // Seeded: the same draws on every run (FUZZ_SEED for others); bounded by the count, not by time.
  const random = generator(Number(process.env.FUZZ_SEED ?? 20_261_201));
  const draws = Array.from({ length: 6 }, () => random.pick(notAnswers));

  it.each(draws.map((body, draw) => [draw, body]))('draw %i: a result answered 200 with %j keeps the login waiting, never a 500, and it completes', async (_draw, body) => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    const started = await session.start();
    expect(started.status).toBe('IN_PROGRESS');
    const before = bed.simulator.callCount('result');
    bed.simulator.injectFault('result', { answer: { status: 200, body, contentType: 'application/json' } });
    // The broken answer is taken, and a proper one after it; every poll meanwhile is an answer.
    await eventually(async () => {
      const poll = await session.call('poll?qr=true');
      expect(poll.status, JSON.stringify(poll.body)).toBe(200);
      expect(poll.body.status, JSON.stringify(poll.body)).toBe('IN_PROGRESS');
      return bed.simulator.callCount('result') >= before + 2;
    });
    bed.simulator.scan(started.qrCode!.payload);
    bed.simulator.approve(session.authRef(), 0);
    expect((await session.pollUntil((state) => state.status !== 'IN_PROGRESS')).status).toBe('COMPLETE');
  });
});
