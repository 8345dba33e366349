// The session and the admin API. The access token, and the admin client's id and secret that
// renew it, live in this module's variables only: never in localStorage, sessionStorage or a
// cookie. Reloading the page or signing out forgets them.

const TOKEN_URL = "../realms/master/protocol/openid-connect/token";
const ADMIN = "../admin/realms";
const RENEW_BEFORE = 30; // seconds before expiry; or at three quarters of a short lifetime

let credentials = null; // {clientId, secret}
let token = null; // {value, renewAt, scope}
let renewTimer = null;
let renewing = null;
let onEnded = () => {};

/** An answer of the API other than success, with its message for a person. */
export class ApiError extends Error {
  constructor(status, error, message) {
    super(message);
    this.status = status;
    this.error = error;
  }
}

/** Called with an ApiError when the session ends on its own (the admin client lost access). */
export function whenSessionEnds(callback) {
  onEnded = callback;
}

/** Who is signed in: {clientId, scope, readOnly}, or null. */
export function session() {
  if (!credentials || !token) return null;
  const scopes = token.scope.split(" ");
  return { clientId: credentials.clientId, scope: token.scope, readOnly: !scopes.includes("admin") };
}

function formEncode(text) {
  return encodeURIComponent(text).replace(/%20/g, "+");
}

async function fetchToken(creds) {
  let response;
  try {
    response = await fetch(TOKEN_URL, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
        Authorization: "Basic " + btoa(formEncode(creds.clientId) + ":" + formEncode(creds.secret)),
      },
      body: "grant_type=client_credentials",
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "The service did not answer. Is it running?");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (body.error === "invalid_client") {
      throw new ApiError(response.status, body.error,
        "The client ID or secret is wrong, or the client is disabled.");
    }
    throw new ApiError(response.status, body.error || "error",
      body.error_description || body.errorMessage || `The token request failed (${response.status}).`);
  }
  const scopes = String(body.scope || "").split(" ");
  if (!scopes.includes("admin") && !scopes.includes("admin.read")) {
    throw new ApiError(403, "insufficient_scope",
      "This client is not an admin client: its tokens carry neither the admin nor the admin.read scope.");
  }
  const lifetime = Number(body.expires_in) || 60;
  const wait = Math.max(5, Math.min(lifetime - RENEW_BEFORE, lifetime * 0.75));
  return { value: body.access_token, renewAt: Date.now() + wait * 1000, scope: body.scope };
}

function scheduleRenewal() {
  clearTimeout(renewTimer);
  // A background tab's timers may run late: call() also renews a token past its renewAt.
  renewTimer = setTimeout(() => {
    renew().catch((err) => endSession(err));
  }, Math.max(0, token.renewAt - Date.now()));
}

async function renew() {
  if (!credentials) throw new ApiError(401, "signed_out", "Signed out.");
  if (!renewing) {
    const creds = credentials;
    renewing = fetchToken(creds)
      .then((fresh) => {
        if (credentials === creds) {
          token = fresh;
          scheduleRenewal();
        }
      })
      .finally(() => {
        renewing = null;
      });
  }
  return renewing;
}

function endSession(err) {
  if (!credentials) return;
  signOut();
  onEnded(new ApiError(err.status || 401, err.error || "ended",
    `Your session ended: ${err.message}`));
}

/** Sign in with an admin client's id and secret. Raises ApiError. */
export async function signIn(clientId, secret) {
  const creds = { clientId, secret };
  const fresh = await fetchToken(creds);
  credentials = creds;
  token = fresh;
  scheduleRenewal();
}

/** Forget the token and the credentials. */
export function signOut() {
  clearTimeout(renewTimer);
  renewTimer = null;
  credentials = null;
  token = null;
}

/** Call the admin API: `path` under /admin/realms; the answer's JSON (null when empty). Raises ApiError. */
export async function call(method, path, body) {
  if (!credentials) throw new ApiError(401, "signed_out", "You are signed out.");
  if (Date.now() >= token.renewAt) await renew().catch(endAndThrow);
  let response = await send(method, path, body);
  if (response.status === 401 && credentials) {
    // The token may have been refused for a reason a new one mends (a restart with a new key).
    await renew().catch(endAndThrow);
    response = await send(method, path, body);
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const error = (answer && answer.error) || "error";
    let message = (answer && (answer.errorMessage || answer.error_description)) || `HTTP ${response.status}`;
    if (response.status === 403 && error === "insufficient_scope") {
      message = "Your admin client may only read (scope admin.read): this change needs the admin scope.";
    } else if (response.status === 401) {
      endSession(new ApiError(401, error, message));
    }
    throw new ApiError(response.status, error, message);
  }
  return answer;
}

function endAndThrow(err) {
  endSession(err);
  throw err;
}

async function send(method, path, body) {
  const headers = { Authorization: `Bearer ${token.value}`, Accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(ADMIN + path, init);
  } catch {
    throw new ApiError(0, "network", "The service did not answer. Is it running?");
  }
}

/** A realm name or id as one path segment. */
export function seg(text) {
  return encodeURIComponent(text);
}
