// The settings fields the create and the settings forms share: the page's
// `tpl-deployment-fields`, given each form's id prefix, and what both forms
// check and send the same way.
import { template } from "/dashboard/dom.js";

const FIELD_NAMES = ["repoUrl", "slug", "branch", "rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl", "spa", "env"];

/** The text fields left empty to unset them: the build detects the value, or there is none. */
export const CLEARABLE_FIELDS = ["rootDir", "installCommand", "buildCommand", "outputDir", "notifyUrl"];

/**
 * Puts the fields in place of the container's `[data-deployment-fields]`,
 * their ids prefixed with `prefix`; without the slug field when `slug` is
 * false. Returns the names of the fields, as formFeedback takes them.
 */
export function insertDeploymentFields(container, prefix, { slug = true } = {}) {
  const fragment = template("tpl-deployment-fields");
  for (const element of fragment.querySelectorAll("[id], [for], [aria-describedby]")) {
    for (const name of ["id", "for", "aria-describedby"]) {
      const value = element.getAttribute(name);
      if (value) element.setAttribute(name, value.replaceAll("{p}", prefix));
    }
  }
  if (!slug) fragment.querySelector(".slug-field").remove();
  container.querySelector("[data-deployment-fields]").replaceWith(fragment);
  return slug ? FIELD_NAMES : FIELD_NAMES.filter((name) => name !== "slug");
}

/** Adds a problem to `problems` when the repository URL is empty. */
export function requireRepoUrl(repoUrl, problems) {
  if (!repoUrl) problems.push(["repoUrl", "Enter the Git repository to build, such as https://github.com/acme/site.git."]);
}
