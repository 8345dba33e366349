// What the pages are made of: headings, buttons and forms that report errors in the notice,
// the secret shown once with its copy button, tags.

import { h } from "./dom.js";

export function heading(text) {
  return h("h1", { tabindex: "-1", id: "page-title" }, text);
}

/** A button that runs `action`, disabled meanwhile; an error goes to the notice. */
export function button(label, action, ctx, attrs = {}) {
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
export function form(attrs, children, action, ctx) {
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

export function unavailable(err, what) {
  if (err.status === 404 && err.error === "not_found" && /admin resource/.test(err.message)) {
    return `This service does not offer ${what} over the admin API yet.`;
  }
  return err.message;
}

/** The secret, shown this once, with a copy button. */
export function secretBox(title, clientId, secret) {
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


export function tags(list) {
  return list.length ? list.map((t) => h("span", { class: "tag" }, t)) : h("span", { class: "muted" }, "—");
}
