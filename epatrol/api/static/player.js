// The evidence media of one event: the clip (<video>, streamed with HTTP Range, signed in by
// the session cookie) beside the snapshot: the clean frame with the zone and boxes drawn over it
// by the page (overlay.js; B switches them off), or for older events the burnt-in snapshot.
// Z (or a click on the snapshot) shows it enlarged.

import { api } from "./api.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { cleanFrameUrl, drawOverlay } from "./overlay.js";

export class Player {
  constructor({ onError }) {
    this.onError = onError;
    this.video = $("#clip");
    this.videoMessage = $("#clip-message");
    this.img = $("#snapshot");
    this.imgMessage = $("#snapshot-message");
    this.overlay = $("#boxes");
    this.toggle = $("#toggle-boxes");
    this.note = $("#snapshot-note");
    this.zoomDialog = $("#zoom-dialog");
    this.zoomImg = $("#zoom-image");
    this.zoomOverlay = $("#zoom-boxes");
    this.event = null;
    this.clean = false;

    this.toggle.addEventListener("change", () => this.showBoxes(this.toggle.checked));
    this.img.addEventListener("load", () => this.drawBoxes());
    this.img.addEventListener("click", () => this.zoom());
    this.zoomImg.addEventListener("load", () => this.drawBoxes());
    $("#zoom-button").addEventListener("click", () => this.zoom());
    // Labels keep their on-screen size: redraw when the image is shown at another size.
    const resized = new ResizeObserver(() => this.drawBoxes());
    resized.observe(this.img);
    resized.observe(this.zoomImg);
    this.img.addEventListener("error", () => this.explain(this.img, this.imgMessage, t("snapshot")));
    this.video.addEventListener("error", () => this.explain(this.video, this.videoMessage, t("video_error")));
  }

  /** Show an event's clip and snapshot; `autoplay`: start the clip (muted) as soon as it can. */
  show(ev, { autoplay = false } = {}) {
    const sameEvent = this.event && this.event.id === ev.id;
    this.event = ev;
    if (!sameEvent) {
      this.load(this.video, this.videoMessage, ev.clip_url, clipAbsence(ev));
      if (autoplay && ev.clip_url) {
        this.video.muted = true; // a muted clip may start without a click
        this.video.play().catch(() => {}); // refused or overtaken by the next event: P still plays it
      }
      const clean = cleanFrameUrl(ev);
      this.clean = Boolean(clean);
      this.load(this.img, this.imgMessage, clean || ev.snapshot_url, t("no_snapshot"));
      this.note.textContent = ev.snapshot_url ? t(clean ? "clean_frame" : "burnt_frame") : "";
      this.img.alt = `${t("snapshot")} #${ev.id}`;
      this.overlay.replaceChildren();
    } else if (this.img.complete) this.drawBoxes();
  }

  /** The snapshot at full size (scrolls when larger than the window), overlay and all. */
  zoom() {
    const src = this.img.getAttribute("src");
    if (!src || !this.event) return;
    if (this.zoomImg.getAttribute("src") !== src) this.zoomImg.src = src;
    this.zoomImg.alt = this.img.alt;
    if (!this.zoomDialog.open) this.zoomDialog.showModal();
    if (this.zoomImg.complete) this.drawBoxes();
  }

  clear() {
    this.event = null;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.img.removeAttribute("src");
    this.overlay.replaceChildren();
    if (this.zoomDialog.open) this.zoomDialog.close();
  }

  load(el, message, url, absent) {
    message.textContent = "";
    if (el.tagName === "VIDEO") el.pause();
    if (url) {
      el.hidden = false;
      el.src = url;
      if (el.tagName === "VIDEO") el.load();
    } else {
      el.removeAttribute("src");
      el.hidden = true;
      message.textContent = absent;
    }
  }

  /** A <video>/<img> says nothing about why it failed: ask the API for its message. */
  async explain(el, message, what) {
    const url = el.getAttribute("src");
    if (!url) return;
    const problem = await api.mediaProblem(url);
    if (el.getAttribute("src") !== url) return; // moved on to another event meanwhile
    if (problem) {
      message.textContent = `${what}: ${problem.detail}`;
      this.onError(problem, what);
    } else {
      const detail = el.error ? `${el.error.message || ""} (MediaError ${el.error.code})` : "";
      message.textContent = `${what} ${detail}`;
      this.onError(new Error(`${what} ${detail}`), what);
    }
  }

  togglePlay() {
    if (!this.video.getAttribute("src")) return;
    if (this.video.paused) this.video.play().catch((err) => this.onError(err, t("play_pause")));
    else this.video.pause();
  }

  showBoxes(on) {
    this.toggle.checked = on;
    this.overlay.classList.toggle("off", !on);
    this.zoomOverlay.classList.toggle("off", !on);
  }

  toggleBoxes() {
    this.showBoxes(!this.toggle.checked);
  }

  /** Boxes are in the pixels of the frame the snapshot was taken from; the zone is drawn only
   *  over a clean frame (a burnt-in snapshot has it already). */
  drawBoxes() {
    drawOverlay(this.overlay, this.event, this.img.naturalWidth, this.img.naturalHeight, this.img.clientWidth, this.clean);
    drawOverlay(this.zoomOverlay, this.event, this.zoomImg.naturalWidth, this.zoomImg.naturalHeight, this.zoomImg.clientWidth, this.clean);
  }
}

function clipAbsence(ev) {
  if (ev.clip_state === "recording") return `${t("no_clip")} · ${t("clip_state_recording")}`;
  if (ev.clip_state === "failed") return `${t("no_clip")} · ${t("clip_state_failed")}`;
  return t("no_clip");
}
