// openid-client (v6) with its DPoP option: discovers a tokensmith realm, gets a DPoP-bound token
// with client_credentials (client_secret_basic), then a second one, and calls a protected API with
// fetchProtectedResource and the same DPoP handle. openid-client answers use_dpop_nonce itself,
// once per request; every HTTP exchange after discovery is recorded to show it, with the alg its
// proof names. openid-client lowercases token_type (RFC 6749 §7.1: it is case-insensitive), so
// the token endpoint's own is recorded too.
// Prints {token_type, sent_token_type, access_token, jwk, jkt, api, exchanges: [[path, status]],
// proof_algs}, api being {status, body} or, when the API refused,
// {status, challenge: [scheme, error]} as openid-client read its WWW-Authenticate.
// Usage: node dpop_openid_client.mjs ISSUER CLIENT_ID CLIENT_SECRET API_URL [ALG]
// ALG is the proof key's algorithm (ES256 by default; openid-client signs with Ed25519 keys as
// "Ed25519", RFC 9864's fully-specified name).
import { calculateJwkThumbprint } from "jose";
import * as client from "openid-client";

const [issuer, clientId, secret, apiUrl, alg = "ES256"] = process.argv.slice(2);
const exchanges = [];
let sentTokenType;
const proofAlgs = new Set();
const config = await client.discovery(
  new URL(issuer),
  clientId,
  {},
  client.ClientSecretBasic(secret),
  { execute: [client.allowInsecureRequests] },
);
config[client.customFetch] = async (url, options) => {
  const response = await fetch(url, options);
  exchanges.push([new URL(url).pathname, response.status]);
  const proof = new Headers(options.headers).get("dpop");
  if (proof) proofAlgs.add(JSON.parse(Buffer.from(proof.split(".")[0], "base64url")).alg);
  if (url.toString() === config.serverMetadata().token_endpoint && response.ok) {
    sentTokenType = (await response.clone().json()).token_type;
  }
  return response;
};
const keyPair = await client.randomDPoPKeyPair(alg, { extractable: true });
const DPoP = client.getDPoPHandle(config, keyPair);
const tokens = await client.clientCredentialsGrant(config, {}, { DPoP });
// A second token with the same handle: it sends the nonce the last answer carried, if any.
await client.clientCredentialsGrant(config, {}, { DPoP });
let api;
try {
  const response = await client.fetchProtectedResource(
    config,
    tokens.access_token,
    new URL(apiUrl),
    "GET",
    undefined,
    undefined,
    { DPoP },
  );
  api = { status: response.status, body: await response.json() };
} catch (err) {
  // A WWWAuthenticateChallengeError: openid-client's reading of the API's challenge.
  const [challenge] = err.cause;
  api = { status: err.status, challenge: [challenge.scheme, challenge.parameters.error] };
}
const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
process.stdout.write(
  JSON.stringify({
    token_type: tokens.token_type,
    sent_token_type: sentTokenType,
    access_token: tokens.access_token,
    jwk,
    jkt: await calculateJwkThumbprint(jwk),
    api,
    exchanges,
    proof_algs: [...proofAlgs],
  }),
);
