// The deployments list: every deployment with its status and site, polled
// (faster while one is building).
import { api } from "/dashboard/api.js";
import { cardTable } from "/dashboard/components/data-table.js";
import { externalLink, hostOf } from "/dashboard/components/links.js";
import { badge } from "/dashboard/components/status.js";
import { timeAgo } from "/dashboard/components/time.js";
import { h } from "/dashboard/dom.js";
import { poll } from "/dashboard/poll.js";
import { deploymentHash, setView } from "/dashboard/router.js";

export function renderList() {
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
    count.textContent = summary(deployments);
    body.replaceChildren(deployments.length === 0 ? emptyState() : deploymentTable(deployments));
    body.className = "";
  };
  poll(refresh, () => deployments.some((d) => d.status === "building"), signal).start();
}

/** "3 deployments, 2 live"; nothing when there are none. */
function summary(deployments) {
  if (deployments.length === 0) return "";
  const live = deployments.filter((d) => d.status === "live").length;
  return `${deployments.length} deployment${deployments.length === 1 ? "" : "s"}, ${live} live`;
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
    .map(deploymentRow);
  return cardTable({ caption: "Deployments", columns: ["Deployment", "Status", "Site", "Updated"] }, rows);
}

function deploymentRow(d) {
  return h(
    "tr",
    { "data-slug": d.slug },
    h(
      "td",
      {},
      h("a", { class: "primary-text", href: deploymentHash(d.slug) }, d.slug),
      d.repoUrl
        ? h("span", { class: "secondary", title: d.repoUrl }, d.repoUrl, d.branch ? ` · ${d.branch}` : "")
        : h("span", { class: "secondary" }, "uploaded folders"),
    ),
    h("td", {}, badge(d.status)),
    h("td", {}, d.activeBuildId ? externalLink(d.url, hostOf(d.url), "site-link") : h("span", { class: "muted" }, "Not live yet")),
    h("td", {}, timeAgo(d.updatedAt)),
  );
}
