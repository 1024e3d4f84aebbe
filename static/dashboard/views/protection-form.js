// The protection form of a deployment's page: whether visitors must sign in
// (a password on Slipway's sign-in page, or HTTP Basic), and whether only
// preview hosts are protected. The password is write-only: the API never
// returns it, so the field starts empty and is sent only when filled in.
import { api, slugPath } from "/dashboard/api.js";
import { h } from "/dashboard/dom.js";

const MODE_LABELS = { none: "Public", password: "Password", basic: "HTTP Basic" };

/** The protection of `d` in a few words (also the facts card's). */
export function protectionSummary(d) {
  const p = d.protection || { mode: "none" };
  if (p.mode === "none") return "Public";
  const who = p.mode === "basic" ? `HTTP Basic (user ${p.username})` : "Password";
  return `${who}${p.previewsOnly ? ", previews only" : ""}`;
}

/** The form for `deployment`, whose listeners live until `signal` aborts; `afterSave(updated)` redraws. */
export function protectionForm(slug, deployment, signal, afterSave) {
  const id = (name) => `p-${name}`;
  const mode = h(
    "select",
    { id: id("mode"), name: "mode" },
    Object.entries(MODE_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
  const username = h("input", { id: id("username"), name: "username", type: "text", autocomplete: "off", spellcheck: "false", maxlength: "64" });
  const password = h("input", { id: id("password"), name: "password", type: "password", autocomplete: "new-password", minlength: "8", maxlength: "1024" });
  const previewsOnly = h("input", { id: id("previewsOnly"), name: "previewsOnly", type: "checkbox" });
  const error = h("div", { class: "form-error", id: id("error"), role: "alert", hidden: true });
  const notice = h("p", { class: "form-notice", id: id("notice"), role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "button", id: id("save") }, "Save protection");
  const usernameField = h("div", { class: "field" }, h("label", { for: id("username") }, "Username"), username);
  const passwordHint = h("p", { class: "hint", id: id("password-hint") });
  password.setAttribute("aria-describedby", id("password-hint"));
  const form = h(
    "form",
    { class: "card form", id: "protection-form", novalidate: true },
    error,
    h("div", { class: "grid two" }, h("div", { class: "field" }, h("label", { for: id("mode") }, "Visitors"), mode), usernameField),
    h("div", { class: "field" }, h("label", { for: id("password") }, "Password"), password, passwordHint),
    h("div", { class: "field" }, h("label", {}, previewsOnly, " Protect previews only (the production address stays public)")),
    notice,
    h("div", { class: "actions end" }, save),
  );
  const section = h(
    "section",
    { class: "settings", "aria-labelledby": "protection-title" },
    h("div", { class: "section-head" }, h("h2", { id: "protection-title" }, "Protection")),
    form,
  );
  let current = deployment;
  let dirty = false;

  const showMode = () => {
    usernameField.hidden = mode.value !== "basic";
    const on = mode.value !== "none";
    password.disabled = !on;
    previewsOnly.disabled = !on;
    const stored = current.protection || { mode: "none" };
    passwordHint.textContent = !on
      ? "Anyone with the address can visit."
      : stored.mode === mode.value && (mode.value !== "basic" || stored.username === username.value.trim())
        ? "Leave empty to keep the current password. A new password signs every visitor out."
        : "Required: 8 to 1024 characters.";
  };
  const fill = (d) => {
    const p = d.protection || { mode: "none", previewsOnly: false };
    mode.value = p.mode;
    username.value = p.username || "";
    password.value = "";
    previewsOnly.checked = !!p.previewsOnly;
    dirty = false;
    showMode();
  };
  fill(deployment);
  form.addEventListener("input", () => { dirty = true; showMode(); }, { signal });

  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      error.hidden = true;
      notice.textContent = "";
      const body = { mode: mode.value };
      if (mode.value !== "none") {
        body.previewsOnly = previewsOnly.checked;
        if (mode.value === "basic") body.username = username.value.trim();
        if (password.value) body.password = password.value;
      }
      save.disabled = true;
      try {
        const updated = await api("PATCH", slugPath(slug), { protection: body }, { signal });
        current = updated;
        fill(updated);
        notice.textContent = `Protection saved: ${protectionSummary(updated)}.`;
        afterSave(updated);
      } catch (failure) {
        if (failure.name === "AbortError" || failure.status === 401) return;
        error.textContent = `The protection was not saved: ${failure.message}`;
        error.hidden = false;
      } finally {
        save.disabled = false;
      }
    },
    { signal },
  );

  return {
    element: section,
    update(d) {
      current = d;
      if (!dirty) fill(d);
    },
  };
}
