// The Slipway dashboard: plain JavaScript, no build step. Every API call
// carries the token the user typed (kept in sessionStorage, this tab only);
// server data reaches the page through textContent and attributes only.
import { readEventStream } from "/dashboard/sse.js";

const TOKEN_KEY = "slipway.token";
const FAST_POLL_MS = 3000;
const SLOW_POLL_MS = 20000;
const MAX_LOG_LINES = 5000;
const SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const main = document.getElementById("main");
const topnav = document.getElementById("topnav");

/** What the current view holds open: timers, streams; closed on navigation. */
let viewScope = new AbortController();

// MARK: API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function authHeaders(value = token()) {
  return { Authorization: `Bearer ${value}` };
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: fall back to the status line.
  }
  const detail = body && body.error;
  return new ApiError(
    response.status,
    (detail && detail.code) || `http_${response.status}`,
    (detail && detail.message) || `The server answered ${response.status} ${response.statusText}.`,
  );
}

async function api(method, path, body, { tokenValue, signal } = {}) {
  const headers = { ...authHeaders(tokenValue), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Slipway did not answer. Check that the server is running, then try again.");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && tokenValue === undefined) signOut("Your token was refused. Sign in again.");
    throw error;
  }
  if (response.status === 204) return null;
  return response.json();
}

const slugPath = (slug) => `/api/deployments/${encodeURIComponent(slug)}`;
const buildPath = (id) => `/api/builds/${encodeURIComponent(id)}`;

// MARK: DOM helpers

/** Creates an element; children are nodes or strings (as text, never HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function template(id) {
  return document.getElementById(id).content.cloneNode(true);
}

/** Only http(s) URLs from the server become links. */
function safeURL(value) {
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function externalLink(url, text, className) {
  const href = safeURL(url);
  if (!href) return h("span", { class: "muted" }, text);
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: className }, text, h("span", { "aria-hidden": "true" }, " ↗"));
}

const STATUS_LABELS = {
  new: "New",
  building: "Building",
  live: "Live",
  failed: "Failed",
  queued: "Queued",
  success: "Succeeded",
  canceled: "Canceled",
};

function badge(status) {
  const known = Object.hasOwn(STATUS_LABELS, status) ? status : "new";
  return h("span", { class: `badge ${known}`, "data-status": status }, STATUS_LABELS[status] || String(status));
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
function timeAgo(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  let text = Math.abs(seconds) < 45 ? "just now" : null;
  for (const [unit, size] of units) {
    if (text) break;
    if (Math.abs(seconds) >= size) text = relativeFormat.format(Math.round(seconds / size), unit);
  }
  text = text || relativeFormat.format(seconds, "second");
  return h("time", { datetime: iso, title: date.toLocaleString() }, text);
}

function duration(build) {
  if (!build.startedAt) return "—";
  const end = build.finishedAt ? new Date(build.finishedAt) : new Date();
  const milliseconds = Math.max(0, end - new Date(build.startedAt));
  if (milliseconds < 1000) return "<1s";
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
}

function toast(message, kind = "info") {
  const element = h("div", { class: `toast ${kind}` }, message);
  document.getElementById("toasts").append(element);
  setTimeout(() => element.remove(), kind === "error" ? 8000 : 4000);
}

function confirmDialog({ title, text, confirmLabel }) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "cancel";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

/** Runs `task` now and then every few seconds (faster while `busy()`), until the view changes. */
function poll(task, busy, signal) {
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

async function withBusy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    if (error.name !== "AbortError") toast(error.message, "error");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function setView(title, nav, ...nodes) {
  viewScope.abort();
  viewScope = new AbortController();
  document.title = title ? `${title} · Slipway` : "Slipway";
  for (const link of topnav.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(...nodes);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  return viewScope.signal;
}

// MARK: Sign in

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (location.hash && location.hash !== "#/") sessionStorage.setItem("slipway.return", location.hash);
  renderSignIn(message);
}

function renderSignIn(message) {
  topnav.hidden = true;
  setView("Sign in", null, template("tpl-sign-in"));
  const form = document.getElementById("sign-in-form");
  const input = document.getElementById("token");
  const error = document.getElementById("token-error");
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
  };
  showError(message || "");
  input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      showError("Enter the admin token.");
      input.focus();
      return;
    }
    const button = document.getElementById("sign-in-submit");
    button.disabled = true;
    try {
      await api("GET", "/api/deployments", undefined, { tokenValue: value });
      sessionStorage.setItem(TOKEN_KEY, value);
      const target = sessionStorage.getItem("slipway.return") || "#/";
      sessionStorage.removeItem("slipway.return");
      if (location.hash === target) route();
      else location.hash = target;
    } catch (failure) {
      showError(failure.status === 401 ? "That token was refused. Check it and try again." : failure.message);
      input.select();
    } finally {
      button.disabled = false;
    }
  });
}

