// openid-client (v6, with its defaults) discovers a tokensmith realm and gets a token with
// client_credentials, authenticating with private_key_jwt: its assertions carry no kid.
// Usage: node client_credentials.mjs ISSUER CLIENT_ID PRIVATE_KEY_PKCS8_PEM_FILE
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import * as client from "openid-client";

const [issuer, clientId, keyFile] = process.argv.slice(2);
const pem = readFileSync(keyFile, "utf8");
const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const key = await webcrypto.subtle.importKey(
  "pkcs8",
  der,
  { name: "ECDSA", namedCurve: "P-256" },
  false,
  ["sign"],
);
const config = await client.discovery(
  new URL(issuer),
  clientId,
  {},
  client.PrivateKeyJwt(key),
  { execute: [client.allowInsecureRequests] },
);
const tokens = await client.clientCredentialsGrant(config, { scope: "read" });
process.stdout.write(JSON.stringify({ access_token: tokens.access_token, scope: tokens.scope }));
