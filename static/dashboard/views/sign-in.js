// The sign-in view: the admin token is tried against the API, kept for this
// tab once accepted, and the user goes back to the page they were on.
import { api, forgetToken, storeToken } from "/dashboard/api.js";
import { template } from "/dashboard/dom.js";
import { go, rememberLocation, setView, takeRememberedLocation } from "/dashboard/router.js";

/** Forgets the token and asks for one again, remembering the page to come back to. */
export function signOut(message) {
  forgetToken();
  rememberLocation();
  renderSignIn(message);
}

export function renderSignIn(message) {
  setView("Sign in", null, template("tpl-sign-in"));
  const form = document.getElementById("sign-in-form");
  const input = document.getElementById("token");
  const error = document.getElementById("token-error");
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
  };
  showError(message || "");
  input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      showError("Enter a token.");
      input.focus();
      return;
    }
    const button = document.getElementById("sign-in-submit");
    button.disabled = true;
    try {
      await api("GET", "/api/deployments", undefined, { tokenValue: value });
      storeToken(value);
      go(takeRememberedLocation());
    } catch (failure) {
      showError(failure.status === 401 ? "That token was refused. Check it and try again." : failure.message);
      input.select();
    } finally {
      button.disabled = false;
    }
  });
}