// MARK: Deployments

function renderList() {
  const body = h("div", { class: "loading" }, "Loading deployments…");
  const count = h("p", { class: "sub" });
  const signal = setView(
    "Deployments",
    "list",
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Deployments"), count)),
    body,
  );
  let deployments = [];
  const refresh = async () => {
    const result = await api("GET", "/api/deployments", undefined, { signal });
    deployments = result.deployments || [];
    if (signal.aborted) return;
    const live = deployments.filter((d) => d.status === "live").length;
    count.textContent = deployments.length === 0 ? "" : `${deployments.length} deployment${deployments.length === 1 ? "" : "s"}, ${live} live`;
    body.replaceChildren(deployments.length === 0 ? emptyState() : deploymentTable(deployments));
    body.className = "";
  };
  poll(refresh, () => deployments.some((d) => d.status === "building"), signal).start();
}

function emptyState() {
  return h(
    "div",
    { class: "card empty" },
    h("h2", {}, "No deployments yet"),
    h("p", {}, "Point Slipway at a Git repository; it builds the site and serves it at its own address."),
    h("a", { class: "button primary", href: "#/new" }, "Create your first deployment"),
  );
}

function deploymentTable(deployments) {
  const rows = deployments
    .slice()
    .sort((a, b) => a.slug.localeCompare(b.slug))
    .map((d) =>
      h(
        "tr",
        { "data-slug": d.slug },
        h(
          "td",
          {},
          h("a", { class: "primary-text", href: `#/d/${encodeURIComponent(d.slug)}` }, d.slug),
          h("span", { class: "secondary", title: d.repoUrl }, d.repoUrl, d.branch ? ` · ${d.branch}` : ""),
        ),
        h("td", {}, badge(d.status)),
        h("td", {}, d.activeBuildId ? externalLink(d.url, hostOf(d.url), "site-link") : h("span", { class: "muted" }, "Not live yet")),
        h("td", {}, timeAgo(d.updatedAt)),
      ),
    );
  return h(
    "div",
    { class: "card table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Deployments"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Deployment"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Site"), h("th", { scope: "col" }, "Updated"))),
      h("tbody", {}, rows),
    ),
  );
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

// MARK: Forms

/**
 * Messages of a form whose inputs are `#<prefix><name>`, each with a
 * `#<prefix><name>-error` paragraph, plus one summary above the fields.
 */
function formFeedback(prefix, fields, summary, rows) {
  const fieldError = (name, message) => {
    const error = document.getElementById(`${prefix}${name}-error`);
    const input = document.getElementById(`${prefix}${name}`);
    if (error) {
      error.textContent = message || "";
      error.hidden = !message;
    }
    if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  };
  const show = (message) => {
    summary.textContent = message;
    summary.hidden = false;
    summary.scrollIntoView({ block: "nearest", behavior: "smooth" });
  };
  return {
    clear() {
      fields.forEach((name) => fieldError(name, ""));
      for (const input of rows.querySelectorAll("input")) input.removeAttribute("aria-invalid");
      summary.hidden = true;
      summary.textContent = "";
    },
    /** Shows the problems found before sending ([field, message] pairs); false when there are none. */
    showProblems(problems) {
      if (problems.length === 0) return false;
      for (const [name, message] of problems) fieldError(name, message);
      show(problems.length === 1 ? "Fix the highlighted field." : `Fix the ${problems.length} highlighted fields.`);
      document.getElementById(`${prefix}${problems[0][0]}`)?.focus();
      return true;
    },
    /** Shows the API's refusal above the form and by the field it names. */
    showApiError(intro, error) {
      show(`${intro}: ${error.message}`);
      const mentioned = fieldNamedBy(error, fields);
      if (mentioned) {
        fieldError(mentioned, error.message);
        document.getElementById(`${prefix}${mentioned}`)?.focus();
      }
    },
  };
}

