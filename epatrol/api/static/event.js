// One event's facts, its review history, and the confirm / dismiss buttons.

import { $, fill, h } from "./dom.js";
import { duration, localTime } from "./format.js";
import { decisionName, endReasonName, objectName, siteName, stateName, t, violationLabel } from "./i18n.js";

function fact(key, ...value) {
  return [h("dt", {}, t(key)), h("dd", { dataset: { fact: key } }, ...value)];
}

function when(utc, local) {
  return h("time", { datetime: utc || "", title: utc ? `UTC ${utc}` : null }, localTime(local));
}

function hash(hex) {
  return hex ? h("code", { class: "hash" }, hex) : "—";
}

export class EventView {
  /** onConfirm(), onDismiss(): the officer asked for a decision (the desk decides what it covers). */
  constructor({ onConfirm, onDismiss }) {
    this.event = null;
    this.heading = $("#event-heading");
    this.facts = $("#facts");
    this.history = $("#history");

    $("#confirm-button").addEventListener("click", () => onConfirm());
    $("#dismiss-button").addEventListener("click", () => onDismiss());
  }

  show(ev) {
    this.event = ev;
    $("#event-empty").hidden = true;
    $("#event-body").hidden = false;
    fill(this.heading, `${t("event")} #${ev.id} · ${violationLabel(ev)} `,
      h("span", { class: `badge state-${ev.review_state}`, id: "event-state", dataset: { state: ev.review_state } },
        stateName(ev.review_state)));
    this.renderFacts(ev);
    this.renderHistory(ev.reviews || []);
  }

  /** No event open; `message` says why (default: pick one from the queue). */
  clear(message = t("pick_event")) {
    this.event = null;
    $("#event-body").hidden = true;
    $("#event-empty").hidden = false;
    $("#event-empty").textContent = message;
    this.heading.textContent = t("event");
  }

  renderFacts(ev) {
    const d = ev.details || {};
    const dets = ev.detections.length
      ? ev.detections.map((x) => `${objectName(x.label)} ${Number(x.confidence).toFixed(2)}`).join("; ")
      : t("none");
    fill(this.facts,
      fact("violation", violationLabel(ev)),
      fact("review_state", stateName(ev.review_state)),
      fact("camera_name", `${ev.camera_name} `, h("small", {}, `(${ev.camera})`)),
      fact("site", siteName(ev.site)),
      fact("zone", ev.zone),
      fact("started_at", when(ev.started_at, ev.started_at_local)),
      fact("alerted_at", when(ev.alerted_at, ev.alerted_at_local)),
      fact("ended_at", ev.ended_at ? when(ev.ended_at, ev.ended_at_local) : t("ongoing")),
      fact("end_reason", endReasonName(ev.end_reason)),
      fact("dwell", duration(d.dwell_s), d.count !== undefined ? ` · ${t("count")} ${d.count}` : ""),
      fact("detections", dets),
      fact("model", `${ev.model} `, h("code", { class: "hash", title: `SHA-256 ${ev.model_sha256}` }, `sha256 ${ev.model_sha256}`)),
      fact("clip_sha256", hash(ev.clip_sha256), ev.clip_state === "partial" ? h("small", { class: "partial" }, ` · ${t("clip_state_partial")}`) : ""),
      fact("snapshot_sha256", hash(ev.snapshot_sha256)),
      fact("cases_of_event", ev.case_ids.length ? ev.case_ids.map((c) => `#${c}`).join(", ") : t("none")),
    );
  }

  renderHistory(reviews) {
    if (!reviews.length) {
      fill(this.history, h("li", { class: "empty" }, t("no_history")));
      return;
    }
    fill(this.history, [...reviews].reverse().map((r) => h("li", { class: `decision-${r.decision}` },
      h("strong", {}, decisionName(r.decision)), ` · ${r.by} · `, when(r.at, r.at_local),
      r.reason ? h("div", {}, `${t("reason")}: ${r.reason}`) : null,
      r.note ? h("div", {}, `${t("note")}: ${r.note}`) : null)));
  }
}
