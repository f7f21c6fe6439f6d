// How times, durations and hashes are shown. The API gives every time twice: UTC and
// `*_local` in the configured zone with its offset; officers read the local one.

/** "2026-11-26T02:01:31.865801+08:00" -> "2026-11-26 02:01:31 UTC+08:00". */
export function localTime(iso) {
  if (!iso) return "—";
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) return iso;
  const offset = m[3] === "Z" ? "+00:00" : m[3];
  return `${m[1]} ${m[2]} UTC${offset}`;
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

/** The browser's own UTC offset, e.g. "UTC+08:00" (date filters are typed in it). */
export function browserOffset(date = new Date()) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** A <input type="datetime-local"> value (browser time) as ISO 8601 with an offset, or "". */
export function toIsoWithOffset(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