/**
 * The field an API error is about: quoted as 'repoUrl' (the JSON checks),
 * the first word of the message (the settings checks: "outputDir '/x' is
 * absolute"), or a slug_* code.
 */
function fieldNamedBy(error, fields) {
  const named = fields.find((name) => new RegExp(`'${name}(\\[|'|\\.)|^${name}\\b`).test(error.message));
  if (named) return named;
  return fields.includes("slug") && (error.code.startsWith("slug") || /\bthe slug\b/.test(error.message)) ? "slug" : null;
}

/**
 * A form's settings fields (the shared `tpl-deployment-fields`) put in place
 * of its `[data-deployment-fields]`, their ids prefixed with `prefix`.
 */
function insertDeploymentFields(container, prefix) {
  const fragment = template("tpl-deployment-fields");
  for (const element of fragment.querySelectorAll("[id], [for], [aria-describedby]")) {
    for (const name of ["id", "for", "aria-describedby"]) {
      const value = element.getAttribute(name);
      if (value) element.setAttribute(name, value.replaceAll("{p}", prefix));
    }
  }
  container.querySelector("[data-deployment-fields]").replaceWith(fragment);
}

let envRowCounter = 0;

/**
 * A build-variable row. A `stored` row is a secret whose value stays on the
 * server: it shows "•••• stored" and is sent without a value (which keeps
 * it) unless the user chooses to replace it and types a new one.
 */
function envRow({ name = "", value = "", secret = false, stored = false } = {}, onRemove) {
  const row = template("tpl-env-row").firstElementChild;
  const index = ++envRowCounter;
  const [nameLabel, valueLabel] = row.querySelectorAll(".field label");
  const nameInput = row.querySelector(".env-name");
  const valueInput = row.querySelector(".env-value");
  const secretBox = row.querySelector(".env-secret");
  const storedMark = row.querySelector(".env-stored");
  const replace = row.querySelector(".env-replace");
  const keep = row.querySelector(".env-keep");
  nameInput.id = `env-name-${index}`;
  valueInput.id = `env-value-${index}`;
  storedMark.id = `env-stored-${index}`;
  nameLabel.htmlFor = nameInput.id;
  valueLabel.htmlFor = valueInput.id;
  nameInput.value = name;
  valueInput.value = value;
  secretBox.checked = secret;
  valueInput.type = secret ? "password" : "text";
  secretBox.addEventListener("change", () => {
    valueInput.type = secretBox.checked ? "password" : "text";
  });
  row.querySelector(".env-remove").addEventListener("click", () => {
    row.remove();
    onRemove();
  });

  const keepStored = (on) => {
    row.dataset.stored = on ? "true" : "false";
    nameInput.readOnly = on;
    if (on) nameInput.value = name;
    secretBox.checked = on || secretBox.checked;
    secretBox.disabled = on;
    valueInput.hidden = on;
    valueInput.value = "";
    valueInput.type = secretBox.checked ? "password" : "text";
    storedMark.hidden = !on;
    replace.hidden = !on;
    keep.hidden = on;
  };
  if (stored) {
    replace.setAttribute("aria-label", `Replace the stored value of ${name}`);
    replace.setAttribute("aria-describedby", storedMark.id);
    keep.setAttribute("aria-label", `Keep the stored value of ${name}`);
    replace.addEventListener("click", () => {
      keepStored(false);
      valueInput.focus();
    });
    keep.addEventListener("click", () => {
      keepStored(true);
      replace.focus();
    });
    keepStored(true);
  }
  return row;
}

