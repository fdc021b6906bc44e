import { describe, expect, it } from 'vitest';
import { failedFinal, presentFinal, type FailedEnding } from '../endings.js';

const cancelled: FailedEnding = { status: 'CANCEL', messageCode: 'cancelled', error: 'access_denied', description: 'The person cancelled.', ending: 'cancelled', retry: true };

describe('the final record of a failed ending', () => {
  it('names the transaction it ended, and offers a new try only when there was one to retry', () => {
    expect(failedFinal(cancelled, { transactionId: 'ref-1', hintCode: 'userCancel' })).toEqual({
      status: 'CANCEL',
      hintCode: 'userCancel',
      messageCode: 'cancelled',
      retry: true,
      outcome: { failure: { error: 'access_denied', description: 'The person cancelled.', ending: 'cancelled', transactionId: 'ref-1' } },
    });
    expect(failedFinal(cancelled)).toEqual({
      status: 'CANCEL',
      messageCode: 'cancelled',
      outcome: { failure: { error: 'access_denied', description: 'The person cancelled.', ending: 'cancelled' } },
    });
  });

  it('is shown with its message in the reader’s words, and without one when it has no message code', () => {
    const final = failedFinal(cancelled, { transactionId: 'ref-1' });
    expect(presentFinal(final, (code) => `text of ${code}`)).toMatchObject({ status: 'CANCEL', message: 'text of cancelled' });
    expect(presentFinal({ ...final, messageCode: '' }, (code) => `text of ${code}`)).not.toHaveProperty('message');
  });
});
