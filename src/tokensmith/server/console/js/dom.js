// Building DOM nodes from data: text always goes in as text, never as HTML.

/** An element: h("td", {class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `node` with `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** A table with a caption (for screen readers), column heads and rows of cells; `empty` when none. */
export function table(caption, heads, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("div", { class: "table-wrap" }, h("p", { class: "empty" }, empty));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, heads.map((head) => h("th", { scope: "col" }, head)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
    ),
  );
}

/** A labelled form field: the label, then the control, in one div. */
export function field(id, label, control) {
  control.id = id;
  return h("div", {}, h("label", { for: id }, label), control);
}

/** Words from a text with spaces or commas between them. */
export function words(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** "3 min ago" for a time in ms since the epoch, with the exact time as a tooltip. */
export function ago(ms, now = Date.now()) {
  if (ms === null) return h("span", { class: "muted" }, "never");
  if (ms === undefined) return h("span", { class: "muted" }, "—");
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  let text;
  if (seconds < 60) text = `${seconds} s ago`;
  else if (seconds < 3600) text = `${Math.floor(seconds / 60)} min ago`;
  else if (seconds < 86400) text = `${Math.floor(seconds / 3600)} h ago`;
  else text = `${Math.floor(seconds / 86400)} d ago`;
  return h("time", { datetime: new Date(ms).toISOString(), title: new Date(ms).toISOString() }, text);
}

/** A time in ms since the epoch as local date and time. */
export function when(ms) {
  if (ms === undefined || ms === null) return "—";
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString() }, date.toLocaleString());
}