/**
 * The variables in `rows` as the API takes them; problems go to `problems`
 * as [field, message]. Empty rows are left out.
 */
function collectEnv(rows, problems) {
  const env = [];
  const seen = new Set();
  for (const row of rows.querySelectorAll(".env-row")) {
    const name = row.querySelector(".env-name");
    const val = row.querySelector(".env-value");
    const keep = row.dataset.stored === "true";
    if (!keep && !name.value.trim() && !val.value) continue;
    const trimmed = name.value.trim();
    if (!ENV_NAME_PATTERN.test(trimmed) || seen.has(trimmed)) {
      name.setAttribute("aria-invalid", "true");
      problems.push(["env", seen.has(trimmed) ? `The variable ${trimmed} is listed twice.` : "Variable names use letters, digits and _, and do not start with a digit."]);
    } else if (row.dataset.stored === "false" && !val.value) {
      val.setAttribute("aria-invalid", "true");
      problems.push(["env", `Type the new value of ${trimmed}, or keep the stored one.`]);
    }
    seen.add(trimmed);
    env.push(keep ? { name: trimmed, secret: true } : { name: trimmed, value: val.value, secret: row.querySelector(".env-secret").checked });
  }
  return env;
}

// MARK: Create

function renderNew() {
  const view = template("tpl-new");
  insertDeploymentFields(view, "f-");
  const signal = setView("New deployment", "new", view);
  const form = document.getElementById("create-form");
  const rows = form.querySelector(".env-rows");
  const addEnv = form.querySelector(".add-env");
  addEnv.addEventListener(
    "click",
    () => {
      const row = envRow({}, () => addEnv.focus());
      rows.append(row);
      row.querySelector(".env-name").focus();
    },
    { signal },
  );

  const fields = ["repoUrl", "slug", "branch", "rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl", "spa", "env"];
  const feedback = formFeedback("f-", fields, document.getElementById("form-error"), rows);

  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      feedback.clear();
      const value = (name) => document.getElementById(`f-${name}`).value.trim();
      const body = { repoUrl: value("repoUrl") };
      for (const name of ["slug", "branch", "rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl"]) {
        if (value(name)) body[name] = value(name);
      }
      body.spa = value("spa");
      const problems = [];
      if (!body.repoUrl) problems.push(["repoUrl", "Enter the Git repository to build, such as https://github.com/acme/site.git."]);
      if (body.slug && (!SLUG_PATTERN.test(body.slug) || body.slug.length > 63)) {
        problems.push(["slug", "Use 1 to 63 characters: lower-case letters, digits and single hyphens, not at either end."]);
      }
      const env = collectEnv(rows, problems);
      if (env.length > 0) body.env = env;
      if (feedback.showProblems(problems)) return;
      const button = document.getElementById("create-submit");
      button.disabled = true;
      button.textContent = "Creating…";
      try {
        const result = await api("POST", "/api/deployments", body);
        toast(`Created ${result.deployment.slug}; build #${result.build.number} is queued.`);
        location.hash = `#/d/${encodeURIComponent(result.deployment.slug)}/b/${encodeURIComponent(result.build.id)}`;
      } catch (error) {
        if (error.status === 401) return;
        feedback.showApiError("The deployment was not created", error);
      } finally {
        button.disabled = false;
        button.textContent = "Create and deploy";
      }
    },
    { signal },
  );
}

// MARK: Deployment page

