// A realm's signing keys (current, next, previous) and their rotation.

import { call, seg } from "./api.js";
import { h, replace, table } from "./dom.js";
import { button, heading } from "./widgets.js";

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
