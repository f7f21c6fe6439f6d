// The evidence media of one event: the clip (<video>, streamed with HTTP Range, signed in by
// the session cookie) beside the snapshot, with the event's detection boxes drawn over it
// in SVG so they can be switched off to see what they cover.

import { api } from "./api.js";
import { $, svg } from "./dom.js";
import { objectName, t } from "./i18n.js";

const COLOURS = ["#ff3b30", "#0a84ff", "#34c759", "#ff9f0a", "#bf5af2", "#64d2ff"];

export class Player {
  constructor({ onError }) {
    this.onError = onError;
    this.video = $("#clip");
    this.videoMessage = $("#clip-message");
    this.img = $("#snapshot");
    this.imgMessage = $("#snapshot-message");
    this.overlay = $("#boxes");
    this.toggle = $("#toggle-boxes");
    this.event = null;

    this.toggle.addEventListener("change", () => this.showBoxes(this.toggle.checked));
    this.img.addEventListener("load", () => this.drawBoxes());
    this.img.addEventListener("error", () => this.explain(this.img, this.imgMessage, t("snapshot")));
    this.video.addEventListener("error", () => this.explain(this.video, this.videoMessage, t("video_error")));
  }

  /** Show an event's clip and snapshot. */
  show(ev) {
    const sameEvent = this.event && this.event.id === ev.id;
    this.event = ev;
    if (!sameEvent) {
      this.load(this.video, this.videoMessage, ev.clip_url, clipAbsence(ev));
      this.load(this.img, this.imgMessage, ev.snapshot_url, t("no_snapshot"));
      this.img.alt = `${t("snapshot")} #${ev.id}`;
      this.overlay.replaceChildren();
    } else if (this.img.complete) this.drawBoxes();
  }

  clear() {
    this.event = null;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.img.removeAttribute("src");
    this.overlay.replaceChildren();
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
  }

  toggleBoxes() {
    this.showBoxes(!this.toggle.checked);
  }

  /** Boxes are in the pixels of the frame the snapshot was taken from. */
  drawBoxes() {
    const ev = this.event;
    const w = this.img.naturalWidth;
    const hgt = this.img.naturalHeight;
    this.overlay.replaceChildren();
    if (!ev || !w || !hgt) return;
    this.overlay.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    const font = Math.max(12, Math.round(Math.min(w, hgt) / 28));
    ev.detections.forEach((d, i) => {
      const [x1, y1, x2, y2] = d.xyxy;
      const colour = COLOURS[i % COLOURS.length];
      const label = `${objectName(d.label)} ${Number(d.confidence).toFixed(2)}`;
      const ty = y2 + font + 4 <= hgt ? y2 + font + 2 : Math.max(font, y1 - 4);
      this.overlay.append(
        svg("rect", {
          x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1),
          fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": "8 4",
          "vector-effect": "non-scaling-stroke", class: "box",
        }),
        svg("text", {
          x: Math.max(2, Math.min(x1, w - label.length * font * 0.55)), y: ty, fill: colour, "font-size": font,
          "paint-order": "stroke", stroke: "#000", "stroke-width": Math.max(2, font / 6), class: "box-label",
        }, label),
      );
    });
  }
}

function clipAbsence(ev) {
  if (ev.clip_state === "recording") return `${t("no_clip")} · ${t("clip_state_recording")}`;
  if (ev.clip_state === "failed") return `${t("no_clip")} · ${t("clip_state_failed")}`;
  return t("no_clip");
}
