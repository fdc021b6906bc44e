/**
 * A custom frontend for Swedish BankID on another device, through the broker's frontend JSON
 * API alone. In a page served on the broker's origin, `request` is the browser's own `fetch`
 * (it carries the login's cookies); `uid` is the interaction's, from /interaction/{uid}.
 *
 * `onStatus` gets every status: show `message`, draw `qrCode.svg` while there is one. When the
 * login ends, the answer has `redirectTo`: send the browser there (at once on COMPLETE; after
 * showing the message on ERROR or CANCEL). An ending that trying again may mend (the person
 * cancelled in the app, the code was not scanned in time) has `retry` instead, and the login is
 * not over: show the message with Try again (call this again: a new order, same login) and a way
 * back (POST cancel, whose `redirectTo` ends the login with that failure).
 */
export async function logInWithBankIdOnAnotherDevice({ request, uid, onStatus, wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms)) }) {
  const call = async (path, body) => {
    const init =
      body === undefined
        ? { headers: { accept: 'application/json' } }
        : { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) };
    const response = await request(`/interaction/${uid}/api/${path}`, init);
    // Another poll of this login is running (429), or the broker is busy or its store away for a
    // moment (503): try again after Retry-After; the login lives on.
    if (response.status === 429 || (response.status === 503 && response.headers.has('retry-after'))) {
      return { retryAfter: Number(response.headers.get('retry-after')) || 1 };
    }
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error_description ?? answer.error);
    return answer;
  };

  const ui = await call('ui');
  if (!ui.eids.some((eid) => eid.id === 'se-bankid' && eid.available)) throw new Error('Swedish BankID is not offered for this login');

  const start = () => call('start', { eid: 'se-bankid', device: 'other' });
  let state = await start();
  while (state.retryAfter) {
    await wait(state.retryAfter * 1000);
    state = await start();
  }
  while (!state.redirectTo && !state.retry) {
    if (!state.retryAfter) await onStatus(state);
    await wait((state.retryAfter ?? 1) * 1000);
    state = await call('poll?qr=true', {});
  }
  await onStatus(state);
  return state;
}
