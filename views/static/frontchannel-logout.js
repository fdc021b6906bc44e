// The front-channel logout page: once every client's logout page has loaded in its iframe (the
// window's load event waits for them), or after a few seconds at most, go on to where the logout
// continues. Without script, the person follows the link. A classic script in the plainest
// JavaScript, as form-post.js is, for the same reason.
(function () {
  var WAIT_AT_MOST_MS = 5000;
  var root = document.getElementById('frontchannel-logout');
  if (!root) return;
  var gone = false;
  function go() {
    if (gone) return;
    gone = true;
    window.location.assign(root.getAttribute('data-continue'));
  }
  window.addEventListener('load', go);
  setTimeout(go, WAIT_AT_MOST_MS);
})();