function renderDeployment(slug, selectedId) {
  const state = { deployment: null, builds: [], selectedId, stream: null };
  const head = h("div", { class: "page-head" }, h("div", {}, h("h1", {}, slug)));
  const facts = h("div");
  const buildsBody = h("div", { class: "loading" }, "Loading builds…");
  const logArea = h("div");
  const settingsArea = h("div");
  let settings = null;
  const redeploy = h("button", { type: "button", class: "button primary", id: "redeploy" }, "Redeploy");
  const remove = h("button", { type: "button", class: "button danger", id: "delete-deployment" }, "Delete deployment");
  const signal = setView(
    slug,
    "list",
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Deployments"), h("span", { "aria-hidden": "true" }, " / "), slug),
    head,
    facts,
    h("div", { class: "section-head" }, h("h2", {}, "Builds"), h("div", { class: "actions" }, redeploy)),
    buildsBody,
    logArea,
    settingsArea,
    h(
      "section",
      { class: "card danger-zone", "aria-labelledby": "delete-title" },
      h("div", {}, h("h2", { id: "delete-title" }, "Delete this deployment"), h("p", { class: "muted" }, "The site stops answering and every build and file is removed.")),
      remove,
    ),
  );

  const refresh = async () => {
    const [deployment, list] = await Promise.all([
      api("GET", slugPath(slug), undefined, { signal }),
      api("GET", `${slugPath(slug)}/builds`, undefined, { signal }),
    ]);
    if (signal.aborted) return;
    state.deployment = deployment;
    state.builds = list.builds || [];
    if (!state.selectedId && state.builds.length > 0) state.selectedId = state.builds[0].id;
    draw();
  };
  const poller = poll(
    async () => {
      try {
        await refresh();
      } catch (error) {
        if (error.status === 404) {
          toast(`The deployment ${slug} no longer exists.`, "error");
          location.hash = "#/";
          return;
        }
        throw error;
      }
    },
    () => state.builds.some((b) => b.status === "queued" || b.status === "building"),
    signal,
  );

  const draw = () => {
    const d = state.deployment;
    head.replaceChildren(
      ...[h(
        "div",
        {},
        h("div", { class: "title" }, h("h1", {}, d.slug), badge(d.status)),
        h("p", { class: "sub" }, d.activeBuildId ? externalLink(d.url, d.url, "site-link") : "Not live yet: the site goes live when a build succeeds."),
      ),
      d.activeBuildId ? h("div", { class: "actions" }, h("a", { class: "button", href: safeURL(d.url) || "#", target: "_blank", rel: "noopener noreferrer" }, "Visit site", h("span", { "aria-hidden": "true" }, " ↗"))) : null,
    ].filter(Boolean));
    // Keep focus on the heading the first time only.
    facts.replaceChildren(factsCard(d));
    buildsBody.className = "";
    buildsBody.replaceChildren(state.builds.length === 0 ? h("div", { class: "card empty" }, h("p", {}, "No builds yet.")) : buildsTable());
    const selected = state.builds.find((b) => b.id === state.selectedId);
    if (selected && (!state.stream || state.stream.buildId !== selected.id)) openLogs(selected);
    if (state.stream) state.stream.update(selected);
    if (settings) settings.update(d);
    else {
      settings = settingsForm(slug, d, signal, { newestBuildId: () => state.builds[0]?.id, afterSave });
      settingsArea.replaceChildren(settings.element);
    }
  };

  /** After the settings were saved: the build queued since `newestBefore`, if any, is shown and returned. */
  const afterSave = async (rebuild, newestBefore) => {
    await refresh();
    const queued = state.builds[0];
    if (!rebuild || !queued || queued.id === newestBefore) return null;
    state.selectedId = queued.id;
    history.replaceState(null, "", `#/d/${encodeURIComponent(slug)}/b/${encodeURIComponent(queued.id)}`);
    draw();
    return queued;
  };

  const buildsTable = () => {
    const active = state.deployment.activeBuildId;
    const rows = [];
    for (const build of state.builds) {
      const running = build.status === "queued" || build.status === "building";
      const actions = [];
      actions.push(
        h(
          "button",
          {
            type: "button",
            class: "button ghost small",
            "aria-pressed": build.id === state.selectedId ? "true" : "false",
            onclick: () => {
              state.selectedId = build.id;
              history.replaceState(null, "", `#/d/${encodeURIComponent(slug)}/b/${encodeURIComponent(build.id)}`);
              draw();
              logArea.scrollIntoView({ behavior: "smooth", block: "start" });
            },
          },
          "Logs",
        ),
      );
      if (build.previewUrl) actions.push(externalLink(build.previewUrl, "Preview", "button ghost small"));
      if (build.status === "success" && build.id !== active) {
        actions.push(
          h("button", { type: "button", class: "button small", onclick: (event) => withBusy(event.currentTarget, () => rollback(build)) }, "Roll back to this build"),
        );
      }
      if (running) {
        actions.push(
          h("button", { type: "button", class: "button danger small", onclick: (event) => withBusy(event.currentTarget, () => cancel(build)) }, "Cancel"),
        );
      }
      rows.push(
        h(
          "tr",
          { class: build.id === state.selectedId ? "selected" : "", "data-build": build.id },
          h("td", {}, h("span", { class: "primary-text" }, `#${build.number}`), " ", build.id === active ? h("span", { class: "tag" }, "Live") : null),
          h("td", {}, badge(build.status)),
          h(
            "td",
            {},
            build.commitSha ? h("span", { class: "sha", title: build.commitSha }, build.commitSha.slice(0, 7)) : h("span", { class: "muted" }, "—"),
            build.commitMessage ? h("span", { class: "secondary", title: build.commitMessage }, build.commitMessage.split("\n")[0]) : null,
          ),
          h("td", {}, timeAgo(build.queuedAt)),
          h("td", {}, duration(build)),
          h("td", { class: "actions-cell" }, h("div", { class: "actions" }, actions)),
        ),
      );
      if (build.error) rows.push(h("tr", { class: "error-row" }, h("td", {}), h("td", { colspan: "5" }, build.error)));
    }
    return h(
      "div",
      { class: "card table-wrap" },
      h(
        "table",
        { id: "builds" },
        h("thead", {}, h("tr", {}, ["Build", "Status", "Commit", "Queued", "Duration", ""].map((label) => h("th", { scope: "col" }, label || h("span", { class: "visually-hidden" }, "Actions"))))),
        h("tbody", {}, rows),
      ),
    );
  };

  const rollback = async (build) => {
    await api("POST", `${slugPath(slug)}/rollback`, { buildId: build.id });
    toast(`Build #${build.number} is live again.`);
    poller.now();
  };
  const cancel = async (build) => {
    await api("POST", `${buildPath(build.id)}/cancel`);
    toast(`Build #${build.number} was canceled.`);
    poller.now();
  };
  redeploy.addEventListener(
    "click",
    () =>
      withBusy(redeploy, async () => {
        const result = await api("POST", `${slugPath(slug)}/builds`, {});
        toast(`Build #${result.build.number} is queued.`);
        state.selectedId = result.build.id;
        history.replaceState(null, "", `#/d/${encodeURIComponent(slug)}/b/${encodeURIComponent(result.build.id)}`);
        poller.now();
      }),
    { signal },
  );
  remove.addEventListener(
    "click",
    async () => {
      const confirmed = await confirmDialog({
        title: `Delete ${slug}?`,
        text: "Its site stops answering and every build and file is removed. This cannot be undone.",
        confirmLabel: "Delete deployment",
      });
      if (!confirmed) return;
      await withBusy(remove, async () => {
        await api("DELETE", slugPath(slug));
        toast(`Deleted ${slug}.`);
        location.hash = "#/";
      });
    },
    { signal },
  );

  const openLogs = (build) => {
    if (state.stream) state.stream.close();
    state.stream = logViewer(build, logArea, signal, () => poller.now());
  };

  poller.start();
}

