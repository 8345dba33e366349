// node oidc-provider (v9) with its DPoP feature on, for the tokensmith client to get tokens from:
// client_credentials, JWT access tokens (through resource indicators, as in the benchmark peer
// ../shared/peers/oidc-provider/server.mjs), client "svc" (DPoP optional) and client "bound"
// (dpop_bound_access_tokens: it must send a proof), both registered with client_secret_basic
// (oidc-provider 9 takes the secret in the body too).
// With "nonce", every proof must carry a server nonce (features.dPoP.requireNonce).
// Prints one line "listening URL" once it accepts connections.
// Usage: node dpop_oidc_provider.mjs PORT SECRET [nonce]
import * as crypto from "node:crypto";
import Provider from "oidc-provider";

const [port, secret, mode] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = "https://api.example.com";
const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const client = (id, extra) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ["client_credentials"],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: "client_secret_basic",
  scope: "read",
  id_token_signed_response_alg: "ES256", // the only key is an EC one
  ...extra,
});

const provider = new Provider(issuer, {
  clients: [client("svc"), client("bound", { dpop_bound_access_tokens: true })],
  jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), use: "sig", kid: "es256-1", alg: "ES256" }] },
  scopes: ["read"],
  cookies: { keys: [crypto.randomBytes(32).toString("base64url")] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: {
      enabled: true,
      ...(mode === "nonce" ? { nonceSecret: crypto.randomBytes(32), requireNonce: () => true } : {}),
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "read",
        audience: RESOURCE,
        accessTokenTTL: 300,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "ES256" } },
      }),
    },
  },
});
provider.on("server_error", (ctx, err) => console.error("server_error", err));
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${issuer}`));
