import { beforeAll, describe, expect, it } from 'vitest';
import { generator } from '../../../test/support/fuzz.js';
import { FrejaSession, startFrejaTestBed, type FrejaTestBed } from './support.js';

/**
 * Freja, or a proxy in front of it, answering 200 with something that is not Freja's answer.
 * The person gets Freja's failure in words — never a 500, and never a QR code of a transaction
 * that does not exist.
 */

const OTHER = 'urn:nordic-eid:se:freja:other-device';

/** 200 bodies that are not Freja's answers: a proxy's page, cut-off JSON, JSON of another shape. */
const notAnswers = ['<html><body>Bad gateway</body></html>', '{"authRef":', '', 'null', '[]', '{}', '{"authRef":5}', '{"authRef":""}', '{"status":{"a":1}}', '{"status":"APPROVED","details":5}'];

let bed: FrejaTestBed;

beforeAll(async () => {
  bed = await startFrejaTestBed('freja-api-answers');
});

describe('a Freja answer that is not one', () => {
  it.each(notAnswers)('a start answered 200 with %j: Freja failing, in words, and no QR code', async (body) => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('start', { answer: { status: 200, body, contentType: 'application/json' } });
    const started = await session.call('start', { eid: 'se-freja' });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'ERROR', messageCode: 'failed', message: expect.stringMatching(/\w/), reference: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(started.body.qrCode).toBeUndefined();
  });

  // Seeded: the same draws on every run (FUZZ_SEED for others); bounded by the count, not by time.
  const random = generator(Number(process.env.FUZZ_SEED ?? 20_261_201));
  const draws = Array.from({ length: 6 }, () => random.pick(notAnswers));

  it.each(draws.map((body, draw) => [draw, body]))('draw %i: a result answered 200 with %j ends the login in words, never a 500', async (_draw, body) => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    bed.simulator.injectFault('result', { answer: { status: 200, body, contentType: 'application/json' } });
    const ended = await session.pollUntil((state) => state.status !== 'IN_PROGRESS');
    expect(ended).toMatchObject({ status: 'ERROR', message: expect.stringMatching(/\w/), redirectTo: expect.any(String) });
  });
});
