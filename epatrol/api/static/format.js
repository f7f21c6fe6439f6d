// How times, durations and hashes are shown. The API gives every time twice: UTC and `*_local`
// in the box's zone (review.timezone, else the box's own) with its offset. The page shows one
// zone, the box's: named once in the top bar, so each time reads "2026-11-26 02:01:31"; a time
// whose offset differs (the other side of a DST change) keeps its "UTC+hh:mm". Date filters are
// typed in the same zone.

let pageOffset = null; // "+08:00": the box zone's offset now (GET /api/events/review-settings)

export function setPageOffset(offset) {
  pageOffset = offset;
}

/** "2026-11-26T02:01:31.865801+08:00" -> "2026-11-26 02:01:31" (+ " UTC+08:00" off the page's zone). */
export function localTime(iso) {
  if (!iso) return "—";
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) return iso;
  const offset = m[3] === "Z" ? "+00:00" : m[3];
  return offset === pageOffset ? `${m[1]} ${m[2]}` : `${m[1]} ${m[2]} UTC${offset}`;
}

/** Seconds as "2 分 5 秒 (125 s)". */
export function duration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(Number(seconds))) return "—";
  const s = Math.round(Number(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const zh = (hours ? `${hours} 小时 ` : "") + (hours || minutes ? `${minutes} 分 ` : "") + `${rest} 秒`;
  return `${zh} (${Number(seconds)} s)`;
}

export const shortHash = (hex) => (hex ? `${hex.slice(0, 12)}…` : "—");

/** The browser's own UTC offset, e.g. "+08:00" (until the box's zone is known). */
export function browserOffset(date = new Date()) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** A <input type="datetime-local"> value, read in the page's zone, as ISO 8601 with its offset, or "". */
export function toIsoWithOffset(value) {
  if (!value) return "";
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return "";
  return `${value.length === 16 ? `${value}:00` : value}${pageOffset || browserOffset()}`;
}
