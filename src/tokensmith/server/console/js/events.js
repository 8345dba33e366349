// A realm's recent admin events and security events.

import { call, seg } from "./api.js";
import { h, replace, table, when } from "./dom.js";
import { button, heading, unavailable } from "./widgets.js";

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
