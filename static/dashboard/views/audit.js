// The audit log page (admin tokens only): changes made through the API and
// refused tokens, newest first, filtered by action and paged with "Older".
import { api } from "/dashboard/api.js";
import { cardTable } from "/dashboard/components/data-table.js";
import { timeAgo } from "/dashboard/components/time.js";
import { h } from "/dashboard/dom.js";
import { setView } from "/dashboard/router.js";

const ACTIONS = [
  "deployment.create", "deployment.update", "deployment.delete", "deployment.rollback",
  "deployment.rotate_webhook_secret", "build.trigger", "build.cancel", "token.create", "token.revoke",
  "webhook.github", "auth.failed",
];
const PAGE = 50;

export function renderAudit() {
  const action = h("select", { id: "audit-action", "aria-label": "Action" }, h("option", { value: "" }, "Every action"), ACTIONS.map((a) => h("option", { value: a }, a)));
  const body = h("div", { class: "loading" }, "Loading the audit log…");
  const older = h("button", { type: "button", class: "button", id: "audit-older", hidden: true }, "Older entries");
  const signal = setView(
    "Audit log",
    "audit",
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Audit log"), h("p", { class: "sub" }, "Every change made through the API, and every refused token, with who, from where and the outcome.")),
      h("div", { class: "actions" }, action),
    ),
    body,
    h("div", { class: "actions end" }, older),
  );
  let rows = [];
  let next = null;
  const load = async (before) => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (action.value) query.set("action", action.value);
    if (before) query.set("before", String(before));
    try {
      const page = await api("GET", `/api/audit?${query}`, undefined, { signal });
      if (signal.aborted) return;
      rows = before ? rows.concat(page.events) : page.events;
      next = page.nextBefore;
      body.className = "";
      body.replaceChildren(rows.length === 0 ? h("div", { class: "card empty" }, h("p", {}, "Nothing recorded yet.")) : auditTable(rows));
      older.hidden = next === null;
    } catch (error) {
      if (error.name === "AbortError" || error.status === 401) return;
      body.className = "";
      body.replaceChildren(h("p", { class: "notice" }, error.status === 403 ? "Only an admin token may read the audit log." : error.message));
    }
  };
  action.addEventListener("change", () => load(null), { signal });
  older.addEventListener("click", () => load(next), { signal });
  load(null);
}

function auditTable(events) {
  const rows = events.map((e) =>
    h(
      "tr",
      { "data-audit": e.id, class: e.outcome >= 400 ? "error-row" : null },
      h("td", {}, timeAgo(e.time)),
      h("td", {}, e.tokenName || h("span", { class: "muted" }, "unknown"), e.tokenId ? h("span", { class: "secondary mono" }, e.tokenId) : null),
      h("td", {}, h("code", {}, e.action), e.count > 1 ? ` ×${e.count}` : ""),
      h("td", {}, e.target ? h("span", { class: "mono" }, e.target) : h("span", { class: "muted" }, "—")),
      h("td", {}, String(e.outcome)),
      h("td", { class: "mono" }, e.clientAddress || "—"),
    ),
  );
  return cardTable({ id: "audit-table", caption: "Audit log", columns: ["When", "Token", "Action", "Target", "Outcome", "Client"] }, rows);
}
