// Groups: the pending events of the open event's camera, zone and violation, reviewed together.
// G switches group mode on; the next confirm or dismiss then covers the whole group (one API call,
// POST /api/events/review, all stored or none) and group mode switches off again.

import { api } from "./api.js";
import { $, fill, h } from "./dom.js";
import { t } from "./i18n.js";

const MAX_GROUP = 200;

export class Group {
  constructor({ onError }) {
    this.onError = onError;
    this.event = null;
    this.pending = []; // ids of the group's pending events (the open one included when pending)
    this.active = false;
    this.seq = 0;
    this.box = $("#group-info");
    this.button = $("#group-button");
    this.button.addEventListener("click", () => this.toggle());
  }

  /** Find the open event's group (in the background: deciding need not wait for it). */
  async load(ev) {
    const seq = ++this.seq;
    this.event = ev;
    this.active = false;
    this.pending = [];
    this.render();
    try {
      const page = await api.events({ camera: ev.camera, zone: ev.zone, violation: ev.violation, review_state: "pending", limit: MAX_GROUP });
      if (seq !== this.seq) return;
      this.pending = page.items.map((x) => x.id);
    } catch (err) {
      if (seq === this.seq) this.onError(err, t("group"));
    }
    this.render();
  }

  /** The ids a decision covers now: the group in group mode, else the open event alone. */
  ids() {
    if (!this.event) return [];
    if (!this.active) return [this.event.id];
    return [...new Set([this.event.id, ...this.pending])];
  }

  toggle() {
    if (!this.event || this.size() < 2) return;
    this.active = !this.active;
    this.render();
  }

  off() {
    this.active = false;
    this.render();
  }

  size() {
    return this.event ? new Set([this.event.id, ...this.pending]).size : 0;
  }

  render() {
    const n = this.size();
    this.button.disabled = n < 2;
    this.button.setAttribute("aria-pressed", this.active ? "true" : "false");
    $("#group-count").textContent = n > 1 ? String(n) : "";
    if (!this.event || n < 2) return fill(this.box);
    fill(this.box, h("span", {}, `${t("group")}: ${n} · ${t("group_hint")}`),
      this.active ? h("strong", { class: "group-on" }, ` · ${t("group_on")}`) : null);
  }
}
