// The Freja eID page. It asks the frontend JSON API where the login stands (a reload or a change
// of language picks up the transaction under way), starts one when there is none, then waits on
// the login's event stream (/interaction/<uid>/api/events): status changes, the QR code's text
// (Freja's code does not change, so it comes once), and a final event saying where to go. A
// browser whose stream cannot be opened polls the JSON API instead. Cancel is a plain form post.
import { generate } from '/static/lean-qr.mjs';

const root = document.getElementById('freja');
const element = (id) => document.getElementById(id);
const show = (id, visible) => {
  element(id).hidden = !visible;
};
const POLL_EVERY_MS = 1000;
/** A stream that has said nothing by then is taken to be stuck behind a buffering proxy. */
const FIRST_EVENT_WITHIN_MS = 5000;

if (root) {
  const { uid, eid } = root.dataset;
  const api = `/interaction/${encodeURIComponent(uid)}/api`;
  /** Set when the client's acr value fixed the device: the person cannot switch then. */
  const fixedDevice = root.dataset.device || '';
  let device = fixedDevice;
  let finished = false;
  let launched = false;
  let showQrHelp = false;
  let stream;
  let pollTimer;
  let shownStep = '';

  fetch(`${api}/ui`, { headers: { accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : undefined))
    .then((ui) => {
      if (!ui) return;
      element('qr').style.width = `${ui.qr_size}px`;
      showQrHelp = ui.show_qr_help;
      show('qr-help', showQrHelp && !element('qr').hidden);
    })
    .catch(() => undefined);

  async function call(path, body) {
    const response = await fetch(`${api}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 429) return { retryAfter: Number(response.headers.get('retry-after')) || 1 };
    const data = await response.json();
    if (!response.ok) throw new Error(data.error_description || data.error);
    return data;
  }

  function showQr(payload) {
    // Dark on white whatever the page's colours, with the quiet zone scanners need.
    if (payload) generate(payload).toCanvas(element('qr'), { on: [0, 0, 0], off: [255, 255, 255], pad: 4 });
    show('qr', Boolean(payload));
    show('qr-help', showQrHelp && Boolean(payload));
  }

  /** Moves keyboard and screen-reader focus to what changed, once per step. */
  function focusStep(step, id) {
    if (shownStep === step) return;
    shownStep = step;
    element(id).focus();
  }

  function render(state) {
    if (state.message) element('status').textContent = state.message;
    if (state.status === 'NOT_STARTED') {
      show('device-choice', true);
      show('progress', false);
      return focusStep('choice', 'device-question');
    }
    show('device-choice', false);
    show('progress', true);
    const waiting = state.status === 'IN_PROGRESS';
    const scanning = waiting && state.hintCode === 'STARTED';
    if (state.launchUrl) device = 'this';
    if (state.qrCode) showQr(state.qrCode.payload);
    else if (!scanning || device !== 'other') showQr('');
    if (state.launchUrl && waiting) {
      element('open').href = state.launchUrl;
      // Open the app once by ourselves; the button stays for browsers that want a tap first.
      if (!launched) {
        launched = true;
        window.location.href = state.launchUrl;
      }
    }
    show('open', Boolean(state.launchUrl) && waiting);
    const canSwitch = scanning && !fixedDevice && Boolean(device);
    show('switch', canSwitch);
    if (canSwitch) element('switch').textContent = device === 'this' ? root.dataset.switchOther : root.dataset.switchThis;
    show('retry', Boolean(state.retry));
    // Going back from an ending that may be tried again ends the login with it.
    if (state.retry) element('cancel').textContent = element('cancel').dataset.back;
    focusStep(`${state.status} ${state.hintCode || ''} ${device}`, 'status');
    if (state.redirectTo) finish(state);
    else if (state.retry) stopWaiting();
  }

  function finish(state) {
    finished = true;
    stopWaiting();
    showQr('');
    if (state.status === 'COMPLETE') return window.location.assign(state.redirectTo);
    element('back').href = state.redirectTo;
    show('back', true);
    show('leave', false);
  }

  function stopWaiting() {
    stream?.close();
    stream = undefined;
    window.clearTimeout(pollTimer);
  }

  function watch() {
    stopWaiting();
    if (finished) return;
    if (typeof EventSource !== 'function') return poll();
    const opened = new EventSource(`${api}/events`);
    stream = opened;
    let heard = false;
    const listen = (type, handle) =>
      opened.addEventListener(type, (event) => {
        heard = true;
        handle(event.data);
      });
    listen('status', (data) => render(JSON.parse(data)));
    listen('done', (data) => render(JSON.parse(data)));
    listen('qr', (payload) => {
      if (device === 'other') showQr(payload);
    });
    // The transaction went away (cancelled elsewhere, replaced by a new start): ask where things stand.
    listen('end', () => {
      stopWaiting();
      resume();
    });
    opened.addEventListener('error', () => {
      if (opened.readyState === EventSource.CLOSED && stream === opened) poll();
    });
    window.setTimeout(() => {
      if (heard || stream !== opened) return;
      stopWaiting();
      poll();
    }, FIRST_EVENT_WITHIN_MS);
  }

  async function poll() {
    if (finished) return;
    let wait = POLL_EVERY_MS;
    try {
      const state = await call(`poll?qr=${device === 'other'}`);
      if (state.retryAfter) wait = state.retryAfter * 1000;
      else render(state);
      if (state.retry || state.status === 'NOT_STARTED') return;
    } catch (error) {
      element('status').textContent = error.message;
      wait = 2 * POLL_EVERY_MS;
    }
    if (!finished) pollTimer = window.setTimeout(poll, wait);
  }

  async function start(chosen) {
    device = chosen;
    stopWaiting();
    try {
      const state = await call('start', { eid, device });
      render(state);
      if (state.status === 'IN_PROGRESS') watch();
    } catch (error) {
      element('status').textContent = error.message;
      show('progress', true);
    }
  }

  /** Where the login stands: a transaction under way is picked up (and its app not opened again). */
  async function resume() {
    try {
      const state = await call(`poll?qr=${device !== 'this'}`);
      if (state.retryAfter) return void window.setTimeout(resume, state.retryAfter * 1000);
      if (state.status === 'NOT_STARTED') return fixedDevice ? start(fixedDevice) : render(state);
      launched = true;
      render(state);
      if (state.status === 'IN_PROGRESS') watch();
    } catch (error) {
      element('status').textContent = error.message;
      show('progress', true);
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
