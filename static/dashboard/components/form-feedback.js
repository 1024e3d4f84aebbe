// Error messages of a form: one summary above the fields and one message by
// each field concerned, for problems found before sending and for the API's
// refusals (matched to the field they name).

/**
 * Messages of a form whose inputs are `#<prefix><name>`, each with a
 * `#<prefix><name>-error` paragraph, plus one summary above the fields.
 * `rows` holds the build-variable rows, whose inputs are marked one by one.
 */
export function formFeedback(prefix, fields, summary, rows) {
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
