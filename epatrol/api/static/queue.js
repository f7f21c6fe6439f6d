// The event queue: filters, one page of events newest first, and moving through it.

import { api } from "./api.js";
import { $, fill, h } from "./dom.js";
import { localTime, toIsoWithOffset } from "./format.js";
import { siteKeys, siteName, stateKeys, stateName, t, violationKeys, violationLabel, violationName } from "./i18n.js";

const PAGE_SIZE = 20;
const DEFAULT_STATE = "pending"; // the queue is what still waits for a decision

function options(select, entries) {
  fill(select, h("option", { value: "" }, t("any")), entries.map(([value, label]) => h("option", { value }, label)));
}

export class Queue {
  /** onOpen(id, {autoplay}): open an event; onError(err, what): a refusal to show;
   *  onLoaded(items): a page of the queue was shown. */
  constructor({ onOpen, onError, onLoaded = () => {} }) {
    this.onOpen = onOpen;
    this.onLoaded = onLoaded;
    this.onError = onError;
    this.form = $("#filters");
    this.list = $("#queue-list");
    this.summary = $("#queue-summary");
    this.prevButton = $("#page-prev");
    this.nextButton = $("#page-next");
    this.items = [];
    this.total = 0;
    this.offset = 0;
    this.selected = null;
    this.seq = 0; // only the newest request may render

    options($("#f-violation"), violationKeys().map((v) => [v, violationName(v)]));
    options($("#f-site"), siteKeys().map((s) => [s, siteName(s)]));
    options($("#f-state"), stateKeys().map((s) => [s, stateName(s)]));
    options($("#f-camera"), []);
    $("#f-state").value = DEFAULT_STATE;

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.reload(0);
    });
    this.form.addEventListener("reset", () => setTimeout(() => {
      $("#f-state").value = DEFAULT_STATE;
      this.reload(0);
    }));
    for (const select of this.form.querySelectorAll("select")) select.addEventListener("change", () => this.reload(0));
    this.prevButton.addEventListener("click", () => this.page(-1));
    this.nextButton.addEventListener("click", () => this.page(+1));
  }

  /** Name the zone the date filters are typed in (the box's). */
  setZone(name) {
    for (const el of this.form.querySelectorAll(".tz-hint")) el.textContent = `(${name})`;
  }

  async loadCameras() {
    const cameras = await api.cameras();
    const select = $("#f-camera");
    const keep = select.value;
    options(select, cameras.map((c) => [c.id, `${c.name} (${c.id})${c.pending ? ` · 待审 ${c.pending} pending` : ""}`]));
    select.value = keep;
  }

  filters() {
    const v = (id) => $(id).value;
    return {
      camera: v("#f-camera"),
      violation: v("#f-violation"),
      site: v("#f-site"),
      review_state: v("#f-state"),
      since: toIsoWithOffset(v("#f-since")),
      until: toIsoWithOffset(v("#f-until")),
    };
  }

  /** Load the page at `offset`; resolves to whether it rendered (a newer load wins). */
  async reload(offset = this.offset) {
    const seq = ++this.seq;
    this.summary.textContent = t("loading");
    this.list.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await api.events({ ...this.filters(), limit: PAGE_SIZE, offset });
    } catch (err) {
      if (seq === this.seq) {
        this.summary.textContent = "";
        this.list.removeAttribute("aria-busy");
        this.onError(err, t("queue"));
      }
      return false;
    }
    if (seq !== this.seq) return false;
    this.items = page.items;
    this.total = page.total;
    this.offset = page.offset;
    this.render();
    this.onLoaded(this.items);
    return true;
  }

  render() {
    this.list.removeAttribute("aria-busy");
    const first = this.items.length ? this.offset + 1 : 0;
    const last = this.offset + this.items.length;
    this.summary.textContent = this.total
      ? `第 ${first}–${last} 条，共 ${this.total} 条 · ${first}–${last} of ${this.total}`
      : t("no_events");
    fill(this.list, this.items.map((ev) => this.row(ev)));
    this.prevButton.disabled = this.offset === 0;
    this.nextButton.disabled = last >= this.total;
  }

  row(ev) {
    const current = ev.id === this.selected;
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `queue-item state-${ev.review_state}`,
          dataset: { eventId: ev.id },
          "aria-current": current ? "true" : null,
          onclick: () => this.onOpen(ev.id),
        },
        h("span", { class: "qi-top" },
          h("span", { class: "qi-id" }, `#${ev.id}`),
          h("span", { class: "qi-violation" }, violationLabel(ev)),
          h("span", { class: `badge state-${ev.review_state}` }, stateName(ev.review_state))),
        h("span", { class: "qi-camera" }, `${ev.camera_name} · ${ev.zone}`),
        h("span", { class: "qi-time" }, localTime(ev.started_at_local)),
      ),
    );
  }

  /** Mark the open event (and bring its row into view). */
  select(id) {
    this.selected = id;
    for (const b of this.list.querySelectorAll(".queue-item")) {
      const on = Number(b.dataset.eventId) === id;
      if (on) {
        b.setAttribute("aria-current", "true");
        b.scrollIntoView({ block: "nearest" });
      } else b.removeAttribute("aria-current");
    }
  }

  /** Replace one event's row (a refresh of the open event). */
  update(ev) {
    const i = this.items.findIndex((x) => x.id === ev.id);
    if (i < 0) return;
    this.items[i] = ev;
    const old = this.list.querySelector(`[data-event-id="${ev.id}"]`);
    if (old) old.parentElement.replaceWith(this.row(ev));
  }

  /** Events just decided (`state`): rows the filter no longer matches leave the list, the others
   *  show their new state. Resolves to the id to open next (the next pending one), or null. */
  async decided(ids, state) {
    const gone = new Set(ids);
    const at = this.items.findIndex((x) => x.id === this.selected);
    const filter = $("#f-state").value;
    if (filter && filter !== state) {
      const before = this.items.slice(0, Math.max(at, 0)).filter((x) => !gone.has(x.id)).length;
      const kept = this.items.filter((x) => !gone.has(x.id));
      this.total -= this.items.length - kept.length;
      this.items = kept;
      if (!kept.length) { // the page emptied: the next pending ones, or the page before
        if (this.total > 0 && await this.reload(Math.min(this.offset, Math.max(0, this.total - PAGE_SIZE)))) {
          return this.items.length ? this.items[0].id : null;
        }
        this.render();
        return null;
      }
      if (before >= kept.length && this.offset + kept.length < this.total && await this.reload(this.offset)) {
        return (this.items[before] || this.items[this.items.length - 1]).id; // it was last here: the next page's first
      }
      this.render();
      return kept[Math.min(before, kept.length - 1)].id;
    }
    for (const x of this.items) if (gone.has(x.id)) x.review_state = state;
    this.render();
    const after = this.items.slice(at + 1);
    const next = after.find((x) => x.review_state === "pending") || after[0];
    return next ? next.id : null;
  }

  async page(direction) {
    // Forward from what this page shows now: decided events may have left a pending list.
    const offset = direction > 0 ? this.offset + this.items.length : Math.max(0, this.offset - PAGE_SIZE);
    if (offset >= this.total && direction > 0) return false;
    return this.reload(offset);
  }

  /** Open the next (+1, older) or previous (-1, newer) event, across pages; its clip starts. */
  async step(direction) {
    if (!this.items.length) return;
    const open = (id) => this.onOpen(id, { autoplay: true });
    const i = this.items.findIndex((x) => x.id === this.selected);
    if (i < 0) return open(this.items[direction > 0 ? 0 : this.items.length - 1].id);
    const j = i + direction;
    if (j >= 0 && j < this.items.length) return open(this.items[j].id);
    if (direction > 0 && this.offset + this.items.length < this.total) {
      if (await this.page(+1) && this.items.length) return open(this.items[0].id);
    } else if (direction < 0 && this.offset > 0) {
      if (await this.page(-1) && this.items.length) return open(this.items[this.items.length - 1].id);
    }
  }
}
