// The waiting page of an eID used through its app (Swedish BankID, Freja eID), one script for
// each such eID's page: the page's element with `data-app-page` says which eID and login it is,
// which hint codes mean the app has not picked the transaction up yet (`data-awaiting-app`), and
// the QR code's size and help. The script asks the frontend JSON API where the login stands (so a
// reload or a change of language picks up the transaction under way), starts one when there is
// none, then waits on the login's event stream (/interaction/<uid>/api/events): status changes,
// the QR code's frames, and a final event saying where to go. A browser whose stream is refused
// (a limit, a busy or stopping instance) or stays silent polls the JSON API once a second
// instead, and tries the stream again after a backoff. Cancel is a plain form post, which works
// without JavaScript too.
import { generate } from '/static/lean-qr.mjs';

const root = document.querySelector('[data-app-page]');
const element = (id) => document.getElementById(id);
const show = (id, visible) => {
  element(id).hidden = !visible;
};
const POLL_EVERY_MS = 1000;
/** A stream that has said nothing by then is taken to be stuck behind a buffering proxy. */
const FIRST_EVENT_WITHIN_MS = 5000;
/**
 * How long a page that fell back to polling waits before it tries the stream again: doubling
 * while the stream keeps failing, up to the cap, and back to the first once one delivers. A try
 * costs the broker about what one poll does; a page that polls costs it far more than one on a
 * stream.
 */
const STREAM_AGAIN_AFTER_MS = { first: 4000, max: 30_000 };

/**
 * The broker's answer for a login that is over (ended in another tab, expired), or that no longer
 * waits on this eID: nothing is left to wait for here, and the login's own page says where it stands.
 */
class LoginOver extends Error {}

