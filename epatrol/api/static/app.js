// The review page: sign-in, then the desk (queue | event | cases) wired together.

import { api, ApiError } from "./api.js";
import { CasePanel } from "./cases.js";
import { $ } from "./dom.js";
import { EventView } from "./event.js";
import { setPageOffset } from "./format.js";
import { Group } from "./group.js";
import { applyLabels, decisionName, roleName, t } from "./i18n.js";
import { installShortcuts } from "./keys.js";
import { Live } from "./live.js";
import { clearErrors, kindOf, showError, showNotice } from "./notify.js";
import { Player } from "./player.js";
import { Queue } from "./queue.js";
import { DismissDialog } from "./reasons.js";

let me = null;
let openSeq = 0;
let deciding = false; // one decision at a time: a key pressed twice does not decide the next event unseen
const STATE_OF = { confirm: "confirmed", dismiss: "dismissed" };

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

let wantFirst = false; // nothing open yet (or all decided): the queue's next load opens its first event
const queue = new Queue({
  onOpen: (id, opts) => openEvent(id, opts),
  onError: (err, what) => handle(err, what),
  onLoaded: (items) => {
    if (!wantFirst || !items.length) return;
    wantFirst = false;
    openEvent(items[0].id, { autoplay: true });
  },
});
const player = new Player({ onError: (err, what) => handle(err, what) });
const group = new Group({ onError: (err, what) => handle(err, what) });
const live = new Live({ onError: (err, what) => handle(err, what) });
const dismissDialog = new DismissDialog({ onDismiss: (reason, note) => decide("dismiss", reason, note) });
const eventView = new EventView({ onConfirm: () => decide("confirm"), onDismiss: () => askDismiss() });
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
  wantFirst = false;
  player.clear();
  eventView.clear();
  showLogin(message);
}

async function signedIn(user) {
  me = user;
  $("#who").textContent = `${user.username} (${roleName(user.role)})`;
  $("#who").dataset.role = user.role;
  $("#login-view").hidden = true;
  $("#topbar-tools").hidden = false;
  $("#app-view").hidden = false;
  const [, , settings] = await Promise.all([run(() => queue.loadCameras(), t("camera")), cases.load(),
    run(() => api.reviewSettings(), t("dismiss_title"))]);
  if (settings) {
    dismissDialog.setReasons(settings.dismiss_reasons);
    setPageOffset(settings.utc_offset);
    const zone = `${settings.timezone} UTC${settings.utc_offset}`;
    $("#zone-name").textContent = `${t("times_in")} ${zone}`;
    queue.setZone(zone);
  }
  const linked = /^#event=(\d+)$/.exec(location.hash);
  wantFirst = !linked; // the first pending one opens as soon as the queue is in (whichever load wins)
  await queue.reload(0);
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
    const kind = err instanceof ApiError && err.status === 401 ? t("login_failed") : kindOf(err);
    $("#login-error").textContent = `${kind}: ${err.detail || err.message}`;
  } finally {
    button.disabled = false;
  }
});

$("#logout-button").addEventListener("click", async () => {
  await run(() => api.logout(), t("sign_out"));
  signedOut("");
});

// -- events ------------------------------------------------------------------------------

async function openEvent(id, { autoplay = false } = {}) {
  const seq = ++openSeq;
  const ev = await run(() => api.event(id), `${t("event")} #${id}`);
  if (!ev || seq !== openSeq) return;
  show(ev, autoplay);
  history.replaceState(null, "", `#event=${id}`);
}

function show(ev, autoplay = false) {
  const other = !eventView.event || eventView.event.id !== ev.id;
  eventView.show(ev);
  player.show(ev, { autoplay });
  cases.setEvent(ev);
  live.setEvent(ev);
  queue.select(ev.id);
  queue.update(ev);
  if (other) group.load(ev);
}

async function refreshEvent(id) {
  const ev = await run(() => api.event(id), `${t("event")} #${id}`);
  if (ev && eventView.event && eventView.event.id === id) show(ev);
}

function askDismiss() {
  const ev = eventView.event;
  if (!ev || deciding) return;
  const ids = group.ids();
  dismissDialog.open(ids.length > 1 ? `${t("group")} ${ids.length}` : `#${ev.id}`);
}

/** Decide the open event (or its group, in group mode), then open the next pending event and
 *  start its clip. Returns whether the decision was stored. */
async function decide(decision, reason, note) {
  const ev = eventView.event;
  if (!ev || deciding) return false;
  deciding = true;
  try {
    const ids = group.ids();
    const what = `${decisionName(decision)} ${ids.length > 1 ? `${t("group")} ${ids.length}` : `#${ev.id}`}`;
    const r = await run(() => (ids.length > 1 ? api.decideGroup(ids, decision, reason, note) : api.decide(ev.id, decision, reason, note)), what);
    if (!r) {
      deciding = false;
      return false;
    }
    showNotice(`${what}: ${decisionName(decision)} · ${me.username}`);
    group.off();
    // Not awaited (the dialog closes at once); no other decision until the next event is open.
    advance(ids, STATE_OF[decision]).finally(() => { deciding = false; });
    return true;
  } catch (err) {
    deciding = false;
    throw err;
  }
}

async function advance(ids, state) {
  const current = eventView.event.id;
  const next = await queue.decided(ids, state);
  if (next && next !== current) await openEvent(next, { autoplay: true });
  else if (next === current || queue.items.some((x) => x.id === current)) await refreshEvent(current);
  else {
    player.clear();
    eventView.clear(t("all_reviewed"));
    wantFirst = true; // another filter's first event opens when it loads
  }
  run(() => queue.loadCameras(), t("camera")); // the pending counts
}

// -- keys and start-up -------------------------------------------------------------------

const help = $("#help-dialog");
$("#help-button").addEventListener("click", () => help.showModal());
$("#prev-button").addEventListener("click", () => queue.step(-1));
$("#next-button").addEventListener("click", () => queue.step(+1));

installShortcuts({
  confirm: () => decide("confirm"),
  dismiss: () => askDismiss(),
  group: () => group.toggle(),
  zoom: () => player.zoom(),
  live: () => live.open(eventView.event),
  next: () => queue.step(+1),
  prev: () => queue.step(-1),
  play: () => player.togglePlay(),
  boxes: () => player.toggleBoxes(),
  help: () => help.showModal(),
}, () => me !== null);

async function start() {
  applyLabels();
  // Below a wide desk the filters beyond the camera fold away: the queue itself gets the room.
  const narrow = matchMedia("(max-width: 1280px)");
  $("#more-filters").open = !narrow.matches;
  narrow.addEventListener("change", () => { $("#more-filters").open = !narrow.matches; });
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
