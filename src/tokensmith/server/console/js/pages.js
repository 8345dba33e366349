// The console's pages. Each renders into `root` from the admin API and returns a function that
// stops whatever it left running (the live chart's polling), or nothing.

import { call, seg } from "./api.js";
import { LineChart, formatNumber } from "./chart.js";
import { ago, field, h, replace, table, when, words } from "./dom.js";

function heading(text) {
  return h("h1", { tabindex: "-1", id: "page-title" }, text);
}

/** A button that runs `action`, disabled meanwhile; an error goes to the notice. */
function button(label, action, ctx, attrs = {}) {
  const node = h("button", { type: "button", ...attrs }, label);
  node.addEventListener("click", async () => {
    node.disabled = true;
    try {
      await action();
    } catch (err) {
      ctx.notify(err.message, "error");
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

/** A form whose submit runs `action(form)`; an error goes to the notice. */
function form(attrs, children, action, ctx) {
  const node = h("form", { novalidate: true, ...attrs }, children);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = node.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    try {
      await action(node);
    } catch (err) {
      ctx.notify(err.message, "error");
    } finally {
      if (submit) submit.disabled = false;
    }
  });
  return node;
}

function unavailable(err, what) {
  if (err.status === 404 && err.error === "not_found" && /admin resource/.test(err.message)) {
    return `This service does not offer ${what} over the admin API yet.`;
  }
  return err.message;
}

/** The secret, shown this once, with a copy button. */
function secretBox(title, clientId, secret) {
  const output = h("input", { readonly: true, class: "mono", value: secret, spellcheck: "false", "data-secret": clientId });
  output.style.width = "100%";
  const status = h("span", { role: "status", class: "muted small" });
  const copy = h("button", { type: "button", class: "primary" }, "Copy secret");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = "Copied to the clipboard.";
    } catch {
      output.select();
      status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  });
  const box = h(
    "section",
    { class: "secret-box", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, title),
    h("p", {}, "This is the only time the secret is shown: the service keeps only a digest of it. Copy it now."),
    h("label", { for: "secret-value" }, `Secret of ${clientId}`),
    output,
    h("div", { class: "toolbar" }, copy, h("button", { type: "button", onclick: () => box.remove() }, "Done"), status),
  );
  output.id = "secret-value";
  return box;
}

// --- realms ------------------------------------------------------------------------------------

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

// --- clients -----------------------------------------------------------------------------------

function grants(client) {
  if (Array.isArray(client.grantTypes)) return client.grantTypes;
  const attributes = client.attributes || {};
  const found = [];
  if (client.serviceAccountsEnabled !== false) found.push("client_credentials");
  if (attributes["client_credentials.use_refresh_token"] === "true") found.push("refresh_token");
  return found;
}

function tags(list) {
  return list.length ? list.map((t) => h("span", { class: "tag" }, t)) : h("span", { class: "muted" }, "—");
}

export async function clientsPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Clients"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  const clients = await call("GET", `/${seg(realm)}/clients`);
  const revealed = h("div", { id: "revealed" });
  const rotation = h("div", { id: "rotation" });
  const rows = clients.map((c) => {
    const keys = c.clientAuthenticatorType === "client-jwt";
    const toggle = button(c.enabled ? "Disable" : "Enable", async () => {
      await call("PUT", `/${seg(realm)}/clients/${seg(c.id)}`, { enabled: !c.enabled });
      ctx.notify(`Client ${c.clientId} ${c.enabled ? "disabled" : "enabled"}.`, "ok");
      ctx.rerender();
    }, ctx, { "aria-label": `${c.enabled ? "Disable" : "Enable"} ${c.clientId}` });
    const rotate = keys
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
      keys ? "keys (client-jwt)" : "secret",
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

// --- keys --------------------------------------------------------------------------------------

export async function keysPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Keys"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  const metadata = await call("GET", `/${seg(realm)}/keys`);
  const order = { current: 0, next: 1, previous: 2, retired: 3 };
  const keys = [...metadata.keys].sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
  const rows = keys.map((k) => [
    h("span", { class: `state-${k.state}`, "data-state": k.state }, k.state),
    h("span", { class: "mono" }, k.kid),
    k.algorithm,
    k.status,
  ]);
  replace(
    root,
    heading(`Signing keys of ${realm}`),
    h("p", { class: "muted" }, "The current key signs; the next one is already published in the JWKS so that verifiers know it before it signs; previous keys stay published until the tokens they signed expire."),
    h(
      "div",
      { class: "toolbar" },
      button("Rotate keys", async () => {
        await call("POST", `/${seg(realm)}/keys/rotate`);
        ctx.notify(`Keys of ${realm} rotated: the next key signs now.`, "ok");
        ctx.rerender();
      }, ctx, { class: "primary" }),
    ),
    table(`Keys of ${realm}`, ["State", "Key ID", "Algorithm", "Status"], rows, "No keys."),
  );
}

// --- trusted issuers ---------------------------------------------------------------------------

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

// --- events ------------------------------------------------------------------------------------

export async function eventsPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Events"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  const [admin, security] = await Promise.all([
    call("GET", `/${seg(realm)}/admin-events?first=0&max=50`).catch((err) => err),
    call("GET", `/${seg(realm)}/events?first=0&max=50`).catch((err) => err),
  ]);
  const adminPart =
    admin instanceof Error
      ? h("p", { class: "error" }, unavailable(admin, "admin events"))
      : table("Admin events", ["Time", "Operation", "Resource", "Path", "By", "From", "Via"], admin.map((e) => [
          when(e.time),
          e.operationType,
          e.resourceType,
          h("span", { class: "mono small" }, e.resourcePath || ""),
          (e.authDetails && e.authDetails.clientId) || "—",
          (e.authDetails && e.authDetails.ipAddress) || "—",
          e.via || (e.details && e.details.via) || "—",
        ]), "No admin events.");
  const securityPart =
    security instanceof Error
      ? h("p", { class: "error" }, unavailable(security, "security events"))
      : table("Security events", ["Time", "Type", "Client", "From", "Error"], security.map((e) => [
          when(e.time),
          e.type,
          e.clientId || "—",
          e.ipAddress || "—",
          e.error || "—",
        ]), "No security events.");
  replace(
    root,
    heading(`Events of ${realm}`),
    h("div", { class: "toolbar" }, button("Refresh", () => ctx.rerender(), ctx)),
    h("h2", {}, "Admin events"),
    adminPart,
    h("h2", {}, "Security events"),
    securityPart,
  );
}

