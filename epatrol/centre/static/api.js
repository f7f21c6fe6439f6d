// Calls to the centre's API, and what a refusal says to the person holding the phone: every error
// in Chinese and English, never a bare HTTP status (the server's own detail follows in brackets).

export class ApiError extends Error {
  constructor(status, message, detail) { super(message); this.status = status; this.detail = detail; }
}

// By status: what happened and what to do, for people who never saw "409".
const SAYS = {
  400: "请求有误 The request was refused",
  401: "登录已失效，请重新登录 Your sign-in has expired; sign in again",
  403: "无权进行此操作 You are not allowed to do this",
  404: "找不到该案件或资料（可能不属于本部门） Not found, or not your department's",
  409: "案件状态已变化，请刷新后再试 The case has changed meanwhile; refresh and try again",
  413: "文件太大 The file is too large",
  422: "填写内容有误 Something in the form is not accepted",
  429: "尝试次数过多，请稍后再试 Too many tries; wait a while and try again",
};
const SERVER = "指挥中心暂时出错，请稍后重试 The centre had a problem; try again in a moment";
const OFFLINE = "无法连接指挥中心，请检查网络后重试 Cannot reach the centre; check the network and try again";

// The server's English details that a handler meets in the street, in Chinese as well.
const DETAILS = [
  [/^photo: must be one of/, "照片须为 JPEG 或 PNG 格式 The photo must be a JPEG or PNG"],
  [/^photo: the bytes are not/, "照片文件已损坏或格式不符 The photo file is damaged or not what it claims"],
  [/^photo: .* over the limit/, "照片太大 The photo is too large"],
  [/^note: /, "请填写处置情况 Say what was done"],
  [/only a dispatched case/, "该案件已不在待处置状态 The case is no longer waiting to be handled"],
];

export function explain(status, detail) {
  const known = DETAILS.find(([re]) => re.test(detail || ""));
  if (known) return known[1];
  const head = SAYS[status] || (status >= 500 ? SERVER : SAYS[400]);
  return detail && status < 500 ? `${head}（${detail}）` : head;
}

export async function api(method, path, { json, form, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (json !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(json); }
  if (form !== undefined) init.body = form;
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new ApiError(0, OFFLINE, null);  // no answer at all: offline, or the centre is down
  }
  if (!resp.ok) {
    let detail = null;
    try { const b = await resp.json(); if (b.detail) detail = typeof b.detail === "string" ? b.detail : JSON.stringify(b.detail); } catch { /* no body */ }
    throw new ApiError(resp.status, explain(resp.status, detail), detail);
  }
  return resp.status === 204 ? null : resp.json();
}
