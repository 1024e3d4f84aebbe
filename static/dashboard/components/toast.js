// Toasts: short messages in the page's #toasts live region that go away by
// themselves (errors stay longer).
import { h } from "/dashboard/dom.js";

export function toast(message, kind = "info") {
  const element = h("div", { class: `toast ${kind}` }, message);
  document.getElementById("toasts").append(element);
  setTimeout(() => element.remove(), kind === "error" ? 8000 : 4000);
}
