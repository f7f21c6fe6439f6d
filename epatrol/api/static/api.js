// The review API, over fetch. The session is the HttpOnly cookie set by login, so every
// same-origin request (and the <video>/<img> elements) is signed in without handling the token.
// Every refusal becomes an ApiError carrying the API's own `detail` message.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function detailOf(resp) {
  const text = await resp.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    if (typeof body.detail === "string") return body.detail;
    if (body.detail !== undefined) return JSON.stringify(body.detail);
  } catch {
    /* not JSON: fall through to the raw text */
  }
  return text.trim().slice(0, 500) || `${resp.status} ${resp.statusText}`;
}

async function send(method, path, { json, query, headers } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, `${e.message || e}`);
  }
  if (!resp.ok) throw new ApiError(resp.status, await detailOf(resp));
  return resp;
}

async function json(method, path, opts) {
  const resp = await send(method, path, opts);
  return resp.status === 204 ? null : resp.json();
}

function filenameOf(resp, fallback) {
  const cd = resp.headers.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(cd);
  return plain ? plain[1] : fallback;
}

export const api = {
  login: (username, password) => json("POST", "/api/auth/login", { json: { username, password } }),
  logout: () => json("POST", "/api/auth/logout"),
  me: () => json("GET", "/api/auth/me"),

  cameras: () => json("GET", "/api/cameras"),
  events: (query) => json("GET", "/api/events", { query }),
  event: (id) => json("GET", `/api/events/${id}`),
  decide(id, decision, reason, note) {
    const body = { decision };
    if (reason) body.reason = reason;
    if (note) body.note = note;
    return json("POST", `/api/events/${id}/review`, { json: body });
  },
  decideGroup(ids, decision, reason, note) {
    const body = { event_ids: ids, decision };
    if (reason) body.reason = reason;
    if (note) body.note = note;
    return json("POST", "/api/events/review", { json: body });
  },
  reviewSettings: () => json("GET", "/api/events/review-settings"),
  /** The camera's newest judged frame (JPEG) and when it was taken (local time). */
  async liveFrame(camera) {
    const resp = await send("GET", `/api/cameras/${encodeURIComponent(camera)}/live`, { headers: { Accept: "image/jpeg" } });
    return { blob: await resp.blob(), takenAt: resp.headers.get("X-Taken-At-Local") };
  },

  cases: (query) => json("GET", "/api/cases", { query }),
  caseGet: (id) => json("GET", `/api/cases/${id}`),
  caseCreate: (title, note) => json("POST", "/api/cases", { json: note ? { title, note } : { title } }),
  caseAddEvent: (id, eventId) => json("POST", `/api/cases/${id}/events`, { json: { event_id: eventId } }),
  caseNote: (id, text) => json("POST", `/api/cases/${id}/notes`, { json: { text } }),
  caseClose: (id, note) => json("POST", `/api/cases/${id}/close`, { json: note ? { note } : {} }),

  /** The case package as a Blob and its file name (the server's Content-Disposition). */
  async caseExport(id) {
    const resp = await send("GET", `/api/cases/${id}/export`);
    return { blob: await resp.blob(), filename: filenameOf(resp, `case-${id}.zip`) };
  },

  /** Why a media URL fails (a <video> error says nothing): the API's message for a 1-byte Range. */
  async mediaProblem(url) {
    try {
      const resp = await send("GET", url, { headers: { Range: "bytes=0-0" } });
      await resp.body?.cancel();
      return null;
    } catch (e) {
      return e instanceof ApiError ? e : new ApiError(0, String(e));
    }
  },
};
