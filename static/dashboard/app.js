// The Slipway dashboard's entry point: plain JavaScript modules, no build
// step. It maps the hash routes to their views and wires signing out. Every
// API call carries the token the user typed (kept in sessionStorage, this
// tab only); server data reaches the page through textContent and
// attributes only.
import { forgetToken, onUnauthorized, token } from "/dashboard/api.js";
import { forgetLocation, go, startRouter } from "/dashboard/router.js";
import { renderAudit } from "/dashboard/views/audit.js";
import { renderDeployment } from "/dashboard/views/deployment.js";
import { renderList } from "/dashboard/views/deployments-list.js";
import { renderNew } from "/dashboard/views/new-deployment.js";
import { renderSignIn, signOut } from "/dashboard/views/sign-in.js";
import { renderTokens } from "/dashboard/views/tokens.js";

/** Shows the view for the hash path `parts`; the sign-in form without a token. */
function show(parts) {
  if (!token()) renderSignIn();
  else if (parts.length === 0) renderList();
  else if (parts[0] === "new" && parts.length === 1) renderNew();
  else if (parts[0] === "tokens" && parts.length === 1) renderTokens();
  else if (parts[0] === "audit" && parts.length === 1) renderAudit();
  else if (parts[0] === "d" && (parts.length === 2 || (parts.length === 4 && parts[2] === "b"))) renderDeployment(parts[1], parts[3]);
  else location.hash = "#/";
}

onUnauthorized(() => signOut("Your token was refused. Sign in again."));

document.getElementById("sign-out").addEventListener("click", () => {
  forgetToken();
  forgetLocation();
  go("#/");
});

startRouter(show);
