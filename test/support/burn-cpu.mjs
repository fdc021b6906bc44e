// Preloaded into a broker process (node --import) by tests of load shedding: each SIGUSR2
// starts or stops burning the CPU in long synchronous tasks, one after each round of reading
// sockets, so the event loop falls far behind while the process still serves what it can.
// BURN_TASK_MS sets a task's length (300 ms unless said).
const TASK_MS = Number(process.env.BURN_TASK_MS ?? 300);
let burning = false;

function burn() {
  if (!burning) return;
  const until = performance.now() + TASK_MS;
  while (performance.now() < until);
  setImmediate(burn);
}

process.on('SIGUSR2', () => {
  burning = !burning;
  burn();
});
