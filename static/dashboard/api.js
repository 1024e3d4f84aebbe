// The API client: the admin token (sessionStorage, this tab only, never in a
// URL), the Authorization header, ApiError and the fetch wrappers. A 401 on
// the stored token is reported to the handler set with onUnauthorized.
import { readEventStream } from "/dashboard/sse.js";

const TOKEN_KEY = "slipway.token";

let unauthorized = () => {};

/** Sets what happens when the server refuses the stored token. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function storeToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function authHeaders(value = token()) {
  return { Authorization: `Bearer ${value}` };
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The ApiError a refused response stands for, from its JSON error body when it has one. */
async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: fall back to the status line.
  }
  const detail = body && body.error;
  return new ApiError(
    response.status,
    (detail && detail.code) || `http_${response.status}`,
    (detail && detail.message) || `The server answered ${response.status} ${response.statusText}.`,
  );
}

/**
 * Sends a JSON request and returns the JSON answer (null for 204). Failures
 * reject with an ApiError (status 0 when the server did not answer); an
 * abort rejects with the AbortError. `tokenValue` tries a token that is not
 * stored yet: its 401 is left to the caller.
 */
export async function api(method, path, body, { tokenValue, signal } = {}) {
  const headers = { ...authHeaders(tokenValue), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Slipway did not answer. Check that the server is running, then try again.");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && tokenValue === undefined) unauthorized();
    throw error;
  }
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Reads the server-sent events at `path` with the stored token, calling
 * onEvent({event, data}) until the stream ends or `signal` aborts. A refusal
 * rejects with an ApiError; anything else (a dropped connection, an abort)
 * rejects as it came.
 */
export async function streamEvents(path, { signal, onEvent }) {
  try {
    await readEventStream(path, { headers: authHeaders(), signal, onEvent });
  } catch (error) {
    if (!(error instanceof Response) || signal.aborted) throw error;
    const failure = await errorFrom(error);
    if (failure.status === 401) unauthorized();
    throw failure;
  }
}

export const slugPath = (slug) => `/api/deployments/${encodeURIComponent(slug)}`;
export const buildPath = (id) => `/api/builds/${encodeURIComponent(id)}`;
