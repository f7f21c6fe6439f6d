// The camera's live frame on request (L): GET /api/cameras/{id}/live, the newest frame the
// running patrol judged, shown with when it was taken.

import { api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { kindOf } from "./notify.js";

export class Live {
  constructor({ onError }) {
    this.onError = onError;
    this.dialog = $("#live-dialog");
    this.img = $("#live-image");
    this.caption = $("#live-caption");
    this.url = null;
    $("#live-button").addEventListener("click", () => this.open(this.event));
    $("#live-refresh").addEventListener("click", () => this.open(this.event));
    this.dialog.addEventListener("close", () => this.release());
  }

  setEvent(ev) {
    this.event = ev;
  }

  async open(ev) {
    if (!ev) return;
    this.event = ev;
    this.caption.textContent = t("loading");
    if (!this.dialog.open) this.dialog.showModal();
    $("#live-heading").textContent = `${t("live")} · ${ev.camera_name} (${ev.camera})`;
    try {
      const frame = await api.liveFrame(ev.camera);
      this.release();
      this.url = URL.createObjectURL(frame.blob);
      this.img.src = this.url;
      this.img.hidden = false;
      this.caption.textContent = `${t("live_taken")}: ${frame.takenAt || "—"}`;
    } catch (err) {
      this.img.hidden = true;
      this.caption.textContent = `${kindOf(err)}: ${err.detail || err.message}`; // said in the dialog itself
      if (!(err instanceof ApiError) || err.status === 401) this.onError(err, t("live"));
    }
  }

  release() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}