function factsCard(d) {
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  const code = (text, fallback) => (text ? h("code", {}, text) : h("span", { class: "muted" }, fallback));
  const env = (d.env || []).length === 0
    ? h("span", { class: "muted" }, "None")
    : h("span", {}, d.env.map((v, i) => [i > 0 ? ", " : "", h("code", {}, v.name), v.secret ? " (secret)" : ""]));
  return h(
    "dl",
    { class: "card facts" },
    fact("Repository", d.repoUrl),
    fact("Branch", d.branch || "default"),
    fact("Root directory", code(d.rootDir, ".")),
    fact("Install command", code(d.installCommand, "detected")),
    fact("Build command", code(d.buildCommand, "detected")),
    fact("Output directory", code(d.outputDir, "detected")),
    fact("Routing", { auto: "Automatic", spa: "Single-page app", static: "Static site" }[d.spa] || d.spa),
    fact("Notify URL", d.notifyUrl ? h("code", {}, d.notifyUrl) : h("span", { class: "muted" }, "None")),
    fact("Variables", env),
  );
}

/**
 * The deployment's settings as a form that PATCHes them. It is filled from
 * the deployment and refilled when the deployment changes, unless the user
 * has started editing. Secret values are never shown or sent back: a stored
 * secret goes out without its value (which keeps it) unless replaced.
 */
