// Cases: create one, list them, view one (its events and notes), add notes, close it,
// download its export, and add the open (confirmed) event to a case.

import { api } from "./api.js";
import { $, fill, h } from "./dom.js";
import { localTime } from "./format.js";
import { stateName, t, violationName } from "./i18n.js";

const LIST_SIZE = 50;

export class CasePanel {
  /** onOpenEvent(id): show an event of the case; onChanged(): event memberships changed;
   *  run(promiseFn, what): run an API action, showing its refusal (returns undefined on failure). */
  constructor({ onOpenEvent, onChanged, run, notice }) {
    this.onOpenEvent = onOpenEvent;
    this.onChanged = onChanged;
    this.run = run;
    this.notice = notice;
    this.cases = [];
    this.total = 0;
    this.current = null; // the case in the case view (full record)
    this.event = null; // the event open in the event view
    this.target = null; // the case chosen in the add-to-case control
    this.list = $("#case-list");
    this.view = $("#case-view");
    this.closeDialog = $("#close-dialog");

    $("#case-create").addEventListener("submit", (e) => {
      e.preventDefault();
      this.create();
    });
    $("#close-cancel").addEventListener("click", () => this.closeDialog.close());
    $("#close-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      if (await this.close($("#close-note").value.trim())) this.closeDialog.close();
    });
  }

  async load() {
    const page = await this.run(() => api.cases({ limit: LIST_SIZE }), t("case_list"));
    if (!page) return;
    this.cases = page.items;
    this.total = page.total;
    this.renderList();
    this.renderAddControl();
  }

  renderList() {
    if (!this.cases.length) {
      fill(this.list, h("li", { class: "empty" }, t("no_cases")));
      return;
    }
    fill(this.list, this.cases.map((c) => h("li", {},
      h("button", {
        type: "button", class: "case-item", dataset: { caseId: c.id },
        "aria-current": this.current && this.current.id === c.id ? "true" : null,
        onclick: () => this.open(c.id),
      },
      h("span", { class: "qi-top" },
        h("span", { class: "qi-id" }, `#${c.id}`),
        h("span", { class: "case-title-text" }, c.title),
        h("span", { class: `badge case-${c.status}` }, t(c.status))),
      h("span", { class: "qi-time" }, `${c.event_ids.length} 个事件 events · ${localTime(c.created_at_local)}`)))),
    this.total > this.cases.length ? h("li", { class: "empty" }, `… ${this.total - this.cases.length}`) : null);
  }

  async create() {
    const title = $("#case-title").value.trim();
    const note = $("#case-note").value.trim();
    if (!title) {
      $("#case-title").focus();
      return;
    }
    const c = await this.run(() => api.caseCreate(title, note), t("new_case"));
    if (!c) return;
    $("#case-title").value = "";
    $("#case-note").value = "";
    this.target = c.id;
    this.notice(`${t("new_case")} #${c.id}`);
    this.current = c;
    await this.load();
    this.renderCase();
  }

  async open(id) {
    const c = await this.run(() => api.caseGet(id), `${t("cases")} #${id}`);
    if (!c) return;
    this.current = c;
    if (c.status === "open") this.target = c.id;
    this.renderList();
    this.renderCase();
    this.renderAddControl();
  }

  renderCase() {
    const c = this.current;
    if (!c) {
      this.view.hidden = true;
      return;
    }
    this.view.hidden = false;
    fill($("#case-heading"), `#${c.id} ${c.title} `, h("span", { class: `badge case-${c.status}`, id: "case-status" }, t(c.status)));
    const open = c.status === "open";
    const exportLink = h("a", {
      class: "button primary", id: "export-link", href: `/api/cases/${c.id}/export`, download: `case-${c.id}.zip`,
      onclick: (e) => {
        e.preventDefault();
        this.download(c.id, e.currentTarget);
      },
    }, t("export"));
    fill($("#case-body"),
      h("p", { class: "meta" }, `${t("created")}: ${c.created_by} · ${localTime(c.created_at_local)}`,
        c.closed_at ? ` · ${t("closed")}: ${c.closed_by} · ${localTime(c.closed_at_local)}` : ""),
      h("div", { class: "row" }, exportLink,
        open ? h("button", { type: "button", id: "close-case-button", onclick: () => this.askClose() }, t("close_case")) : null),
      h("h4", {}, t("case_events")),
      c.events.length
        ? h("ul", { class: "case-events" }, c.events.map((ev) => h("li", { dataset: { eventId: ev.id } },
          h("span", {}, `#${ev.id} ${violationName(ev.violation)} · ${ev.camera_name} · ${localTime(ev.started_at_local)} · ${stateName(ev.review_state)} `),
          h("button", { type: "button", class: "link", onclick: () => this.onOpenEvent(ev.id) }, `${t("open_event")} #${ev.id}`))))
        : h("p", { class: "empty" }, t("no_case_events")),
      h("h4", {}, t("notes")),
      c.notes.length
        ? h("ul", { class: "notes" }, c.notes.map((n) => h("li", {},
          h("div", { class: "note-text" }, n.text), h("small", {}, `${n.by} · ${localTime(n.at_local)}`))))
        : h("p", { class: "empty" }, t("no_notes")),
      open ? this.noteForm(c.id) : null,
    );
  }

  noteForm(id) {
    const input = h("textarea", { id: "note-text", rows: 2, maxlength: 4000, required: true });
    return h("form", {
      class: "note-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return input.focus();
        if (await this.run(() => api.caseNote(id, text), `${t("add_note")} #${id}`)) {
          input.value = "";
          await this.open(id);
        }
      },
    }, h("label", { for: "note-text" }, t("add_note")), input, h("button", { type: "submit" }, t("add_note")));
  }

  askClose() {
    $("#close-note").value = "";
    this.closeDialog.showModal();
  }

  async close(note) {
    const id = this.current.id;
    const c = await this.run(() => api.caseClose(id, note), `${t("close_case")} #${id}`);
    if (!c) return false;
    this.current = c;
    if (this.target === id) this.target = null;
    this.notice(`${t("close_case")} #${id}`);
    await this.load();
    this.renderCase();
    return true;
  }

  /** Fetch the zip (so a refusal shows the API's message) and hand it to the browser. */
  async download(id, link) {
    const label = link.textContent;
    link.textContent = t("exporting");
    link.setAttribute("aria-busy", "true");
    try {
      const out = await this.run(() => api.caseExport(id), `${t("export")} #${id}`);
      if (!out) return;
      const url = URL.createObjectURL(out.blob);
      const a = h("a", { href: url, download: out.filename, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.notice(`${t("exported")} ${out.filename}`);
    } finally {
      link.textContent = label;
      link.removeAttribute("aria-busy");
    }
  }

  /** The event view's "add to case" control for the open event. */
  setEvent(ev) {
    this.event = ev;
    this.renderAddControl();
  }

  renderAddControl() {
    const box = $("#add-to-case");
    const ev = this.event;
    if (!ev) return fill(box);
    const open = this.cases.filter((c) => c.status === "open");
    if (!open.length) return fill(box, h("p", { class: "hint" }, t("no_open_cases")));
    if (!open.some((c) => c.id === this.target)) this.target = open[0].id;
    const select = h("select", { id: "add-case-select", "aria-label": t("choose_case"),
      onchange: (e) => { this.target = Number(e.target.value); } },
    open.map((c) => h("option", { value: c.id, selected: c.id === this.target }, `#${c.id} ${c.title}`)));
    const confirmed = ev.review_state === "confirmed";
    fill(box, h("div", { class: "row" }, select,
      h("button", { type: "button", id: "add-to-case-button", disabled: !confirmed,
        onclick: () => this.addEvent(Number(select.value)) }, t("add_to_case"))),
    confirmed ? null : h("p", { class: "hint" }, t("only_confirmed")));
  }

  async addEvent(caseId) {
    const ev = this.event;
    const c = await this.run(() => api.caseAddEvent(caseId, ev.id), `${t("add_to_case")} #${caseId}`);
    if (!c) return;
    this.current = c;
    this.notice(`#${ev.id} → ${t("cases")} #${caseId}`);
    await this.load();
    this.renderCase();
    await this.onChanged(ev.id);
  }
}