if (root) {
  const { uid, eid } = root.dataset;
  const api = `/interaction/${encodeURIComponent(uid)}/api`;
  /** Hint codes while the transaction waits for the app: the QR code and the switch show only then. */
  const awaitingHints = new Set((root.dataset.awaitingApp || '').split(' '));
  const awaitingApp = (state) => state.status === 'IN_PROGRESS' && awaitingHints.has(state.hintCode);
  /** Set when the client's acr value fixed the device: the person cannot switch then. */
  const fixedDevice = root.dataset.device || '';
  const showQrHelp = root.dataset.qrHelp === 'true';
  let device = fixedDevice;
  let finished = false;
  let launched = false;
  let stream;
  let pollTimer;
  /** Bumped each time the page stops waiting one way: an answer to a poll sent before then is stale. */
  let waitingRound = 0;
  /** When the polling page tries its stream again (epoch ms), and the backoff after that. */
  let streamAgainAt = 0;
  let streamBackoffMs = STREAM_AGAIN_AFTER_MS.first;
  let shownStep = '';

  element('qr').style.width = `${Number(root.dataset.qrSize) || 240}px`;

  async function call(path, body) {
    const response = await fetch(`${api}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
    // A second poll of this login at once (429), or the broker busy or its store away for a
    // moment (503): the answer says when to ask again, and the page keeps what it shows till then.
    if (response.status === 429 || (response.status === 503 && response.headers.has('retry-after'))) {
      return { retryAfter: Number(response.headers.get('retry-after')) || 1 };
    }
    const data = await response.json();
    if (response.ok) return data;
    // 409: this eID is no longer the one under way (the person left it for the picker or chose another eID, here or in
    // another tab, and came Back to this page); waiting here would wait for nothing.
    if (data.error === 'session_expired' || response.status === 409) throw new LoginOver(data.error_description);
    throw new Error(data.error_description || data.error);
  }

  /**
   * Says what went wrong. A login that is over, or no longer on this eID, leaves for its page at the
   * broker, which says in the person's language where it stands (the picker; the way back to the client). Anything else (the network gone for a
   * moment, an answer that is not the API's) is said in the page's language — never the browser's
   * or the API's own English words — and waiting goes on.
   */
  function failed(error) {
    if (error instanceof LoginOver) {
      finished = true;
      stopWaiting();
      window.location.assign(`/interaction/${encodeURIComponent(uid)}/`);
      return;
    }
    say(root.dataset.interrupted);
    show('progress', true);
  }

  /**
   * Puts `text` in the status line, a live region that is on the page, empty, from the start (one
   * shown together with its first words is not read out): only when it differs from what it says, since
   * a screen reader reads the region again each time its text is set, even to the same words
   * (the page sets it on every poll and every status event).
   */
  function say(text) {
    const status = element('status');
    if (status.textContent !== text) status.textContent = text;
  }

  function drawQr(payload) {
    // Dark on white whatever the page's colours, with the quiet zone scanners need.
    generate(payload).toCanvas(element('qr'), { on: [0, 0, 0], off: [255, 255, 255], pad: 4 });
    showQr(true);
  }

  function showQr(visible) {
    show('qr', visible);
    show('qr-help', showQrHelp && visible);
  }

  /**
   * Once per step, moves keyboard and screen-reader focus to `id`, unless `move` says not to. Never
   * to the status line: it is a live region, which a screen reader reads out each time its words
   * change, and focus on it as well had the same words read twice.
   */
  function focusStep(step, id, move = true) {
    if (shownStep === step) return;
    shownStep = step;
    if (move) element(id).focus();
  }

  /** Whether the focus is nowhere, or on a control the step just hid (a device button once pressed, Try again). */
  function focusLost() {
    const focused = document.activeElement;
    return !focused || focused === document.body || focused.closest('[hidden]') !== null;
  }

  function render(state) {
    // Before a start the question above the device buttons says it all; the status line waits, empty.
    if (state.status === 'NOT_STARTED') {
      say('');
      show('device-choice', true);
      show('progress', false);
      focusStep('choice', 'device-question');
      return;
    }
    if (state.message) say(state.message);
    show('device-choice', false);
    show('progress', true);
    const awaiting = awaitingApp(state);
    if (state.launchUrl) device = 'this';
    else if (state.qrCode || awaiting) device = device || 'other';
    if (state.qrCode) drawQr(state.qrCode.payload);
    else if (!awaiting || device !== 'other') showQr(false);
    const ended = state.status === 'ERROR' || state.status === 'CANCEL' || state.status === 'COMPLETE';
    if (state.launchUrl && !ended) {
      element('open').href = state.launchUrl;
      // Open the app once by ourselves; the button stays for browsers that want a tap first.
      if (!launched) {
        launched = true;
        window.location.href = state.launchUrl;
      }
    }
    show('open', Boolean(state.launchUrl) && !ended);
    showSwitch(awaiting);
    show('retry', Boolean(state.retry));
    showReference(ended && state.reference);
    // Going back from an ending that may be tried again ends the login with it.
    if (state.retry) element('cancel').textContent = element('cancel').dataset.back;
    // The new status is said by the live region; the focus goes to the step only if it had none left.
    focusStep(`${state.status} ${state.hintCode || ''} ${device}`, 'progress', focusLost());
    if (state.redirectTo) finish(state);
    else if (state.retry) stopWaiting();
  }

  function showSwitch(visible) {
    const canSwitch = visible && !fixedDevice && Boolean(device);
    show('switch', canSwitch);
    if (canSwitch) element('switch').textContent = device === 'this' ? root.dataset.switchOther : root.dataset.switchThis;
  }

  function showReference(reference) {
    show('reference', Boolean(reference));
    if (reference) element('reference').textContent = root.dataset.reference.replace('{reference}', reference);
  }

  function finish(state) {
    finished = true;
    stopWaiting();
    showQr(false);
    if (state.status === 'COMPLETE') {
      window.location.assign(state.redirectTo);
      return;
    }
    element('back').href = state.redirectTo;
    show('back', true);
    show('leave', false);
  }

  function stopWaiting() {
    waitingRound += 1;
    stream?.close();
    stream = undefined;
    window.clearTimeout(pollTimer);
  }

  function watch() {
    stopWaiting();
    if (finished) return;
    if (typeof EventSource !== 'function') {
      streamAgainAt = Infinity;
      return poll();
    }
    const opened = new EventSource(`${api}/events?eid=${encodeURIComponent(eid)}`);
    stream = opened;
    let heard = false;
    const listen = (type, handle) =>
      opened.addEventListener(type, (event) => {
        heard = true;
        streamBackoffMs = STREAM_AGAIN_AFTER_MS.first;
        handle(event.data);
      });
    listen('status', (data) => render(JSON.parse(data)));
    listen('qr', (payload) => {
      if (device === 'other') drawQr(payload);
    });
    listen('done', (data) => render(JSON.parse(data)));
    // The transaction went away (cancelled elsewhere, replaced by a new start): ask where things stand.
    listen('end', () => {
      stopWaiting();
      resume();
    });
    // EventSource reconnects by itself after a dropped connection; it gives up only when the
    // broker refused the stream, and then the JSON API says why.
    opened.addEventListener('error', () => {
      if (opened.readyState === EventSource.CLOSED && stream === opened) pollForNow();
    });
    window.setTimeout(() => {
      if (!heard && stream === opened) pollForNow();
    }, FIRST_EVENT_WITHIN_MS);
  }

  /**
   * Polls instead of a stream that was refused or stayed silent, until the backoff has passed:
   * a refusal is often a moment's (an instance shedding load or stopping, a limit filled by
   * streams since closed), and a page left polling for the rest of its login costs far more.
   * The wait varies from half to all of the backoff, so that pages refused together do not all
   * come back at once.
   */
  function pollForNow() {
    stopWaiting();
    streamAgainAt = Date.now() + streamBackoffMs * (0.5 + Math.random() / 2);
    streamBackoffMs = Math.min(2 * streamBackoffMs, STREAM_AGAIN_AFTER_MS.max);
    poll();
  }

  /** Asks where the login stands, again each second (or when a busy answer says), until the stream's turn comes. */
  async function poll() {
    if (finished) return;
    const round = waitingRound;
    let wait = POLL_EVERY_MS;
    try {
      const state = await call(`poll?qr=${device === 'other'}&eid=${encodeURIComponent(eid)}`);
      if (round !== waitingRound) return;
      if (state.retryAfter) wait = state.retryAfter * 1000;
      else render(state);
      if (state.status === 'NOT_STARTED') return;
    } catch (error) {
      if (round !== waitingRound) return;
      // A lost request is retried at the next tick; the transaction lives on at the broker.
      failed(error);
      wait = 2 * POLL_EVERY_MS;
    }
    // The page moved on meanwhile (a stream, a new order, an ending, the login over): this poll was its last.
    if (round !== waitingRound) return;
    pollTimer = window.setTimeout(Date.now() + wait >= streamAgainAt ? watch : poll, wait);
  }

  async function start(chosen) {
    device = chosen;
    stopWaiting();
    try {
      const state = await call('start', { eid, device });
      if (state.retryAfter) {
        pollTimer = window.setTimeout(() => start(chosen), state.retryAfter * 1000);
        return;
      }
      render(state);
      if (state.status === 'IN_PROGRESS') watch();
    } catch (error) {
      failed(error);
    }
  }

  /** Where the login stands: a transaction under way is picked up (and its app not opened again). */
  async function resume() {
    try {
      const state = await call(`poll?qr=${device !== 'this'}&eid=${encodeURIComponent(eid)}`);
      if (state.retryAfter) return void window.setTimeout(resume, state.retryAfter * 1000);
      if (state.status === 'NOT_STARTED') return fixedDevice ? start(fixedDevice) : render(state);
      launched = true;
      render(state);
      if (state.status === 'IN_PROGRESS') watch();
    } catch (error) {
      failed(error);
    }
  }

  for (const button of root.querySelectorAll('button[data-device]')) button.addEventListener('click', () => start(button.dataset.device));
  element('switch').addEventListener('click', () => start(device === 'this' ? 'other' : 'this'));
  element('retry').addEventListener('click', () => {
    show('retry', false);
    element('cancel').textContent = element('cancel').dataset.cancel;
    start(device || fixedDevice || 'other');
  });
  element('cancel').dataset.cancel = element('cancel').textContent;
  element('leave').addEventListener('submit', () => {
    finished = true;
    stopWaiting();
  });

  resume();
}
