// The evidence overlay drawn by the page over a snapshot: the event's zone (details.overlay.zone,
// its polygon in 0..1 of the frame) and its detection boxes (pixels of the frame), in SVG, so the
// same drawing scales with the image at any size and can be switched off to see a clean frame.

import { svg } from "./dom.js";
import { objectName } from "./i18n.js";

const COLOURS = ["#ff3b30", "#0a84ff", "#34c759", "#ff9f0a", "#bf5af2", "#64d2ff"];
const ZONE = "#ffd60a";

const LABEL_PX = 14; // labels stay this size on screen however small or large the image is shown

/** Draw `ev`'s overlay into `layer` (an <svg>) for a frame of w x hgt pixels shown `shown` px wide;
 *  `zone`: draw the zone too. */
export function drawOverlay(layer, ev, w, hgt, shown, zone = true) {
  layer.replaceChildren();
  if (!ev || !w || !hgt || !shown) return;
  layer.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  const font = Math.round(LABEL_PX * (w / shown));
  const poly = zone && ev.details && ev.details.overlay && ev.details.overlay.zone;
  if (poly && Array.isArray(poly.polygon) && poly.polygon.length > 2) {
    const points = poly.polygon.map(([x, y]) => `${x * w},${y * hgt}`).join(" ");
    const top = poly.polygon.reduce((a, b) => (b[1] < a[1] ? b : a));
    layer.append(
      svg("polygon", { points, fill: ZONE, "fill-opacity": 0.12, stroke: ZONE, "stroke-width": 2, "vector-effect": "non-scaling-stroke", class: "zone" }),
      svg("text", { x: Math.max(2, top[0] * w + 4), y: Math.max(font, top[1] * hgt - 4), fill: ZONE, "font-size": font,
        "paint-order": "stroke", stroke: "#000", "stroke-width": Math.max(2, font / 6), class: "box-label zone-label" }, poly.name || ""),
    );
  }
  ev.detections.forEach((d, i) => {
    const [x1, y1, x2, y2] = d.xyxy;
    const colour = COLOURS[i % COLOURS.length];
    const label = `${objectName(d.label)} ${Number(d.confidence).toFixed(2)}`;
    const ty = y2 + font + 4 <= hgt ? y2 + font + 2 : Math.max(font, y1 - 4);
    layer.append(
      svg("rect", {
        x: x1, y: y1, width: Math.max(1, x2 - x1), height: Math.max(1, y2 - y1),
        fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": "8 4",
        "vector-effect": "non-scaling-stroke", class: "box",
      }),
      svg("text", {
        x: Math.max(2, Math.min(x1, w - textWidth(label, font))), y: ty, fill: colour, "font-size": font,
        "paint-order": "stroke", stroke: "#000", "stroke-width": Math.max(2, font / 6), class: "box-label",
      }, label),
    );
  });
}

/** About how wide a label is drawn: CJK characters are a full em, the rest about half. */
function textWidth(text, font) {
  let ems = 0;
  for (const ch of text) ems += ch.codePointAt(0) > 0x2e80 ? 1 : 0.6;
  return ems * font + 4;
}

/** The clean frame's URL when the event has one (newer events), else null: the burnt-in snapshot is shown. */
export function cleanFrameUrl(ev) {
  return ev.details && ev.details.snapshot_clean && ev.snapshot_url ? `/api/events/${ev.id}/frame` : null;
}
