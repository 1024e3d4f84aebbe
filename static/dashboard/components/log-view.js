// The live log of one build: a card with the build's status and a "Follow"
// switch, its lines streamed from the server (with the Authorization header)
// and, when the connection drops before the build ends, streamed again: the
// server replays the log from the start.
import { ApiError, buildPath, streamEvents } from "/dashboard/api.js";
import { h } from "/dashboard/dom.js";
import { badge, statusLabel } from "/dashboard/components/status.js";

const MAX_LOG_LINES = 5000;
const STREAMS = ["stdout", "stderr", "system"];
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

/**
 * Shows the log of `build` in `container` until `viewSignal` aborts or
 * `close` is called; calls onFinished(status) when the build ends. `update`
 * shows a newer status of the build until its log says it ended.
 */
export function logViewer(build, container, viewSignal, onFinished) {
  const controller = new AbortController();
  viewSignal.addEventListener("abort", () => controller.abort(), { once: true });
  const card = logCard(build);
  container.replaceChildren(card.element);
  let finished = false;
  let attempts = 0;

  const onEvent = ({ event, data }) => {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (event === "log") {
      attempts = 0;
      card.append(logLine(payload));
    } else if (event === "status") {
      finished = true;
      card.showStatus(payload.status);
      card.note(endNote(payload));
      onFinished(payload.status);
    }
  };

  const connect = async () => {
    card.clear();
    try {
      await streamEvents(`${buildPath(build.id)}/logs`, { signal: controller.signal, onEvent });
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError) {
        // A 401 has signed the user out already.
        if (error.status !== 401) card.note(`The log is not available: ${error.message}`);
        return;
      }
    }
    if (controller.signal.aborted || finished) return;
    attempts += 1;
    const delay = Math.min(15000, 1000 * 2 ** Math.min(attempts, 4));
    card.note(`The log stream was interrupted; reconnecting in ${Math.round(delay / 1000)}s…`);
    setTimeout(() => {
      if (!controller.signal.aborted && !finished) connect();
    }, delay);
  };
  connect();

  return {
    buildId: build.id,
    close: () => controller.abort(),
    update: (latest) => {
      if (latest && !finished) card.showStatus(latest.status);
    },
  };
}

/** The log's card; appended lines scroll into view while "Follow" is on. */
function logCard(build) {
  const status = h("span", {}, badge(build.status));
  const follow = h("input", { type: "checkbox", checked: true, id: "log-follow" });
  const log = h("div", { class: "log", id: "log", role: "log", "aria-label": `Log of build #${build.number}`, tabindex: "0" });
  const element = h(
    "section",
    { class: "card log-card", "aria-labelledby": "log-title" },
    h(
      "div",
      { class: "log-head" },
      h("div", { class: "title" }, h("h2", { id: "log-title" }, `Build #${build.number} log`), status),
      h("label", { class: "check" }, follow, "Follow"),
    ),
    log,
  );
  const append = (node) => {
    const stick = follow.checked;
    log.append(node);
    while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
  };
  return {
    element,
    append,
    note: (text) => append(h("div", { class: "note" }, text)),
    clear: () => log.replaceChildren(),
    showStatus: (value) => status.replaceChildren(badge(value)),
  };
}

/** One line of output: its time and its text, styled by the stream it came from. */
function logLine(payload) {
  const time = payload.time ? new Date(payload.time) : null;
  return h(
    "div",
    { class: `line ${STREAMS.includes(payload.stream) ? payload.stream : ""}` },
    h("span", { class: "time" }, time && !isNaN(time) ? timeFormat.format(time) : ""),
    h("span", { class: "text" }, String(payload.text ?? "")),
  );
}

/** The note that ends the log: how the build ended, and why when it failed. */
function endNote({ status, error }) {
  return error ? `Build ${statusLabel(status)}: ${error}` : `Build ${statusLabel(status).toLowerCase()}.`;
}
