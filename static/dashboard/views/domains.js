// The Domains section of a deployment's page: its custom domains with their
// two states (the domain's DNS checks and its certificate), the certificate's
// expiry, the redirect of a pair's second half, the warning and the last
// problem, the DNS records to create while a domain is not active; a form
// that adds a domain (an apex and its www together) and, per domain, "Check
// now" and "Remove". It polls faster while a check or an issuance is due.
import { ApiError, api, slugPath } from "/dashboard/api.js";
import { withBusy } from "/dashboard/components/busy-button.js";
import { confirmDialog } from "/dashboard/components/confirm-dialog.js";
import { externalLink } from "/dashboard/components/links.js";
import { timeAgo } from "/dashboard/components/time.js";
import { toast } from "/dashboard/components/toast.js";
import { h } from "/dashboard/dom.js";
import { poll } from "/dashboard/poll.js";

/** Domain states: label, badge style and what the state means (the badge's title). */
const DOMAIN_STATES = {
  pending: ["DNS pending", "queued", "Waiting for the ownership TXT record and the routing records below."],
  active: ["Active", "live", "The DNS records are in place and Slipway answers for this name."],
  moved: ["Moved away", "canceled", "The name no longer points at Slipway; its certificate is not renewed."],
  failed: ["Checks failed", "failed", "Slipway stopped checking; fix the records, then choose Check now."],
};

/** Certificate states, likewise. */
const CERTIFICATE_STATES = {
  none: ["No certificate", "new", "A certificate is requested once the domain is active."],
  issuing: ["Certificate issuing", "building", "A certificate is being requested."],
  active: ["Certificate active", "live", "HTTPS works for this name."],
  renewing: ["Certificate renewing", "building", "The certificate is being renewed; the current one still serves."],
  error: ["Certificate error", "failed", "The certificate could not be issued or renewed."],
};

const HSTS_CHOICES = [
  ["", "Off"],
  ["86400", "1 day"],
  ["15768000", "6 months"],
  ["31536000", "1 year"],
  ["63072000", "2 years"],
];

const hostPath = (slug, hostname) => `${slugPath(slug)}/domains/${encodeURIComponent(hostname)}`;

/** Whether the list should refresh soon: a DNS check or a certificate is on its way. */
const inProgress = (d) => d.status === "pending" || d.certificateStatus === "issuing" || d.certificateStatus === "renewing";

/**
 * The Domains section of deployment `slug`; it refreshes itself until
 * `signal` aborts. `element` goes on the page.
 */
export function domainsSection(slug, signal) {
  const list = h("div", { class: "loading", id: "domains-list" }, "Loading domains…");
  const state = { domains: [], shown: null };
  const refresh = async () => {
    try {
      const result = await api("GET", `${slugPath(slug)}/domains`, undefined, { signal });
      if (signal.aborted) return;
      state.domains = result.domains || [];
    } catch (error) {
      // A deleted deployment is the page's to report; a 401 has signed out already.
      if (error.name === "AbortError" || error.status === 401 || error.status === 404) return;
      list.className = "";
      list.replaceChildren(h("p", { class: "card notice" }, `The domains could not be loaded: ${error.message}`));
      state.shown = null;
      return;
    }
    // Redraw only on change, so that a poll does not take the focus from a button.
    const fingerprint = JSON.stringify(state.domains);
    if (fingerprint === state.shown) return;
    state.shown = fingerprint;
    list.className = "";
    list.replaceChildren(domainList(state.domains, { verify: (d, button) => verify(d, button), remove: (d, button) => remove(d, button) }));
  };
  const poller = poll(refresh, () => state.domains.some(inProgress), signal);

  const verify = (d, button) =>
    withBusy(button, async () => {
      await api("POST", `${hostPath(slug, d.hostname)}/verify`);
      toast(`Checking the DNS records of ${d.hostname} now.`);
      poller.now();
    });
  const remove = async (d, button) => {
    const names = d.pairedWith ? `${d.hostname} and ${d.pairedWith}` : d.hostname;
    const confirmed = await confirmDialog({
      title: `Remove ${d.hostname}?`,
      text: d.pairedWith
        ? `${names} are removed together: Slipway stops answering for both names and drops their certificate. This cannot be undone.`
        : `Slipway stops answering for ${names} and drops its certificate. This cannot be undone.`,
      confirmLabel: d.pairedWith ? "Remove both" : "Remove domain",
    });
    if (!confirmed) return;
    await withBusy(button, async () => {
      await api("DELETE", hostPath(slug, d.hostname));
      toast(`Removed ${names}.`);
      poller.now();
    });
  };

  const element = h(
    "section",
    { class: "settings domains", id: "domains", "aria-labelledby": "domains-title" },
    h("div", { class: "section-head" }, h("h2", { id: "domains-title" }, "Domains")),
    list,
    addForm(slug, signal, () => poller.now()),
  );
  poller.start();
  return { element };
}

