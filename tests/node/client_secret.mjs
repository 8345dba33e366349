// openid-client (v6, with its defaults) discovers a tokensmith realm and asks for a token with
// client_credentials, authenticating with a client secret sent in the body (post) or with HTTP
// Basic (basic). Prints the answer, or how openid-client reported the failure.
// Usage: node client_secret.mjs ISSUER CLIENT_ID CLIENT_SECRET post|basic
import * as client from "openid-client";

const [issuer, clientId, secret, method] = process.argv.slice(2);
const auth = method === "basic" ? client.ClientSecretBasic(secret) : client.ClientSecretPost(secret);
const config = await client.discovery(new URL(issuer), clientId, {}, auth, {
  execute: [client.allowInsecureRequests],
});
try {
  const tokens = await client.clientCredentialsGrant(config, { scope: "read" });
  process.stdout.write(JSON.stringify({ access_token: tokens.access_token, scope: tokens.scope }));
} catch (err) {
  // What an application sees: the error class, its code, and the OAuth error when it has one.
  process.stdout.write(
    JSON.stringify({ name: err.name, code: err.code, status: err.status, error: err.error }),
  );
}
