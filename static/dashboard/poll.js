// Polling for views that show server state: run a task now and then again and
// again, faster while something is in progress, slower in a hidden tab, and
// at once when the tab becomes visible; stops when the view's signal aborts.
import { ApiError } from "/dashboard/api.js";

const FAST_POLL_MS = 3000;
const SLOW_POLL_MS = 20000;

/**
 * Runs `task` now and then every few seconds (faster while `busy()`), until
 * the view changes. Returns `start` (the first run) and `now` (an extra run,
 * which also restarts the wait).
 */
export function poll(task, busy, signal) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    try {
      await task();
    } catch (error) {
      if (error.name !== "AbortError" && !(error instanceof ApiError && error.status === 401)) {
        console.warn("refresh failed", error);
      }
    }
    if (signal.aborted) return;
    timer = setTimeout(tick, document.hidden ? SLOW_POLL_MS : busy() ? FAST_POLL_MS : SLOW_POLL_MS);
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  const wake = () => {
    if (!document.hidden && !signal.aborted) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", wake, { signal });
  return { now: wake, start: tick };
}
