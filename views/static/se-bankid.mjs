// The Swedish BankID page. It starts the order through the frontend JSON API, then waits on the
// login's event stream (/interaction/<uid>/api/events): status changes, a QR frame every second,
// and a final event saying where to go. The QR code is drawn here from the frame's text. A
// browser whose stream cannot be opened polls the JSON API once a second instead, as a custom
// frontend may.
import { generate } from './lean-qr.mjs';

const root = document.getElementById('bankid');
const element = (id) => document.getElementById(id);
const show = (id, visible) => {
  element(id).hidden = !visible;
};
const POLL_EVERY_MS = 1000;
/** A stream that has said nothing by then is taken to be stuck behind a buffering proxy. */
const FIRST_EVENT_WITHIN_MS = 5000;

if (root) {
  const { uid, eid, resume } = root.dataset;
  const api = `/interaction/${encodeURIComponent(uid)}/api`;
  let device = root.dataset.device || '';
  let finished = false;
  let launched = Boolean(resume);
  let showQrHelp = false;
  let stream;

  // The page's settings come from the same API a custom frontend uses.
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

  function drawQr(payload) {
    // Dark on white whatever the page's colours, with the quiet zone scanners need.
    generate(payload).toCanvas(element('qr'), { on: [0, 0, 0], off: [255, 255, 255], pad: 4 });
    showQr(true);
  }

  function showQr(visible) {
    show('qr', visible);
    show('qr-help', showQrHelp && visible);
  }

  function render(state) {
    if (state.message) element('status').textContent = state.message;
    if (state.status === 'NOT_STARTED') {
      show('device-choice', true);
      show('progress', false);
      return;
    }
    show('device-choice', false);
    show('progress', true);
    if (state.qrCode) drawQr(state.qrCode.payload);
    else if (state.hintCode !== 'outstandingTransaction' && state.hintCode !== 'noClient') showQr(false);
    if (state.launchUrl) {
      element('open').href = state.launchUrl;
      // Start the app once by ourselves; the button stays for browsers that want a tap first.
      if (!launched) {
        launched = true;
        window.location.href = state.launchUrl;
      }
    }
    show('open', Boolean(state.launchUrl) && !state.redirectTo);
    if (state.redirectTo) finish(state);
  }

  function finish(state) {
    finished = true;
    stream?.close();
    showQr(false);
    show('open', false);
    if (state.status === 'COMPLETE') {
      window.location.assign(state.redirectTo);
      return;
    }
    element('back').href = state.redirectTo;
    show('back', true);
    show('cancel', false);
  }

  function watch() {
    if (finished) return;
    if (typeof EventSource !== 'function') return poll();
    stream = new EventSource(`${api}/events`);
    let heard = false;
    const listen = (type, handle) =>
      stream.addEventListener(type, (event) => {
        heard = true;
        handle(event.data);
      });
    listen('status', (data) => render(JSON.parse(data)));
    listen('qr', drawQr);
    listen('done', (data) => render(JSON.parse(data)));
    // The order went away (cancelled elsewhere, replaced by a new start): ask where things stand.
    listen('end', () => {
      stream.close();
      poll();
    });
    // EventSource reconnects by itself after a dropped connection; it gives up only when the
    // broker refused the stream, and then the JSON API says why.
    stream.addEventListener('error', () => {
      if (stream.readyState === EventSource.CLOSED) poll();
    });
    window.setTimeout(() => {
      if (heard || finished) return;
      stream.close();
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
    } catch (error) {
      // A lost request is retried at the next tick; the order lives on at the broker.
      element('status').textContent = error.message;
      wait = 2 * POLL_EVERY_MS;
    }
    if (!finished) window.setTimeout(poll, wait);
  }

  async function start(chosen) {
    device = chosen;
    stream?.close();
    try {
      const state = await call('start', { eid, device });
      render(state);
      if (state.status === 'IN_PROGRESS') watch();
    } catch (error) {
      element('status').textContent = error.message;
      show('progress', true);
    }
  }

  for (const button of root.querySelectorAll('button[data-device]')) {
    button.addEventListener('click', () => start(button.dataset.device));
  }

  element('cancel').addEventListener('click', async () => {
    finished = true;
    stream?.close();
    try {
      const { redirectTo } = await call('cancel');
      window.location.assign(redirectTo);
    } catch (error) {
      element('status').textContent = error.message;
    }
  });

  if (resume) watch();
  else if (device) start(device);
  else show('device-choice', true);
}
