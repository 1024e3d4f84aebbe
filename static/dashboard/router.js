// Hash routing and the view lifecycle: the route handler runs on every hash
// change; setView swaps the page's content and opens a new "view scope", an
// AbortController whose signal closes the previous view's timers, streams
// and listeners.

const RETURN_KEY = "slipway.return";

const main = document.getElementById("main");
const topnav = document.getElementById("topnav");

/** What the current view holds open: timers, streams; closed on navigation. */
let viewScope = new AbortController();
let handler = () => {};

/** Calls `routeHandler` with the decoded parts of the hash path now and on every hash change. */
export function startRouter(routeHandler) {
  handler = routeHandler;
  window.addEventListener("hashchange", route);
  route();
}

/** Shows the page the hash names, again if it is already shown. */
function route() {
  handler(hashParts());
}

/** `#/d/slug` → ["d", "slug"]; a part that is not valid percent-encoding is kept as it is. */
function hashParts() {
  const path = location.hash.replace(/^#/, "") || "/";
  return path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
}

/** Goes to `hash`, showing its page again when it is the current one. */
export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** The hash of a deployment's page, with one of its builds selected when `buildId` is given. */
export function deploymentHash(slug, buildId) {
  const page = `#/d/${encodeURIComponent(slug)}`;
  return buildId === undefined ? page : `${page}/b/${encodeURIComponent(buildId)}`;
}

/** Names the build selected on a deployment's page in the address bar, without a history entry or a hash change. */
export function showBuildInURL(slug, buildId) {
  history.replaceState(null, "", deploymentHash(slug, buildId));
}

/**
 * Closes the current view and shows `nodes` instead, titled `title`. `nav`
 * is the main navigation's entry to mark current, or null to hide the
 * navigation (signed out). Returns the new view's signal.
 */
export function setView(title, nav, ...nodes) {
  viewScope.abort();
  viewScope = new AbortController();
  document.title = title ? `${title} · Slipway` : "Slipway";
  topnav.hidden = nav === null;
  for (const link of topnav.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(...nodes);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  return viewScope.signal;
}

/** Remembers the current page, to come back to after signing in again. */
export function rememberLocation() {
  if (location.hash && location.hash !== "#/") sessionStorage.setItem(RETURN_KEY, location.hash);
}

export function forgetLocation() {
  sessionStorage.removeItem(RETURN_KEY);
}

/** The remembered page (forgetting it), or the deployments list. */
export function takeRememberedLocation() {
  const target = sessionStorage.getItem(RETURN_KEY) || "#/";
  forgetLocation();
  return target;
}
