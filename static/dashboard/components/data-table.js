// A table in a card, as the deployments and the builds lists show them.
import { h } from "/dashboard/dom.js";

/**
 * `columns` are the header cells (text or nodes); `caption`, when given, is
 * read by screen readers only.
 */
export function cardTable({ id, caption, columns }, rows) {
  return h(
    "div",
    { class: "card table-wrap" },
    h(
      "table",
      { id },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
      h("tbody", {}, rows),
    ),
  );
}
