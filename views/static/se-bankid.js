// The Swedish BankID page: it drives the frontend JSON API (/interaction/<uid>/api/) exactly as
// a custom frontend would, polling once a second for the status and the next QR code.
(() => {
  'use strict';
  const root = document.getElementById('bankid');
  if (!root) return;
  const { uid, eid, resume } = root.dataset;
  const element = (id) => document.getElementById(id);
  const show = (id, visible) => {
    element(id).hidden = !visible;
  };
  const POLL_EVERY_MS = 1000;
  let device = root.dataset.device || '';
  let finished = false;
  let launched = Boolean(resume);
  let showQrHelp = false;

  // The page's settings come from the same API a custom frontend uses.
  fetch(`/interaction/${encodeURIComponent(uid)}/api/ui`, { headers: { accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : undefined))
    .then((ui) => {
      if (!ui) return;
      element('qr').width = ui.qr_size;
      element('qr').height = ui.qr_size;
      showQrHelp = ui.show_qr_help;
    })
    .catch(() => undefined);

  async function call(path, body) {
    const response = await fetch(`/interaction/${encodeURIComponent(uid)}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 429) return { retryAfter: Number(response.headers.get('retry-after')) || 1 };
    const data = await response.json();
    if (!response.ok) throw new Error(data.error_description || data.error);
    return data;
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
    if (state.qrCode) element('qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(state.qrCode.svg)}`;
    show('qr', Boolean(state.qrCode) && !state.redirectTo);
    show('qr-help', showQrHelp && Boolean(state.qrCode) && !state.redirectTo);
    if (state.launchUrl) {
      element('open').href = state.launchUrl;
      // Start the app once by ourselves; the button stays for browsers that want a tap first.
      if (!launched) {
        launched = true;
        window.location.href = state.launchUrl;
      }
    }
    show('open', Boolean(state.launchUrl) && !state.redirectTo);
    if (!state.redirectTo) return;
    finished = true;
    if (state.status === 'COMPLETE') {
      window.location.assign(state.redirectTo);
      return;
    }
    element('back').href = state.redirectTo;
    show('back', true);
    show('cancel', false);
  }

  async function poll() {
    if (finished) return;
    let wait = POLL_EVERY_MS;
    try {
      const state = await call(`poll?qr=${device === 'other'}`);
      if (state.retryAfter) wait = state.retryAfter * 1000;
      else render(state);
    } catch {
      // A lost request is retried at the next tick; the order lives on at the broker.
      wait = 2 * POLL_EVERY_MS;
    }
    if (!finished) window.setTimeout(poll, wait);
  }

  async function start(chosen) {
    device = chosen;
    try {
      render(await call('start', { eid, device }));
    } catch (error) {
      element('status').textContent = error.message;
      show('progress', true);
      return;
    }
    window.setTimeout(poll, POLL_EVERY_MS);
  }

  for (const button of root.querySelectorAll('[data-device]')) {
    if (button.tagName === 'BUTTON') button.addEventListener('click', () => start(button.dataset.device));
  }

  element('cancel').addEventListener('click', async () => {
    finished = true;
    try {
      const { redirectTo } = await call('cancel');
      window.location.assign(redirectTo);
    } catch (error) {
      element('status').textContent = error.message;
    }
  });

  if (resume) poll();
  else if (device) start(device);
  else show('device-choice', true);
})();