function settingsForm(slug, deployment, signal, { newestBuildId, afterSave }) {
  const section = template("tpl-settings").firstElementChild;
  insertDeploymentFields(section, "s-");
  section.querySelector(".slug-field").remove(); // the slug names the deployment's URL and stays
  const form = section.querySelector("#settings-form");
  const rows = form.querySelector(".env-rows");
  const notice = section.querySelector("#settings-notice");
  const addEnv = form.querySelector(".add-env");
  const buttons = [...section.querySelectorAll("#settings-save, #settings-save-rebuild, #settings-discard")];
  const textFields = ["repoUrl", "branch", "rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl"];
  const fields = [...textFields, "spa", "env"];
  const feedback = formFeedback("s-", fields, section.querySelector("#settings-error"), rows);
  const input = (name) => section.querySelector(`#s-${name}`);
  let latest = deployment;
  let shown = null; // the updatedAt of what the form holds
  let dirty = false;

  const fill = (d) => {
    for (const name of textFields) input(name).value = d[name] || "";
    input("spa").value = d.spa || "auto";
    rows.replaceChildren(
      ...(d.env || []).map((v) =>
        envRow(v.secret ? { name: v.name, secret: true, stored: true } : { name: v.name, value: v.value ?? "" }, () => addEnv.focus()),
      ),
    );
    shown = d.updatedAt;
    dirty = false;
  };
  fill(deployment);

  form.addEventListener("input", () => (dirty = true), { signal });
  form.addEventListener("click", (event) => {
    if (event.target.closest(".env-remove, .env-replace, .env-keep")) dirty = true;
  }, { signal });
  addEnv.addEventListener(
    "click",
    () => {
      dirty = true;
      const row = envRow({}, () => addEnv.focus());
      rows.append(row);
      row.querySelector(".env-name").focus();
    },
    { signal },
  );
  section.querySelector("#settings-discard").addEventListener(
    "click",
    () => {
      feedback.clear();
      fill(latest);
      notice.textContent = "Changes discarded.";
    },
    { signal },
  );

  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      const rebuild = event.submitter?.id === "settings-save-rebuild";
      feedback.clear();
      notice.textContent = "";
      const value = (name) => input(name).value.trim();
      const body = { repoUrl: value("repoUrl"), branch: value("branch") || "main", spa: value("spa") };
      // An empty optional field is sent as null, which clears it (back to detection).
      for (const name of ["rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl"]) body[name] = value(name) || null;
      const problems = [];
      if (!body.repoUrl) problems.push(["repoUrl", "Enter the Git repository to build, such as https://github.com/acme/site.git."]);
      body.env = collectEnv(rows, problems);
      if (feedback.showProblems(problems)) return;
      if (rebuild) body.rebuild = true;

      const submitter = event.submitter || buttons[0];
      const label = submitter.textContent;
      for (const button of buttons) button.disabled = true;
      submitter.setAttribute("aria-busy", "true");
      submitter.textContent = "Saving…";
      const newestBefore = newestBuildId();
      try {
        const updated = await api("PATCH", slugPath(slug), body, { signal });
        latest = updated;
        fill(updated);
        let build = null;
        try {
          build = await afterSave(rebuild, newestBefore);
        } catch (error) {
          if (error.name !== "AbortError") console.warn("refresh after saving failed", error);
        }
        notice.textContent = build
          ? `Settings saved. Build #${build.number} is queued with them.`
          : rebuild
            ? "Settings saved. A build is queued with them."
            : "Settings saved. The next build uses them.";
      } catch (error) {
        if (error.name === "AbortError" || error.status === 401) return;
        feedback.showApiError("The settings were not saved", error);
      } finally {
        for (const button of buttons) button.disabled = false;
        submitter.removeAttribute("aria-busy");
        submitter.textContent = label;
      }
    },
    { signal },
  );

  return {
    element: section,
    update(d) {
      latest = d;
      if (!dirty && d.updatedAt !== shown) fill(d);
    },
  };
}

