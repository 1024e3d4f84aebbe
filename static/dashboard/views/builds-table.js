// A deployment's builds as a table: number, status, commit and timing, and
// what can be done with each (show its log, preview it, roll back to it,
// cancel it). The page passes what those actions do.
import { withBusy } from "/dashboard/components/busy-button.js";
import { cardTable } from "/dashboard/components/data-table.js";
import { externalLink } from "/dashboard/components/links.js";
import { badge, isRunning } from "/dashboard/components/status.js";
import { duration, timeAgo } from "/dashboard/components/time.js";
import { h } from "/dashboard/dom.js";

/**
 * The builds table, or a note that there are none. `context` holds
 * `activeId` (the live build), `selectedId` (the build whose log shows),
 * and the actions: `showLog(build)`, `rollback(build)` and `cancel(build)`
 * (the last two return promises).
 */
export function buildsList(builds, context) {
  if (builds.length === 0) return h("div", { class: "card empty" }, h("p", {}, "No builds yet."));
  const columns = ["Build", "Status", "Commit", "Queued", "Duration", h("span", { class: "visually-hidden" }, "Actions")];
  const rows = builds.map((build) => [buildRow(build, context), build.error ? errorRow(build) : null]);
  return cardTable({ id: "builds", columns }, rows);
}

function buildRow(build, context) {
  return h(
    "tr",
    { class: build.id === context.selectedId ? "selected" : "", "data-build": build.id },
    h("td", {}, h("span", { class: "primary-text" }, `#${build.number}`), " ", build.id === context.activeId ? h("span", { class: "tag" }, "Live") : null),
    h("td", {}, badge(build.status)),
    h(
      "td",
      {},
      build.commitSha ? h("span", { class: "sha", title: build.commitSha }, build.commitSha.slice(0, 7)) : h("span", { class: "muted" }, "—"),
      build.commitMessage ? h("span", { class: "secondary", title: build.commitMessage }, build.commitMessage.split("\n")[0]) : null,
    ),
    h("td", {}, timeAgo(build.queuedAt)),
    h("td", {}, duration(build)),
    h("td", { class: "actions-cell" }, h("div", { class: "actions" }, buildActions(build, context))),
  );
}

/** Why the build failed, on a row of its own under it. */
function errorRow(build) {
  return h("tr", { class: "error-row" }, h("td", {}), h("td", { colspan: "5" }, build.error));
}

function buildActions(build, { activeId, selectedId, showLog, rollback, cancel }) {
  const busyButton = (className, label, action) =>
    h("button", { type: "button", class: className, onclick: (event) => withBusy(event.currentTarget, () => action(build)) }, label);
  return [
    h(
      "button",
      { type: "button", class: "button ghost small", "aria-pressed": build.id === selectedId ? "true" : "false", onclick: () => showLog(build) },
      "Logs",
    ),
    build.previewUrl ? externalLink(build.previewUrl, "Preview", "button ghost small") : null,
    build.status === "success" && build.id !== activeId ? busyButton("button small", "Roll back to this build", rollback) : null,
    isRunning(build) ? busyButton("button danger small", "Cancel", cancel) : null,
  ];
}
