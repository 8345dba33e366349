// Realms: list, create, change token lifetimes, delete.

import { call, seg } from "./api.js";
import { field, h, replace, table } from "./dom.js";
import { button, form, heading } from "./widgets.js";

export async function realmsPage(ctx, root) {
  const realms = await call("GET", "");
  ctx.setRealms(realms.map((r) => r.realm));
  const rows = realms.map((r) => [
    h("a", { href: "#/clients", onclick: () => ctx.selectRealm(r.realm) }, r.realm),
    `${r.accessTokenLifespan} s`,
    `${r.ssoSessionIdleTimeout} s`,
    r.defaultSignatureAlgorithm,
    r.realm === "master"
      ? h("span", { class: "muted small" }, "admin clients")
      : button("Delete", async () => {
          if (!window.confirm(`Delete realm ${r.realm} with all its clients and keys?`)) return;
          await call("DELETE", `/${seg(r.realm)}`);
          ctx.notify(`Realm ${r.realm} deleted.`, "ok");
          if (ctx.realm === r.realm) ctx.selectRealm(null);
          ctx.rerender();
        }, ctx, { class: "danger", "aria-label": `Delete realm ${r.realm}` }),
  ]);
  const create = form(
    { class: "panel", "aria-labelledby": "new-realm" },
    [
      h("h2", { id: "new-realm" }, "Create a realm"),
      h(
        "div",
        { class: "row" },
        field("realm-name", "Name", h("input", { required: true, pattern: "[A-Za-z0-9._-]{1,64}", spellcheck: "false" })),
        field("realm-alg", "Signing algorithm", h("select", {}, h("option", { value: "ES256" }, "ES256"), h("option", { value: "RS256" }, "RS256"))),
        field("realm-access", "Access token lifetime (s)", h("input", { type: "number", min: "1", value: "300" })),
        h("div", {}, h("button", { type: "submit", class: "primary" }, "Create realm")),
      ),
    ],
    async (node) => {
      const name = node.querySelector("#realm-name").value.trim();
      if (!name) throw new Error("Give the realm a name.");
      await call("POST", "", {
        realm: name,
        defaultSignatureAlgorithm: node.querySelector("#realm-alg").value,
        accessTokenLifespan: Number(node.querySelector("#realm-access").value) || undefined,
      });
      ctx.notify(`Realm ${name} created.`, "ok");
      ctx.selectRealm(name);
      ctx.rerender();
    },
    ctx,
  );
  const current = realms.find((r) => r.realm === ctx.realm);
  const lifetimes = current
    ? form(
        { class: "panel", "aria-labelledby": "lifetimes" },
        [
          h("h2", { id: "lifetimes" }, `Token lifetimes of ${current.realm}`),
          h(
            "div",
            { class: "row" },
            field("life-access", "Access tokens (s)", h("input", { type: "number", min: "1", value: current.accessTokenLifespan })),
            field("life-refresh", "Refresh tokens (s)", h("input", { type: "number", min: "1", value: current.ssoSessionIdleTimeout })),
            h("div", {}, h("button", { type: "submit" }, "Save lifetimes")),
          ),
        ],
        async (node) => {
          try {
            await call("PUT", `/${seg(current.realm)}`, {
              accessTokenLifespan: Number(node.querySelector("#life-access").value),
              ssoSessionIdleTimeout: Number(node.querySelector("#life-refresh").value),
            });
          } catch (err) {
            if (err.status === 404 || err.status === 405) {
              throw new Error("This service cannot change a realm's lifetimes over the admin API yet.");
            }
            throw err;
          }
          ctx.notify(`Lifetimes of ${current.realm} saved.`, "ok");
          ctx.rerender();
        },
        ctx,
      )
    : null;
  replace(
    root,
    heading("Realms"),
    table("Realms", ["Realm", "Access tokens", "Refresh tokens", "Signing", "Actions"], rows),
    create,
    lifetimes,
  );
}
