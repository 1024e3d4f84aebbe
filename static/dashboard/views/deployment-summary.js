// The top of a deployment's page: its name, status and address, and a card
// with its settings as they stand.
import { externalLink, safeURL } from "/dashboard/components/links.js";
import { badge } from "/dashboard/components/status.js";
import { h } from "/dashboard/dom.js";
import { protectionSummary } from "/dashboard/views/protection-form.js";

const ROUTING_LABELS = { auto: "Automatic", spa: "Single-page app", static: "Static site" };

/** The content of the page head: title, status, address and, once live, a "Visit site" button. */
export function deploymentHead(d) {
  return [
    h(
      "div",
      {},
      h("div", { class: "title" }, h("h1", {}, d.slug), badge(d.status)),
      h("p", { class: "sub" }, d.activeBuildId ? externalLink(d.url, d.url, "site-link") : "Not live yet: the site goes live when a build succeeds."),
    ),
    d.activeBuildId ? h("div", { class: "actions" }, h("a", { class: "button", href: safeURL(d.url) || "#", target: "_blank", rel: "noopener noreferrer" }, "Visit site", h("span", { "aria-hidden": "true" }, " ↗"))) : null,
  ].filter(Boolean);
}

export function factsCard(d) {
  const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  const code = (text, fallback) => (text ? h("code", {}, text) : h("span", { class: "muted" }, fallback));
  const env = (d.env || []).length === 0
    ? h("span", { class: "muted" }, "None")
    : h("span", {}, d.env.map((v, i) => [i > 0 ? ", " : "", h("code", {}, v.name), v.secret ? " (secret)" : ""]));
  return h(
    "dl",
    { class: "card facts" },
    fact("Repository", d.repoUrl || h("span", { class: "muted" }, "None: deployed by uploading folders (slipway deploy --dir)")),
    fact("Branch", d.branch || "default"),
    fact("Root directory", code(d.rootDir, ".")),
    fact("Install command", code(d.installCommand, "detected")),
    fact("Build command", code(d.buildCommand, "detected")),
    fact("Output directory", code(d.outputDir, "detected")),
    fact("Routing", ROUTING_LABELS[d.spa] || d.spa),
    fact("Notify URL", code(d.notifyUrl, "None")),
    fact("Variables", env),
    fact("Protection", protectionSummary(d)),
  );
}
