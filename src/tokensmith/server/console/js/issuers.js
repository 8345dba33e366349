// A realm's trusted issuers: list, add, delete.

import { call, seg } from "./api.js";
import { field, h, replace, table, when, words } from "./dom.js";
import { button, form, heading, tags, unavailable } from "./widgets.js";

export async function issuersPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Trusted issuers"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  let issuers;
  try {
    issuers = await call("GET", `/${seg(realm)}/trusted-issuers`);
  } catch (err) {
    return replace(root, heading(`Trusted issuers of ${realm}`), h("p", { class: "error", role: "alert" }, unavailable(err, "trusted issuers")));
  }
  const rows = issuers.map((t) => [
    h("span", { class: "mono" }, t.issuer),
    t.jwksUrl ? h("span", { class: "mono small" }, t.jwksUrl) : t.jwks ? "inline JWKS" : "OpenID discovery",
    tags(t.audiences || []),
    tags(t.algorithms || []),
    t.maxAge ? `${t.maxAge} s` : "—",
    tags(t.claims || []),
    when(t.createdAt),
    button("Delete", async () => {
      if (!window.confirm(`Stop trusting ${t.issuer}?`)) return;
      await call("DELETE", `/${seg(realm)}/trusted-issuers/${seg(t.id)}`);
      ctx.notify(`${t.issuer} is no longer trusted.`, "ok");
      ctx.rerender();
    }, ctx, { class: "danger", "aria-label": `Delete trusted issuer ${t.issuer}` }),
  ]);
  const add = form(
    { class: "panel", "aria-labelledby": "new-issuer" },
    [
      h("h2", { id: "new-issuer" }, "Trust an issuer"),
      h("p", { class: "muted" }, "Tokens of a trusted issuer can be exchanged for this realm's tokens (RFC 8693, RFC 7523)."),
      h(
        "div",
        { class: "row" },
        field("issuer-url", "Issuer", h("input", { required: true, spellcheck: "false", placeholder: "https://login.example.com" })),
        field("issuer-jwks", "JWKS URL", h("input", { spellcheck: "false", placeholder: "https://login.example.com/jwks" })),
        field("issuer-aud", "Audiences (spaces between)", h("input", { spellcheck: "false" })),
        field("issuer-algs", "Algorithms", h("input", { spellcheck: "false", value: "RS256 ES256" })),
        field("issuer-age", "Max age (s, optional)", h("input", { type: "number", min: "1" })),
        h("div", {}, h("button", { type: "submit", class: "primary" }, "Add issuer")),
      ),
    ],
    async (node) => {
      const body = {
        issuer: node.querySelector("#issuer-url").value.trim(),
        jwksUrl: node.querySelector("#issuer-jwks").value.trim() || undefined,
        audiences: words(node.querySelector("#issuer-aud").value),
        algorithms: words(node.querySelector("#issuer-algs").value),
      };
      const age = node.querySelector("#issuer-age").value;
      if (age) body.maxAge = Number(age);
      if (!body.issuer) throw new Error("Name the issuer.");
      await call("POST", `/${seg(realm)}/trusted-issuers`, body);
      ctx.notify(`${body.issuer} is trusted now.`, "ok");
      ctx.rerender();
    },
    ctx,
  );
  replace(
    root,
    heading(`Trusted issuers of ${realm}`),
    table(`Trusted issuers of ${realm}`, ["Issuer", "Keys", "Audiences", "Algorithms", "Max age", "Claims", "Added", "Actions"], rows, "No trusted issuers."),
    add,
  );
}