/** The domains as cards, or a short explanation when there are none. */
function domainList(domains, actions) {
  if (domains.length === 0) {
    return h("div", { class: "card empty" }, h("p", {}, "No custom domains yet. Add one below; the site keeps answering at its own address too."));
  }
  return h("div", { class: "domain-list" }, domains.map((d) => domainCard(d, actions)));
}

/**
 * One domain: its name, its two state badges and its actions, the warning,
 * the facts, the last problem and, while it is not active, the DNS records to
 * create. `actions.verify(d, button)` and `actions.remove(d, button)` run the
 * buttons.
 */
export function domainCard(d, actions) {
  const titleId = `domain-${d.hostname}`;
  const check = h("button", { type: "button", class: "button small", "data-verify": d.hostname, "aria-label": `Check the DNS records of ${d.hostname} now` }, "Check now");
  const remove = h("button", { type: "button", class: "button ghost small danger", "data-remove": d.hostname, "aria-label": `Remove ${d.hostname}` }, "Remove");
  check.addEventListener("click", () => actions.verify(d, check));
  remove.addEventListener("click", () => actions.remove(d, remove));
  return h(
    "article",
    { class: "card domain", "data-domain": d.hostname, "aria-labelledby": titleId },
    h(
      "div",
      { class: "domain-head" },
      h(
        "div",
        { class: "title" },
        h("h3", { id: titleId }, d.status === "active" ? externalLink(d.url, d.hostname, "domain-name") : h("span", { class: "domain-name" }, d.hostname)),
        stateBadge(DOMAIN_STATES, d.status, "data-domain-status"),
        stateBadge(CERTIFICATE_STATES, d.certificateStatus, "data-certificate-status"),
      ),
      h("div", { class: "actions" }, check, remove),
    ),
    d.warning ? h("p", { class: "domain-warning" }, h("strong", {}, "Warning: "), d.warning) : null,
    domainFacts(d),
    d.lastError ? lastProblem(d.lastError) : null,
    d.status === "active" ? null : recordsTable(d),
  );
}

/** A badge for one of a domain's states; an unknown state keeps its own name. */
function stateBadge(states, value, attribute) {
  const [label, style, meaning] = states[value] || [String(value), "new", ""];
  return h("span", { class: `badge ${style}`, [attribute]: value, title: meaning || null }, label);
}

