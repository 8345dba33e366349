// The console's start: sign-in, the header's realm selector, the left navigation and hash
// routing (#/clients) between the pages.

import { ApiError, call, session, signIn, signOut, whenSessionEnds } from "./api.js";
import { h, replace } from "./dom.js";
import { PAGES } from "./pages.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_PAGE = "realms";

const ctx = {
  realm: null,
  realms: [],
  cleanup: null,
  renderId: 0,
  notify(message, kind = "ok") {
    const notice = $("notice");
    notice.className = `notice ${kind}`;
    notice.setAttribute("role", kind === "error" ? "alert" : "status");
    notice.textContent = message;
    notice.hidden = false;
  },
  setRealms(names) {
    ctx.realms = names;
    if (!names.includes(ctx.realm)) ctx.realm = names.find((n) => n !== "master") || names[0] || null;
    fillRealmSelect();
  },
  selectRealm(name) {
    ctx.realm = name;
    fillRealmSelect();
  },
  rerender() {
    return render({ keepNotice: true });
  },
};

function fillRealmSelect() {
  const select = $("realm-select");
  replace(select, ctx.realms.map((name) => h("option", { value: name, selected: name === ctx.realm }, name)));
}

function currentPage() {
  const name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  return Object.hasOwn(PAGES, name) ? name : DEFAULT_PAGE;
}

async function render({ keepNotice = false, focus = false } = {}) {
  if (!session()) return showSignIn();
  const id = ++ctx.renderId;
  if (ctx.cleanup) {
    ctx.cleanup();
    ctx.cleanup = null;
  }
  if (!keepNotice) $("notice").hidden = true;
  const page = currentPage();
  for (const anchor of document.querySelectorAll("[data-nav]")) {
    if (anchor.dataset.nav === page) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
  document.title = `${title(page)} · tokensmith console`;
  const root = $("page");
  root.setAttribute("aria-busy", "true");
  try {
    const stop = await PAGES[page](ctx, root);
    if (id !== ctx.renderId) {
      if (typeof stop === "function") stop();
      return;
    }
    if (typeof stop === "function") ctx.cleanup = stop;
  } catch (err) {
    if (id !== ctx.renderId || !session()) return;
    replace(root, h("h1", { tabindex: "-1", id: "page-title" }, title(page)), h("p", { class: "error", role: "alert" }, err.message));
  } finally {
    root.removeAttribute("aria-busy");
  }
  if (focus) $("page-title")?.focus();
}

function title(page) {
  const anchor = document.querySelector(`[data-nav="${page}"]`);
  return anchor ? anchor.textContent : page;
}

function showSignIn(message) {
  if (ctx.cleanup) {
    ctx.cleanup();
    ctx.cleanup = null;
  }
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  $("page").replaceChildren();
  document.title = "Sign in · tokensmith console";
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("signin-id").focus();
}

async function showApp() {
  const who = session();
  $("who").textContent = `${who.clientId} · ${who.readOnly ? "read-only" : "admin"}`;
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  try {
    const realms = await call("GET", "");
    ctx.setRealms(realms.map((r) => r.realm));
  } catch (err) {
    ctx.notify(err.message, "error");
  }
  await render({ focus: true });
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const clientId = $("signin-id").value.trim();
  const secretInput = $("signin-secret");
  const submit = event.target.querySelector("button[type=submit]");
  if (!clientId || !secretInput.value) {
    return showSignIn("Enter the admin client's ID and secret.");
  }
  submit.disabled = true;
  try {
    await signIn(clientId, secretInput.value);
    secretInput.value = "";
    await showApp();
  } catch (err) {
    showSignIn(err instanceof ApiError ? err.message : String(err));
  } finally {
    submit.disabled = false;
  }
});

$("signout").addEventListener("click", () => {
  signOut();
  ctx.realm = null;
  ctx.realms = [];
  showSignIn();
});

$("realm-select").addEventListener("change", (event) => {
  ctx.realm = event.target.value;
  render();
});

window.addEventListener("hashchange", () => render({ focus: true }));
whenSessionEnds((err) => showSignIn(err.message));

showSignIn();