// --- live activity -----------------------------------------------------------------------------

const POLL_MS = 2000;

export async function activityPage(ctx, root) {
  if (!ctx.realm) return replace(root, heading("Live activity"), h("p", {}, "Choose a realm first."));
  const realm = ctx.realm;
  const canvas = h("canvas", { id: "live-chart", height: "260" });
  const issuedNow = h("span", { class: "value", id: "issued-rate" }, "—");
  const failedNow = h("span", { class: "value", id: "failure-rate" }, "—");
  const totals = h("p", { class: "muted small", id: "totals" }, "Waiting for the first two samples…");
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  replace(
    root,
    heading(`Live activity of ${realm}`),
    h(
      "div",
      { class: "figures" },
      h("div", { class: "figure" }, h("div", { class: "small muted" }, "Tokens issued per second"), issuedNow),
      h("div", { class: "figure" }, h("div", { class: "small muted" }, "Authentication failures per second"), failedNow),
    ),
    problem,
    h(
      "div",
      { class: "chart-wrap" },
      canvas,
      h(
        "ul",
        { class: "legend" },
        h("li", {}, h("span", { class: "swatch a", "aria-hidden": "true" }), "tokens issued /s"),
        h("li", {}, h("span", { class: "swatch b", "aria-hidden": "true" }), "authentication failures /s"),
      ),
    ),
    totals,
  );
  const chart = new LineChart(canvas, [
    { label: "tokens issued", color: "--chart-a" },
    { label: "authentication failures", color: "--chart-b" },
  ]);
  let last = null;
  let stopped = false;
  let timer = null;
  const poll = async () => {
    try {
      const now = await call("GET", `/${seg(realm)}/metrics`);
      problem.hidden = true;
      if (last && now.time > last.time) {
        const seconds = (now.time - last.time) / 1000;
        // Cumulative counters: the difference per second; a restart (counter went down) is 0.
        const issued = Math.max(0, now.tokensIssued - last.tokensIssued) / seconds;
        const failed = Math.max(0, now.authenticationFailures - last.authenticationFailures) / seconds;
        chart.push([issued, failed]);
        issuedNow.textContent = formatNumber(issued);
        failedNow.textContent = formatNumber(failed);
      }
      totals.textContent = `Since the service started: ${now.tokensIssued.toLocaleString()} tokens issued, ${now.authenticationFailures.toLocaleString()} authentication failures.`;
      last = now;
    } catch (err) {
      problem.textContent = unavailable(err, "metrics");
      problem.hidden = false;
      if (err.status === 404 || err.status === 401) stopped = true;
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };
  await poll();
  const onResize = () => chart.draw();
  window.addEventListener("resize", onResize);
  return () => {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("resize", onResize);
  };
}

export const PAGES = {
  realms: realmsPage,
  clients: clientsPage,
  keys: keysPage,
  issuers: issuersPage,
  events: eventsPage,
  activity: activityPage,
};
