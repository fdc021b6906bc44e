// Try again, on an error page that says "not now" (429, 503). A page drawn for a GET loads its
// address again; one drawn for a POST goes back to the form, which loading it again would post
// anew. Until the answer's Retry-After has passed the button waits, its countdown shown beside it
// but not read out each second: the status line speaks once, when the wait is over. Without
// script, or with no page to go back to, the page's own words say what to do.
const SECOND_MS = 1000;
const root = document.getElementById('try-again');
const actions = { reload: () => window.location.reload(), back: () => window.history.back() };

/** Shows the button, counting down `seconds` first when there are any. */
function offer(block, seconds) {
  const button = block.querySelector('button');
  const wait = document.getElementById('try-again-wait');
  const until = Date.now() + seconds * SECOND_MS;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / SECOND_MS);
    if (left > 0) {
      wait.textContent = block.dataset.waiting.replace('{seconds}', String(left));
      setTimeout(tick, until - Date.now() - (left - 1) * SECOND_MS);
      return;
    }
    wait.hidden = true;
    button.disabled = false;
    block.querySelector('[role="status"]').textContent = block.dataset.ready;
  };
  button.addEventListener('click', actions[block.dataset.how]);
  document.getElementById('try-again-words').hidden = true;
  block.hidden = false;
  if (seconds <= 0) return;
  button.disabled = true;
  wait.hidden = false;
  tick();
}

if (root && (root.dataset.how === 'reload' || window.history.length > 1)) offer(root, Number(root.dataset.waitSeconds));