function domainFacts(d) {
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  const role = d.redirectTo
    ? h("span", {}, "Redirects to ", h("code", { class: "domain-redirect" }, d.redirectTo))
    : d.pairedWith
      ? h("span", {}, "Serves the site; ", h("code", {}, d.pairedWith), " redirects here")
      : "Serves the site";
  const certificate = d.certificate
    ? h("span", { class: "domain-expiry" }, "Expires ", timeAgo(d.certificate.notAfter), d.certificate.source === "uploaded" ? " (uploaded)" : "")
    : h("span", { class: "muted" }, "None yet");
  return h(
    "dl",
    { class: "facts domain-facts" },
    fact("Role", role),
    fact("Certificate", certificate),
    fact("HTTPS", d.httpsRedirect ? "HTTP redirects to HTTPS" : "HTTP answers too"),
    fact("HSTS", h("span", { class: "domain-hsts" }, d.hstsMaxAge === null || d.hstsMaxAge === undefined ? "Off" : hstsText(d.hstsMaxAge))),
    fact("Verified", d.verifiedAt ? timeAgo(d.verifiedAt) : h("span", { class: "muted" }, "Not yet")),
    d.status === "active" ? null : fact("Next check", timeAgo(d.nextCheckAt)),
  );
}

/** An HSTS max-age as people read it: "1 year", "6 months", else seconds. */
function hstsText(seconds) {
  const named = HSTS_CHOICES.find(([value]) => value === String(seconds));
  return named ? `max-age ${named[1]}` : `max-age ${seconds}s`;
}

/** The last problem the checks or the certificate met, in the server's words, and when. */
function lastProblem(error) {
  return h(
    "div",
    { class: "domain-problem" },
    h("p", {}, h("strong", {}, "Last problem"), " (", timeAgo(error.at), "): ", h("span", { class: "domain-problem-detail" }, error.detail)),
  );
}

