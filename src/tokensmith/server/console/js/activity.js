// Live activity: tokens issued and authentication failures per second, from the realm's
// cumulative counters polled every 2 s.

import { call, seg } from "./api.js";
import { formatNumber, LineChart } from "./chart.js";
import { h, replace } from "./dom.js";
import { heading, unavailable } from "./widgets.js";

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
