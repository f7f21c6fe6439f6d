// The dismiss dialog: the configured reasons (review.dismiss_reasons), numbered. A digit dismisses
// with that reason at once and Enter with the selected one (the first when the dialog opens), so a
// dismissal is D then one key; the last choice is free text (typing in it selects it).

import { $, fill, h } from "./dom.js";
import { t } from "./i18n.js";

export class DismissDialog {
  /** onDismiss(reason, note) -> Promise<boolean>: whether it was stored (the dialog stays open if not). */
  constructor({ onDismiss }) {
    this.onDismiss = onDismiss;
    this.reasons = [];
    this.busy = false;
    this.dialog = $("#dismiss-dialog");
    this.list = $("#reason-list");
    this.other = $("#dismiss-reason");
    this.note = $("#dismiss-note");
    this.setReasons([]);

    $("#dismiss-cancel").addEventListener("click", () => this.dialog.close());
    $("#dismiss-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.other.addEventListener("input", () => this.choose(this.reasons.length, false));
    this.dialog.addEventListener("keydown", (e) => this.key(e));
  }

  /** [{zh, en, text}] from GET /api/events/review-settings. */
  setReasons(reasons) {
    this.reasons = reasons;
    const item = (i, text) => h("li", {}, h("label", { class: "reason" },
      h("input", { type: "radio", name: "dismiss-choice", value: String(i), id: `reason-${i + 1}` }),
      h("kbd", {}, String(i + 1)), h("span", {}, text)));
    fill(this.list, reasons.map((r, i) => item(i, r.text)), item(reasons.length, t("other_reason")));
  }

  radios() {
    return [...this.list.querySelectorAll('input[type="radio"]')];
  }

  open(subject) {
    $("#dismiss-heading").textContent = `${t("dismiss_title")} · ${subject}`;
    this.other.value = "";
    this.note.value = "";
    this.dialog.showModal();
    this.choose(0, true);
  }

  /** Select choice i (the last one is free text); focus it, or the text box for free text. */
  choose(i, focus) {
    const radios = this.radios();
    const radio = radios[Math.min(i, radios.length - 1)];
    radio.checked = true;
    if (!focus) return;
    if (Number(radio.value) === this.reasons.length) this.other.focus();
    else radio.focus();
  }

  key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (e.target && e.target.tagName === "TEXTAREA") return; // typing the free text or the note
    const n = this.radios().length;
    if (/^[1-9]$/.test(e.key) && Number(e.key) <= n) {
      e.preventDefault();
      const i = Number(e.key) - 1;
      this.choose(i, true);
      if (i < this.reasons.length) this.submit();
    } else if (e.key === "Enter" && e.target.tagName !== "BUTTON") {
      e.preventDefault();
      this.submit();
    }
  }

  async submit() {
    if (this.busy) return;
    const checked = this.radios().find((r) => r.checked);
    const i = checked ? Number(checked.value) : this.reasons.length;
    const reason = i < this.reasons.length ? this.reasons[i].text : this.other.value.trim();
    if (!reason) {
      this.other.placeholder = t("other_reason_needed");
      this.other.focus();
      return;
    }
    this.busy = true;
    try {
      if (await this.onDismiss(reason, this.note.value.trim())) this.dialog.close();
    } finally {
      this.busy = false;
    }
  }
}
