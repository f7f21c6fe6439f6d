// The review page: sign-in, then the desk (queue | event | cases) wired together.

import { api, ApiError } from "./api.js";
import { CasePanel } from "./cases.js";
import { $ } from "./dom.js";
import { EventView } from "./event.js";
import { applyLabels, decisionName, roleName, t } from "./i18n.js";
import { installShortcuts } from "./keys.js";
import { clearErrors, showError, showNotice } from "./notify.js";
import { Player } from "./player.js";
import { Queue } from "./queue.js";

let me = null;
let openSeq = 0;

/** Run an API call; a refusal is shown (an expired sign-in returns to the form). */
async function run(call, what) {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && me) {
      signedOut(`${t("session_over")}: ${err.detail}`);
    } else {
      showError(err, what);
    }
    return undefined;
  }
}

const queue = new Queue({ onOpen: (id) => openEvent(id), onError: (err, what) => handle(err, what) });
const player = new Player({ onError: (err, what) => handle(err, what) });
const eventView = new EventView({ onDecide: (decision, reason, note) => decide(decision, reason, note) });
const cases = new CasePanel({
  onOpenEvent: (id) => openEvent(id),
  onChanged: (id) => refreshEvent(id),
  run,
  notice: showNotice,
});

function handle(err, what) {
  if (err instanceof ApiError && err.status === 401 && me) signedOut(`${t("session_over")}: ${err.detail}`);
  else showError(err, what);
}

// -- sign-in -----------------------------------------------------------------------------

function showLogin(message = "") {
  $("#app-view").hidden = true;
  $("#topbar-tools").hidden = true;
  $("#login-view").hidden = false;
  $("#login-error").textContent = message;
  $("#login-username").focus();
}

function signedOut(message) {
  me = null;
  player.clear();
  eventView.clear();
  showLogin(message);
}

async function signedIn(user) {
  me = user;
  $("#who").textContent = `${t("signed_in_as")}: ${user.username} (${roleName(user.role)})`;
  $("#who").dataset.role = user.role;
  $("#login-view").hidden = true;
  $("#topbar-tools").hidden = false;
  $("#app-view").hidden = false;
  await Promise.all([run(() => queue.loadCameras(), t("camera")), cases.load()]);
  await queue.reload(0);
  const linked = /^#event=(\d+)$/.exec(location.hash);
  if (linked) await openEvent(Number(linked[1]));
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("#login-submit");
  button.disabled = true;
  $("#login-error").textContent = "";
  try {
    const out = await api.login($("#login-username").value.trim(), $("#login-password").value);
    $("#login-password").value = "";
    clearErrors();
    await signedIn(out.user);
  } catch (err) {
    const prefix = err instanceof ApiError && err.status === 0 ? t("network_error") : t("error");
    $("#login-error").textContent = `${prefix}${err.status ? ` (HTTP ${err.status})` : ""}: ${err.detail || err.message}`;
  } finally {
    button.disabled = false;
  }
});

$("#logout-button").addEventListener("click", async () => {
  await run(() => api.logout(), t("sign_out"));
  signedOut("");
});

// -- events ------------------------------------------------------------------------------

async function openEvent(id) {
  const seq = ++openSeq;
  const ev = await run(() => api.event(id), `${t("event")} #${id}`);
  if (!ev || seq !== openSeq) return;
  show(ev);
  history.replaceState(null, "", `#event=${id}`);
}

function show(ev) {
  eventView.show(ev);
  player.show(ev);
  cases.setEvent(ev);
  queue.select(ev.id);
  queue.update(ev);
}

async function refreshEvent(id) {
  const ev = await run(() => api.event(id), `${t("event")} #${id}`);
  if (ev && eventView.event && eventView.event.id === id) show(ev);
}

/** Returns whether the decision was stored. */
async function decide(decision, reason, note) {
  const ev = eventView.event;
  if (!ev) return false;
  const r = await run(() => api.decide(ev.id, decision, reason, note), `${decisionName(decision)} #${ev.id}`);
  if (!r) return false;
  showNotice(`${t("event")} #${ev.id}: ${decisionName(r.decision)} · ${r.by}`);
  await refreshEvent(ev.id);
  return true;
}

// -- keys and start-up -------------------------------------------------------------------

const help = $("#help-dialog");
$("#help-button").addEventListener("click", () => help.showModal());
$("#prev-button").addEventListener("click", () => queue.step(-1));
$("#next-button").addEventListener("click", () => queue.step(+1));

installShortcuts({
  confirm: () => eventView.confirm(),
  dismiss: () => eventView.askDismiss(),
  next: () => queue.step(+1),
  prev: () => queue.step(-1),
  play: () => player.togglePlay(),
  boxes: () => player.toggleBoxes(),
  help: () => help.showModal(),
}, () => me !== null);

async function start() {
  applyLabels();
  try {
    await signedIn(await api.me());
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin();
    else {
      showLogin();
      showError(err, t("sign_in"));
    }
  }
}

start();
