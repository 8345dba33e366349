// A realm's clients: grants, scopes, state and last use; create (the secret shown once), rotate
// a secret with a grace period, disable/enable, delete.

import { call, seg } from "./api.js";
import { ago, field, h, replace, table, words } from "./dom.js";
import { button, form, heading, secretBox, tags } from "./widgets.js";

function grants(client) {
  if (Array.isArray(client.grantTypes)) return client.grantTypes;
  const attributes = client.attributes || {};
  const found = [];
  if (client.serviceAccountsEnabled !== false) found.push("client_credentials");
  if (attributes["client_credentials.use_refresh_token"] === "true") found.push("refresh_token");
  return found;
}

export async function clientsPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Clients"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  const clients = await call("GET", `/${seg(realm)}/clients`);
  const revealed = h("div", { id: "revealed" });
  const rotation = h("div", { id: "rotation" });
  const rows = clients.map((c) => {
    const how = c.clientAuthenticatorType;
    const noSecret = how !== "client-secret";
    const toggle = button(c.enabled ? "Disable" : "Enable", async () => {
      await call("PUT", `/${seg(realm)}/clients/${seg(c.id)}`, { enabled: !c.enabled });
      ctx.notify(`Client ${c.clientId} ${c.enabled ? "disabled" : "enabled"}.`, "ok");
      ctx.rerender();
    }, ctx, { "aria-label": `${c.enabled ? "Disable" : "Enable"} ${c.clientId}` });
    const rotate = noSecret
      ? null
      : button("Rotate secret", async () => {
          replace(rotation, rotateForm(ctx, realm, c, revealed, rotation));
          rotation.querySelector("input").focus();
        }, ctx, { "aria-label": `Rotate secret of ${c.clientId}` });
    const remove = button("Delete", async () => {
      if (!window.confirm(`Delete client ${c.clientId}? Its tokens stop working.`)) return;
      await call("DELETE", `/${seg(realm)}/clients/${seg(c.id)}`);
      ctx.notify(`Client ${c.clientId} deleted.`, "ok");
      ctx.rerender();
    }, ctx, { class: "danger", "aria-label": `Delete ${c.clientId}` });
    return [
      h("span", { class: "mono", "data-client": c.clientId }, c.clientId),
      tags(grants(c)),
      [tags([...(c.defaultClientScopes || [])]), (c.optionalClientScopes || []).length ? [h("br"), h("span", { class: "small muted" }, "optional: "), tags(c.optionalClientScopes)] : null],
      how === "client-jwt" ? "keys (client-jwt)" : how === "federated-jwt" ? "platform token (federated)" : "secret",
      h("span", { class: c.enabled ? "state-on" : "state-off", "data-enabled": String(c.enabled) }, c.enabled ? "enabled" : "disabled"),
      ago(c.lastUsed),
      h("div", { class: "actions" }, toggle, rotate, remove),
    ];
  });
  const create = form(
    { class: "panel", "aria-labelledby": "new-client" },
    [
      h("h2", { id: "new-client" }, `Create a client in ${realm}`),
      h(
        "div",
        { class: "row" },
        field("client-id", "Client ID", h("input", { required: true, spellcheck: "false", autocomplete: "off" })),
        field("client-scopes", "Scopes (spaces between)", h("input", { spellcheck: "false", autocomplete: "off", placeholder: "invoices.read" })),
        field("client-lifespan", "Access token lifetime (s, optional)", h("input", { type: "number", min: "1" })),
        h("div", {}, h("label", { class: "inline", for: "client-refresh" }, h("input", { type: "checkbox", id: "client-refresh" }), "Refresh tokens")),
        h("div", {}, h("button", { type: "submit", class: "primary" }, "Create client")),
      ),
    ],
    async (node) => {
      const clientId = node.querySelector("#client-id").value.trim();
      if (!clientId) throw new Error("Give the client an ID.");
      const attributes = {};
      const lifespan = node.querySelector("#client-lifespan").value;
      if (lifespan) attributes["access.token.lifespan"] = lifespan;
      if (node.querySelector("#client-refresh").checked) {
        attributes["client_credentials.use_refresh_token"] = "true";
      }
      const made = await call("POST", `/${seg(realm)}/clients`, {
        clientId,
        serviceAccountsEnabled: true,
        publicClient: false,
        defaultClientScopes: words(node.querySelector("#client-scopes").value),
        attributes,
      });
      await ctx.rerender();
      ctx.notify(`Client ${clientId} created.`, "ok");
      if (made && made.secret) {
        const box = secretBox(`New client ${clientId}`, clientId, made.secret);
        replace(document.getElementById("revealed"), box);
        box.querySelector("input").focus();
      }
    },
    ctx,
  );
  replace(
    root,
    heading(`Clients of ${realm}`),
    revealed,
    rotation,
    table(`Clients of ${realm}`, ["Client ID", "Grants", "Scopes", "Authentication", "State", "Last used", "Actions"], rows, "No clients yet: create one below."),
    create,
  );
}

function rotateForm(ctx, realm, client, revealed, rotation) {
  return form(
    { class: "panel", "aria-labelledby": "rotate-title" },
    [
      h("h2", { id: "rotate-title" }, `Rotate the secret of ${client.clientId}`),
      h("p", { class: "muted" }, "A new secret is made and shown once. During the grace period the old secret keeps working, so the clients using it can move to the new one."),
      h(
        "div",
        { class: "row" },
        field("grace", "Grace period (s)", h("input", { type: "number", min: "0", value: "0" })),
        h("div", {}, h("button", { type: "submit", class: "primary" }, "Rotate")),
        h("div", {}, h("button", { type: "button", onclick: () => rotation.replaceChildren() }, "Cancel")),
      ),
    ],
    async (node) => {
      const grace = Math.max(0, Math.floor(Number(node.querySelector("#grace").value) || 0));
      const answer = await call("POST", `/${seg(realm)}/clients/${seg(client.id)}/client-secret?gracePeriod=${grace}`);
      rotation.replaceChildren();
      const old = grace ? `the old one works for ${grace} s more` : "the old one no longer works";
      ctx.notify(`New secret for ${client.clientId}; ${old}.`, "ok");
      const box = secretBox(`New secret of ${client.clientId}`, client.clientId, answer.value);
      replace(revealed, box);
      box.querySelector("input").focus();
    },
    ctx,
  );
}