/** The DNS records to create, each value with a copy button. */
function recordsTable(d) {
  const rows = (d.dnsRecords || []).map((record) =>
    h(
      "tr",
      { "data-record-type": record.type },
      h("td", {}, h("code", {}, record.type)),
      h("td", {}, copyable(record.name, `the name of the ${record.type} record`)),
      h("td", {}, copyable(record.value, `the value of the ${record.type} record`)),
      h("td", { class: "muted" }, record.purpose),
    ),
  );
  return h(
    "div",
    { class: "domain-records" },
    h("p", { class: "hint" }, `Create these records at your DNS host for ${d.hostname}. Slipway checks them by itself; "Check now" checks at once.`),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "records" },
        h("caption", { class: "visually-hidden" }, `DNS records to create for ${d.hostname}`),
        h("thead", {}, h("tr", {}, ["Type", "Name", "Value", "Purpose"].map((column) => h("th", { scope: "col" }, column)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

/** `text` in code with a button that copies it (or selects it when the clipboard is refused). */
function copyable(text, what) {
  const code = h("code", { class: "copy-text" }, text);
  const button = h("button", { type: "button", class: "button ghost small copy", "aria-label": `Copy ${what}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied.");
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      toast("Selected; copy it with your keyboard.");
    }
  });
  return h("span", { class: "copy-line" }, code, button);
}

/**
 * The other half of an apex/www pair, guessed as the server does for the
 * common case (two labels, or www. and two labels); null otherwise. The
 * server decides: this only offers the primary choice.
 */
function pairOf(hostname) {
  const host = hostname.trim().toLowerCase().replace(/\.$/, "");
  const labels = host.split(".");
  if (!labels.every((label) => /^[a-z0-9-]+$/.test(label))) return null;
  if (labels.length === 2) return `www.${host}`;
  if (labels.length === 3 && labels[0] === "www") return labels.slice(1).join(".");
  return null;
}

/** The form that adds a domain; `added()` refreshes the list. */
function addForm(slug, signal, added) {
  const hostname = h("input", {
    id: "domain-hostname", name: "hostname", type: "text", inputmode: "url", autocomplete: "off", spellcheck: "false",
    maxlength: "253", required: true, placeholder: "www.example.com", "aria-describedby": "domain-hostname-hint",
  });
  const primary = h("select", { id: "domain-primary", name: "primary", "aria-describedby": "domain-primary-hint" });
  const pairWww = h("input", { id: "domain-pair", name: "pairWww", type: "checkbox", checked: true });
  const pairLabel = h("span");
  const hsts = h("select", { id: "domain-hsts", name: "hstsMaxAge", "aria-describedby": "domain-hsts-hint" }, HSTS_CHOICES.map(([value, label]) => h("option", { value }, label)));
  const httpsRedirect = h("input", { id: "domain-https", name: "httpsRedirect", type: "checkbox", checked: true });
  const error = h("div", { class: "form-error", id: "domain-form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "button primary", id: "domain-add" }, "Add domain");
  const pairFields = h(
    "div",
    { class: "grid two", hidden: true },
    h("div", { class: "field" }, h("label", { class: "check" }, pairWww, pairLabel)),
    h(
      "div",
      { class: "field" },
      h("label", { for: "domain-primary" }, "Primary name"),
      primary,
      h("p", { class: "hint", id: "domain-primary-hint" }, "It serves the site; the other name redirects to it."),
    ),
  );
  const form = h(
    "form",
    { class: "card form", id: "domain-form", novalidate: true, "aria-labelledby": "domain-form-title" },
    h("h3", { id: "domain-form-title" }, "Add a domain"),
    error,
    h(
      "div",
      { class: "field" },
      h("label", { for: "domain-hostname" }, "Host name"),
      hostname,
      h("p", { class: "hint", id: "domain-hostname-hint" }, "A name of your own, such as example.com or docs.example.com. An apex and its www are added together."),
    ),
    pairFields,
    h(
      "div",
      { class: "grid two" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "domain-hsts" }, "HSTS max-age"),
        hsts,
        h("p", { class: "hint", id: "domain-hsts-hint" }, "Browsers then insist on HTTPS for this long. Start short."),
      ),
      h("div", { class: "field" }, h("label", { class: "check" }, httpsRedirect, "Redirect HTTP to HTTPS once the certificate is active")),
    ),
    h("div", { class: "actions end" }, submit),
  );

  const showPair = () => {
    const host = hostname.value.trim().toLowerCase().replace(/\.$/, "");
    const pair = pairOf(host);
    pairFields.hidden = !pair;
    if (!pair) return;
    pairLabel.textContent = `Add ${pair} too`;
    const chosen = primary.value;
    primary.replaceChildren(h("option", { value: host }, host), h("option", { value: pair }, pair));
    if (chosen === pair || chosen === host) primary.value = chosen;
    primary.disabled = !pairWww.checked;
  };
  hostname.addEventListener("input", showPair, { signal });
  pairWww.addEventListener("change", showPair, { signal });

  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
    hostname.setAttribute("aria-invalid", "true");
    hostname.setAttribute("aria-describedby", "domain-hostname-hint domain-form-error");
    hostname.focus();
  };
  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      error.hidden = true;
      hostname.setAttribute("aria-invalid", "false");
      hostname.setAttribute("aria-describedby", "domain-hostname-hint");
      const body = { hostname: hostname.value.trim() };
      if (!body.hostname) {
        showError("Enter a host name, such as www.example.com.");
        return;
      }
      if (!pairFields.hidden) {
        if (!pairWww.checked) body.pairWww = false;
        else if (primary.value) body.primary = primary.value;
      }
      if (hsts.value) body.hstsMaxAge = Number(hsts.value);
      if (!httpsRedirect.checked) body.httpsRedirect = false;
      await withBusy(submit, async () => {
        try {
          const result = await api("POST", `${slugPath(slug)}/domains`, body, { signal });
          const names = (result.domains || []).map((d) => d.hostname);
          toast(`Added ${names.join(" and ")}. Create the DNS records shown to finish.`);
          form.reset();
          showPair();
          added();
        } catch (failure) {
          if (!(failure instanceof ApiError) || failure.status === 401) throw failure;
          showError(`The domain was not added: ${failure.message}`);
        }
      });
    },
    { signal },
  );
  return form;
}
