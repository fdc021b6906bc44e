// The front-channel logout page: once every client's logout page has loaded in its iframe (the
// window's load event waits for them), or after a few seconds at most, go on to where the logout
// continues. Without script, the person follows the link.
const WAIT_AT_MOST_MS = 5000;
const root = document.getElementById('frontchannel-logout');

if (root) {
  let gone = false;
  const go = () => {
    if (gone) return;
    gone = true;
    window.location.assign(root.dataset.continue);
  };
  window.addEventListener('load', go);
  setTimeout(go, WAIT_AT_MOST_MS);
}
