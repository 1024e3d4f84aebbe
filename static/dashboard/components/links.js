// Links to addresses the server sends: only http(s) URLs become links, and
// they open in a new tab without a referrer or an opener.
import { h } from "/dashboard/dom.js";

/** The URL when it is http(s), else null. */
export function safeURL(value) {
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A link to `url` marked as leaving the dashboard (↗); muted text when the URL is not http(s). */
export function externalLink(url, text, className) {
  const href = safeURL(url);
  if (!href) return h("span", { class: "muted" }, text);
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: className }, text, h("span", { "aria-hidden": "true" }, " ↗"));
}

/** The host (and port) of a URL, or the text as it is when it is not one. */
export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
