// The create form: a new deployment's settings, checked here first, then
// sent; its first build is queued and its page opens on that build.
import { api } from "/dashboard/api.js";
import { CLEARABLE_FIELDS, insertDeploymentFields, requireRepoUrl } from "/dashboard/components/deployment-fields.js";
import { envEditor } from "/dashboard/components/env-editor.js";
import { formFeedback } from "/dashboard/components/form-feedback.js";
import { toast } from "/dashboard/components/toast.js";
import { template } from "/dashboard/dom.js";
import { deploymentHash, setView } from "/dashboard/router.js";

const SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export function renderNew() {
  const view = template("tpl-new");
  const fields = insertDeploymentFields(view, "f-");
  const signal = setView("New deployment", "new", view);
  const form = document.getElementById("create-form");
  const env = envEditor(form, signal);
  const feedback = formFeedback("f-", fields, document.getElementById("form-error"), env.rows);

  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      feedback.clear();
      const problems = [];
      const body = readForm(env, problems);
      if (feedback.showProblems(problems)) return;
      await create(body, feedback);
    },
    { signal },
  );
}

/** The new deployment as the API takes it: empty fields are left out. */
function readForm(env, problems) {
  const value = (name) => document.getElementById(`f-${name}`).value.trim();
  const body = { repoUrl: value("repoUrl") };
  for (const name of ["slug", "branch", ...CLEARABLE_FIELDS]) {
    if (value(name)) body[name] = value(name);
  }
  body.spa = value("spa");
  requireRepoUrl(body.repoUrl, problems);
  if (body.slug && (!SLUG_PATTERN.test(body.slug) || body.slug.length > 63)) {
    problems.push(["slug", "Use 1 to 63 characters: lower-case letters, digits and single hyphens, not at either end."]);
  }
  const variables = env.collect(problems);
  if (variables.length > 0) body.env = variables;
  return body;
}

async function create(body, feedback) {
  const button = document.getElementById("create-submit");
  button.disabled = true;
  button.textContent = "Creating…";
  try {
    const result = await api("POST", "/api/deployments", body);
    toast(`Created ${result.deployment.slug}; build #${result.build.number} is queued.`);
    location.hash = deploymentHash(result.deployment.slug, result.build.id);
  } catch (error) {
    if (error.status === 401) return;
    feedback.showApiError("The deployment was not created", error);
  } finally {
    button.disabled = false;
    button.textContent = "Create and deploy";
  }
}