/** The live log of one build, streamed with the Authorization header. */
function logViewer(build, container, viewSignal, onFinished) {
  const controller = new AbortController();
  viewSignal.addEventListener("abort", () => controller.abort(), { once: true });
  const status = h("span", {}, badge(build.status));
  const follow = h("input", { type: "checkbox", checked: true, id: "log-follow" });
  const log = h("div", { class: "log", id: "log", role: "log", "aria-label": `Log of build #${build.number}`, tabindex: "0" });
  container.replaceChildren(
    h(
      "section",
      { class: "card log-card", "aria-labelledby": "log-title" },
      h(
        "div",
        { class: "log-head" },
        h("div", { class: "title" }, h("h2", { id: "log-title" }, `Build #${build.number} log`), status),
        h("label", { class: "check" }, follow, "Follow"),
      ),
      log,
    ),
  );
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const append = (node) => {
    const stick = follow.checked;
    log.append(node);
    while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
  };
  const note = (text) => append(h("div", { class: "note" }, text));
  let finished = false;
  let attempts = 0;

  const connect = async () => {
    log.replaceChildren();
    let sawStatus = false;
    try {
      await readEventStream(`${buildPath(build.id)}/logs`, {
        headers: authHeaders(),
        signal: controller.signal,
        onEvent: ({ event, data }) => {
          let payload;
          try {
            payload = JSON.parse(data);
          } catch {
            return;
          }
          if (event === "log") {
            attempts = 0;
            const time = payload.time ? new Date(payload.time) : null;
            append(
              h(
                "div",
                { class: `line ${["stdout", "stderr", "system"].includes(payload.stream) ? payload.stream : ""}` },
                h("span", { class: "time" }, time && !isNaN(time) ? timeFormat.format(time) : ""),
                h("span", { class: "text" }, String(payload.text ?? "")),
              ),
            );
          } else if (event === "status") {
            sawStatus = true;
            finished = true;
            status.replaceChildren(badge(payload.status));
            const row = document.querySelector(`tr[data-build="${CSS.escape(build.id)}"] .badge`);
            if (row) row.replaceWith(badge(payload.status));
            note(payload.error ? `Build ${STATUS_LABELS[payload.status] || payload.status}: ${payload.error}` : `Build ${(STATUS_LABELS[payload.status] || payload.status).toLowerCase()}.`);
            onFinished();
          }
        },
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof Response) {
        const failure = await errorFrom(error);
        if (failure.status === 401) {
          signOut("Your token was refused. Sign in again.");
          return;
        }
        note(`The log is not available: ${failure.message}`);
        return;
      }
    }
    if (controller.signal.aborted || sawStatus) return;
    // The connection dropped before the build ended: the server replays the log, so reconnect.
    attempts += 1;
    const delay = Math.min(15000, 1000 * 2 ** Math.min(attempts, 4));
    note(`The log stream was interrupted; reconnecting in ${Math.round(delay / 1000)}s…`);
    setTimeout(() => {
      if (!controller.signal.aborted && !finished) connect();
    }, delay);
  };
  connect();

  return {
    buildId: build.id,
    close: () => controller.abort(),
    update: (latest) => {
      if (latest && !finished) status.replaceChildren(badge(latest.status));
    },
  };
}

// MARK: Routing

function route() {
  if (!token()) {
    renderSignIn();
    return;
  }
  topnav.hidden = false;
  const path = location.hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (parts.length === 0) renderList();
  else if (parts[0] === "new" && parts.length === 1) renderNew();
  else if (parts[0] === "d" && (parts.length === 2 || (parts.length === 4 && parts[2] === "b"))) renderDeployment(parts[1], parts[3]);
  else location.hash = "#/";
}

document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem("slipway.return");
  if (location.hash === "#/") route();
  else location.hash = "#/";
});
window.addEventListener("hashchange", route);
route();
