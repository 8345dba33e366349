// jose checks what tokensmith made: a DPoP-bound access token against the realm's JWKS
// (createRemoteJWKSet + jwtVerify, issuer, audience and typ at+jwt checked), the thumbprint of
// the client's public key (calculateJwkThumbprint), and a DPoP proof verified with the key it
// embeds (jwtVerify with EmbeddedJWK, typ dpop+jwt).
// Reads {jwks_uri, issuer, audience, access_token, jwk, proof} on stdin; prints
// {token_header, cnf, jkt, proof_header, proof_claims, proof_key_jkt}, or {error, code}.
// Usage: node dpop_jose_verify.mjs < input.json
import { readFileSync } from "node:fs";
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, jwtVerify } from "jose";

const input = JSON.parse(readFileSync(0, "utf8"));
try {
  const jwks = createRemoteJWKSet(new URL(input.jwks_uri));
  const token = await jwtVerify(input.access_token, jwks, {
    issuer: input.issuer,
    audience: input.audience,
    typ: "at+jwt", // RFC 9068 §2.1
  });
  const proof = await jwtVerify(input.proof, EmbeddedJWK, { typ: "dpop+jwt" });
  process.stdout.write(
    JSON.stringify({
      token_header: token.protectedHeader,
      cnf: token.payload.cnf,
      jkt: await calculateJwkThumbprint(input.jwk),
      proof_header: proof.protectedHeader,
      proof_claims: proof.payload,
      proof_key_jkt: await calculateJwkThumbprint(proof.protectedHeader.jwk),
    }),
  );
} catch (err) {
  process.stdout.write(JSON.stringify({ error: err.name, code: err.code }));
}
