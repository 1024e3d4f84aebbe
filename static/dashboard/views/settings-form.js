// The settings form of a deployment's page: the deployment's settings,
// PATCHed on "Save" (and built at once on "Save and rebuild"). It is filled
// from the deployment and refilled when the deployment changes, unless the
// user has started editing. Secret values are never shown or sent back: a
// stored secret goes out without its value (which keeps it) unless replaced.
import { api, slugPath } from "/dashboard/api.js";
import { CLEARABLE_FIELDS, insertDeploymentFields, requireRepoUrl } from "/dashboard/components/deployment-fields.js";
import { envEditor } from "/dashboard/components/env-editor.js";
import { formFeedback } from "/dashboard/components/form-feedback.js";
import { template } from "/dashboard/dom.js";

const TEXT_FIELDS = ["repoUrl", "branch", ...CLEARABLE_FIELDS];

/**
 * The form for `deployment`, whose listeners live until `signal` aborts.
 * `newestBuildId()` names the newest build before saving; `afterSave(rebuild,
 * newestBefore)` refreshes the page and resolves to the build the save
 * queued, if any. Returns the form's element and `update(deployment)`.
 */
export function settingsForm(slug, deployment, signal, { newestBuildId, afterSave }) {
  const section = template("tpl-settings").firstElementChild;
  // The slug names the deployment's address and stays.
  const fields = insertDeploymentFields(section, "s-", { slug: false });
  const form = section.querySelector("#settings-form");
  const notice = section.querySelector("#settings-notice");
  const buttons = [...section.querySelectorAll("#settings-save, #settings-save-rebuild, #settings-discard")];
  const env = envEditor(form, signal);
  const feedback = formFeedback("s-", fields, section.querySelector("#settings-error"), env.rows);
  const input = (name) => section.querySelector(`#s-${name}`);
  let latest = deployment;
  let shown = null; // the updatedAt of what the form holds
  let dirty = false;

  const fill = (d) => {
    for (const name of TEXT_FIELDS) input(name).value = d[name] || "";
    input("spa").value = d.spa || "auto";
    env.fill(d.env || []);
    shown = d.updatedAt;
    dirty = false;
  };
  fill(deployment);

  form.addEventListener("input", () => (dirty = true), { signal });
  form.addEventListener("click", (event) => {
    if (event.target.closest(".add-env, .env-remove, .env-replace, .env-keep")) dirty = true;
  }, { signal });
  section.querySelector("#settings-discard").addEventListener(
    "click",
    () => {
      feedback.clear();
      fill(latest);
      notice.textContent = "Changes discarded.";
    },
    { signal },
  );

  const save = async (body, rebuild, submitter) => {
    const done = markSaving(buttons, submitter);
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
      notice.textContent = savedNotice(rebuild, build);
    } catch (error) {
      if (error.name === "AbortError" || error.status === 401) return;
      feedback.showApiError("The settings were not saved", error);
    } finally {
      done();
    }
  };

  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      const rebuild = event.submitter?.id === "settings-save-rebuild";
      feedback.clear();
      notice.textContent = "";
      const problems = [];
      const body = readForm(input, env, problems);
      if (feedback.showProblems(problems)) return;
      if (rebuild) body.rebuild = true;
      await save(body, rebuild, event.submitter || buttons[0]);
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

/** The settings as the API takes them: an empty optional field is sent as null, which clears it (back to detection). */
function readForm(input, env, problems) {
  const value = (name) => input(name).value.trim();
  const body = { repoUrl: value("repoUrl"), branch: value("branch") || "main", spa: value("spa") };
  for (const name of CLEARABLE_FIELDS) body[name] = value(name) || null;
  // Left empty: the repository stays as it is (a deployment of uploaded folders keeps none).
  if (body.repoUrl === "") delete body.repoUrl;
  else requireRepoUrl(body.repoUrl, problems);
  body.env = env.collect(problems);
  return body;
}

/** Disables the form's buttons and shows "Saving…" on the one used; returns what undoes it. */
function markSaving(buttons, submitter) {
  const label = submitter.textContent;
  for (const button of buttons) button.disabled = true;
  submitter.setAttribute("aria-busy", "true");
  submitter.textContent = "Saving…";
  return () => {
    for (const button of buttons) button.disabled = false;
    submitter.removeAttribute("aria-busy");
    submitter.textContent = label;
  };
}

function savedNotice(rebuild, build) {
  if (build) return `Settings saved. Build #${build.number} is queued with them.`;
  return rebuild ? "Settings saved. A build is queued with them." : "Settings saved. The next build uses them.";
}
