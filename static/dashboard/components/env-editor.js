// The build-variables editor of the deployment forms: one row per variable
// (name, value, secret), an "Add variable" button, and the variables read
// back as the API takes them. A stored secret's value is never shown.
import { template } from "/dashboard/dom.js";

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

let envRowCounter = 0;

/**
 * The editor in `container` (its `.env-rows` and `.add-env`); the button's
 * listener lives until `signal` aborts.
 */
export function envEditor(container, signal) {
  const rows = container.querySelector(".env-rows");
  const addEnv = container.querySelector(".add-env");
  const focusAdd = () => addEnv.focus();
  addEnv.addEventListener(
    "click",
    () => {
      const row = envRow({}, focusAdd);
      rows.append(row);
      row.querySelector(".env-name").focus();
    },
    { signal },
  );
  return {
    rows,
    /** Shows the variables as the API lists them: secrets as stored values. */
    fill(env) {
      rows.replaceChildren(
        ...env.map((v) => envRow(v.secret ? { name: v.name, secret: true, stored: true } : { name: v.name, value: v.value ?? "" }, focusAdd)),
      );
    },
    /** The variables as the API takes them; problems go to `problems` as [field, message]. */
    collect: (problems) => collectEnv(rows, problems),
  };
}

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
