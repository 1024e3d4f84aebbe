// The deployment page: summary, builds, the selected build's live log, the
// custom domains, the settings form and the danger zone. It polls the deployment and its builds
// (faster while a build runs) and redraws from them.
import { api, buildPath, slugPath } from "/dashboard/api.js";
import { withBusy } from "/dashboard/components/busy-button.js";
import { confirmDialog } from "/dashboard/components/confirm-dialog.js";
import { logViewer } from "/dashboard/components/log-view.js";
import { badge, isRunning } from "/dashboard/components/status.js";
import { toast } from "/dashboard/components/toast.js";
import { h } from "/dashboard/dom.js";
import { poll } from "/dashboard/poll.js";
import { setView, showBuildInURL } from "/dashboard/router.js";
import { buildsList } from "/dashboard/views/builds-table.js";
import { deploymentHead, factsCard } from "/dashboard/views/deployment-summary.js";
import { domainsSection } from "/dashboard/views/domains.js";
import { protectionForm } from "/dashboard/views/protection-form.js";
import { settingsForm } from "/dashboard/views/settings-form.js";

/** Shows the deployment `slug`, with the log of build `selectedId` (else the newest build). */
export function renderDeployment(slug, selectedId) {
  const parts = layout(slug);
  const page = {
    slug,
    ...parts,
    signal: setView(slug, "list", ...parts.nodes),
    deployment: null,
    builds: [],
    selectedId,
    stream: null, // the log viewer
    settings: null, // the settings form, once there is a deployment to fill it
    protection: null, // the protection form, likewise
    poller: null,
  };
  page.poller = poll(() => refreshOrLeave(page), () => page.builds.some(isRunning), page.signal);
  page.redeploy.addEventListener("click", () => withBusy(page.redeploy, () => redeploy(page)), { signal: page.signal });
  page.remove.addEventListener("click", () => remove(page), { signal: page.signal });
  page.domainsArea.replaceChildren(domainsSection(slug, page.signal).element);
  page.poller.start();
}

/** The page's sections, empty until the first refresh, and the elements it redraws. */
function layout(slug) {
  const parts = {
    head: h("div", { class: "page-head" }, h("div", {}, h("h1", {}, slug))),
    facts: h("div"),
    buildsBody: h("div", { class: "loading" }, "Loading builds…"),
    logArea: h("div"),
    domainsArea: h("div"),
    settingsArea: h("div"),
    protectionArea: h("div"),
    redeploy: h("button", { type: "button", class: "button primary", id: "redeploy" }, "Redeploy"),
    remove: h("button", { type: "button", class: "button danger", id: "delete-deployment" }, "Delete deployment"),
  };
  parts.nodes = [
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Deployments"), h("span", { "aria-hidden": "true" }, " / "), slug),
    parts.head,
    parts.facts,
    h("div", { class: "section-head" }, h("h2", {}, "Builds"), h("div", { class: "actions" }, parts.redeploy)),
    parts.buildsBody,
    parts.logArea,
    parts.domainsArea,
    parts.settingsArea,
    parts.protectionArea,
    h(
      "section",
      { class: "card danger-zone", "aria-labelledby": "delete-title" },
      h("div", {}, h("h2", { id: "delete-title" }, "Delete this deployment"), h("p", { class: "muted" }, "The site stops answering and every build and file is removed.")),
      parts.remove,
    ),
  ];
  return parts;
}

/** Loads the deployment and its builds, then redraws. */
async function refresh(page) {
  const [deployment, list] = await Promise.all([
    api("GET", slugPath(page.slug), undefined, { signal: page.signal }),
    api("GET", `${slugPath(page.slug)}/builds`, undefined, { signal: page.signal }),
  ]);
  if (page.signal.aborted) return;
  page.deployment = deployment;
  page.builds = list.builds || [];
  if (!page.selectedId && page.builds.length > 0) page.selectedId = page.builds[0].id;
  draw(page);
}

/** Refreshes, or goes back to the list when the deployment is gone. */
async function refreshOrLeave(page) {
  try {
    await refresh(page);
  } catch (error) {
    if (error.status === 404) {
      toast(`The deployment ${page.slug} no longer exists.`, "error");
      location.hash = "#/";
      return;
    }
    throw error;
  }
}

function draw(page) {
  const d = page.deployment;
  page.head.replaceChildren(...deploymentHead(d));
  // Keep focus on the heading the first time only.
  page.facts.replaceChildren(factsCard(d));
  page.buildsBody.className = "";
  page.buildsBody.replaceChildren(
    buildsList(page.builds, {
      activeId: d.activeBuildId,
      selectedId: page.selectedId,
      showLog: (build) => showLog(page, build),
      rollback: (build) => rollback(page, build),
      cancel: (build) => cancel(page, build),
    }),
  );
  const selected = page.builds.find((b) => b.id === page.selectedId);
  if (selected && (!page.stream || page.stream.buildId !== selected.id)) openLog(page, selected);
  if (page.stream) page.stream.update(selected);
  if (page.settings) page.settings.update(d);
  else {
    page.settings = settingsForm(page.slug, d, page.signal, {
      newestBuildId: () => page.builds[0]?.id,
      afterSave: (rebuild, newestBefore) => afterSave(page, rebuild, newestBefore),
    });
    page.settingsArea.replaceChildren(page.settings.element);
  }
  if (page.protection) page.protection.update(d);
  else {
    page.protection = protectionForm(page.slug, d, page.signal, (updated) => {
      page.deployment = updated;
      page.facts.replaceChildren(factsCard(updated));
    });
    page.protectionArea.replaceChildren(page.protection.element);
  }
}

/** Makes `buildId` the selected build, in the page state and the address bar. */
function select(page, buildId) {
  page.selectedId = buildId;
  showBuildInURL(page.slug, buildId);
}

function showLog(page, build) {
  select(page, build.id);
  draw(page);
  page.logArea.scrollIntoView({ behavior: "smooth", block: "start" });
}

function openLog(page, build) {
  if (page.stream) page.stream.close();
  page.stream = logViewer(build, page.logArea, page.signal, (status) => {
    const row = page.buildsBody.querySelector(`tr[data-build="${CSS.escape(build.id)}"] .badge`);
    if (row) row.replaceWith(badge(status));
    page.poller.now();
  });
}

/** After the settings were saved: the build queued since `newestBefore`, if any, is shown and returned. */
async function afterSave(page, rebuild, newestBefore) {
  await refresh(page);
  const queued = page.builds[0];
  if (!rebuild || !queued || queued.id === newestBefore) return null;
  select(page, queued.id);
  draw(page);
  return queued;
}

async function redeploy(page) {
  const result = await api("POST", `${slugPath(page.slug)}/builds`, {});
  toast(`Build #${result.build.number} is queued.`);
  select(page, result.build.id);
  page.poller.now();
}

async function rollback(page, build) {
  await api("POST", `${slugPath(page.slug)}/rollback`, { buildId: build.id });
  toast(`Build #${build.number} is live again.`);
  page.poller.now();
}

async function cancel(page, build) {
  await api("POST", `${buildPath(build.id)}/cancel`);
  toast(`Build #${build.number} was canceled.`);
  page.poller.now();
}

async function remove(page) {
  const confirmed = await confirmDialog({
    title: `Delete ${page.slug}?`,
    text: "Its site stops answering and every build and file is removed. This cannot be undone.",
    confirmLabel: "Delete deployment",
  });
  if (!confirmed) return;
  await withBusy(page.remove, async () => {
    await api("DELETE", slugPath(page.slug));
    toast(`Deleted ${page.slug}.`);
    location.hash = "#/";
  });
}
