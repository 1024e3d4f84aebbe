// The API tokens page (admin tokens only): the tokens with their scope,
// expiry and last use; a form that creates one and shows its value once;
// revoking a token, which the server refuses at once.
import { ApiError, api } from "/dashboard/api.js";
import { withBusy } from "/dashboard/components/busy-button.js";
import { confirmDialog } from "/dashboard/components/confirm-dialog.js";
import { cardTable } from "/dashboard/components/data-table.js";
import { timeAgo } from "/dashboard/components/time.js";
import { toast } from "/dashboard/components/toast.js";
import { h } from "/dashboard/dom.js";
import { setView } from "/dashboard/router.js";

const EXPIRY_CHOICES = [
  ["30d", "30 days"],
  ["90d", "90 days"],
  ["365d", "1 year"],
  ["", "Never"],
];

export function renderTokens() {
  const list = h("div", { class: "loading" }, "Loading tokens…");
  const created = h("div", { id: "token-created", role: "status", "aria-live": "polite" });
  const signal = setView(
    "API tokens",
    "tokens",
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "API tokens"), h("p", { class: "sub" }, "Tokens for CI jobs and people: each with a scope, stored only as a hash.")),
    ),
    created,
    createForm(created, () => refresh()),
    h("div", { class: "section-head" }, h("h2", {}, "Tokens")),
    list,
  );
  const refresh = async () => {
    try {
      const result = await api("GET", "/api/tokens", undefined, { signal });
      if (signal.aborted) return;
      list.className = "";
      list.replaceChildren(tokenTable(result.tokens || [], refresh));
    } catch (error) {
      if (error.name === "AbortError" || error.status === 401) return;
      list.className = "";
      list.replaceChildren(h("p", { class: "notice" }, error.status === 403 ? "Only an admin token may manage tokens." : error.message));
    }
  };
  refresh();
}

function createForm(created, refreshed) {
  const name = h("input", { id: "token-name", name: "name", type: "text", autocomplete: "off", maxlength: "100", required: true, placeholder: "GitHub Actions of my-site" });
  const scope = h("input", { id: "token-scope", name: "scope", type: "text", autocomplete: "off", spellcheck: "false", required: true, placeholder: "deploy:my-site", "aria-describedby": "token-scope-hint" });
  const expiry = h("select", { id: "token-expiry", name: "expiresIn" }, EXPIRY_CHOICES.map(([value, label]) => h("option", { value }, label)));
  const error = h("div", { class: "form-error", id: "token-form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary", id: "token-create" }, "Create token");
  const form = h(
    "form",
    { class: "card form", id: "token-form", novalidate: true },
    error,
    h(
      "div",
      { class: "grid two" },
      h("div", { class: "field" }, h("label", { for: "token-name" }, "Name"), name),
      h("div", { class: "field" }, h("label", { for: "token-expiry" }, "Expires in"), expiry),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "token-scope" }, "Scope"),
      scope,
      h("p", { class: "hint", id: "token-scope-hint" }, "admin (everything), read (every read but tokens and the audit log), or deploy:<slug> (build, cancel, roll back and read one deployment)."),
    ),
    h("div", { class: "actions end" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = { name: name.value.trim(), scope: scope.value.trim() };
    if (expiry.value) body.expiresIn = expiry.value;
    if (!body.name || !body.scope) {
      error.textContent = "Give the token a name and a scope.";
      error.hidden = false;
      return;
    }
    await withBusy(submit, async () => {
      try {
        const token = await api("POST", "/api/tokens", body);
        created.replaceChildren(shownOnce(token));
        form.reset();
        refreshed();
      } catch (failure) {
        if (!(failure instanceof ApiError) || failure.status === 401) throw failure;
        error.textContent = `The token was not created: ${failure.message}`;
        error.hidden = false;
      }
    });
  });
  return form;
}

/** The new token's value, shown this once, with a copy button. */
function shownOnce(token) {
  const value = h("input", { type: "text", readonly: true, class: "mono", id: "token-value", value: token.token, "aria-label": "The new token" });
  const copy = h("button", { type: "button", class: "button small" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      toast("Copied the token.");
    } catch {
      value.select();
    }
  });
  return h(
    "div",
    { class: "card notice" },
    h("h2", {}, `Token “${token.name}” created`),
    h("p", {}, "Copy it now and store it somewhere safe (for a CI job, as a secret named SLIPWAY_TOKEN). It is not shown again."),
    h("div", { class: "env-value-line" }, value, copy),
  );
}

function tokenTable(tokens, refresh) {
  if (tokens.length === 0) return h("div", { class: "card empty" }, h("p", {}, "No API tokens yet."));
  const rows = tokens.map((t) => {
    const state = t.revokedAt ? "revoked" : t.expiresAt && new Date(t.expiresAt) <= new Date() ? "expired" : "active";
    const revoke = h("button", { type: "button", class: "button ghost small danger", "data-revoke": t.id }, "Revoke");
    revoke.addEventListener("click", async () => {
      const sure = await confirmDialog({ title: `Revoke “${t.name}”?`, text: "Every request with this token is refused from now on. This cannot be undone.", confirmLabel: "Revoke" });
      if (!sure) return;
      await withBusy(revoke, async () => {
        await api("DELETE", `/api/tokens/${encodeURIComponent(t.id)}`);
        toast(`Revoked ${t.name}.`);
        refresh();
      });
    });
    return h(
      "tr",
      { "data-token": t.id },
      h("td", {}, h("span", { class: "primary-text" }, t.name), h("span", { class: "secondary mono" }, t.id)),
      h("td", {}, h("code", {}, t.scope)),
      h("td", {}, h("span", { class: `badge ${state === "active" ? "live" : "canceled"}` }, state)),
      h("td", {}, t.expiresAt ? timeAgo(t.expiresAt) : h("span", { class: "muted" }, "Never")),
      h("td", {}, timeAgo(t.lastUsedAt)),
      h("td", { class: "actions-cell" }, state === "revoked" ? null : revoke),
    );
  });
  return cardTable({ id: "tokens-table", caption: "API tokens", columns: ["Token", "Scope", "State", "Expires", "Last used", ""] }, rows);
}
