// Messages to the officer: API refusals (kept until closed) and short confirmations of what just
// happened. Both float over the page (they never push the desk down). A refusal reads in both
// languages: what kind of refusal it is (Chinese and English, from its HTTP status, which itself
// is not shown; it stays in data-status) and the API's own words.

import { ApiError } from "./api.js";
import { $, h } from "./dom.js";
import { t } from "./i18n.js";

const MAX_ERRORS = 4;

const KINDS = {
  0: ["网络错误，服务器无响应", "Network error: the server does not answer"],
  400: ["请求有误", "The request is malformed"],
  401: ["登录已失效，请重新登录", "Your sign-in has ended; sign in again"],
  403: ["没有权限执行此操作", "Your role does not allow this"],
  404: ["找不到该记录", "Not found"],
  409: ["当前状态不允许此操作", "Not allowed in its current state"],
  410: ["证据文件已不在存储中", "The evidence file is missing from storage"],
  413: ["内容过大", "Too large"],
  416: ["无法读取该片段范围", "That part of the file cannot be read"],
  422: ["输入有误", "Invalid input"],
  429: ["尝试过于频繁，请稍后再试", "Too many attempts; try again later"],
  503: ["服务暂时不可用", "The service is unavailable for now"],
};

/** "中文 English" for a refusal's status (what the officer reads instead of a number). */
export function kindOf(err) {
  if (!(err instanceof ApiError)) return t("error");
  const k = KINDS[err.status] || (err.status >= 500 ? ["服务器出错", "Server error"] : ["出错了", "Error"]);
  return `${k[0]} ${k[1]}`;
}

/** Show an error; `what` says which action failed ("确认 Confirm #12"). */
export function showError(err, what = "") {
  const box = $("#errors");
  const message = err instanceof ApiError ? err.detail : String(err && err.message ? err.message : err);
  const item = h(
    "div",
    { class: "error", role: "alert", dataset: { status: err instanceof ApiError ? err.status : "" } },
    h("strong", {}, what ? `${what} · ` : "", kindOf(err)),
    h("span", { class: "error-detail" }, message),
    h("button", { type: "button", class: "error-close", "aria-label": t("close"), onclick: () => item.remove() }, "×"),
  );
  box.prepend(item);
  while (box.children.length > MAX_ERRORS) box.lastElementChild.remove();
  if (!err || !(err instanceof ApiError)) console.error(err);
}

export function clearErrors() {
  $("#errors").replaceChildren();
}

let noticeTimer = 0;

/** A short confirmation that clears itself. */
export function showNotice(text) {
  const el = $("#notice");
  el.textContent = text;
  el.classList.add("shown");
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.textContent = "";
    el.classList.remove("shown");
  }, 4000);
}
