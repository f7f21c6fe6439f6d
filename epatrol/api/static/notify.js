// Messages to the officer: API refusals (kept until closed, with the API's own words) and
// short confirmations of what just happened.

import { ApiError } from "./api.js";
import { $, h } from "./dom.js";
import { t } from "./i18n.js";

const MAX_ERRORS = 4;

/** Show an error; `what` says which action failed ("确认 Confirm #12"). */
export function showError(err, what = "") {
  const box = $("#errors");
  const status = err instanceof ApiError && err.status ? ` (HTTP ${err.status})` : "";
  const title = err instanceof ApiError && err.status === 0 ? t("network_error") : t("error");
  const message = err instanceof ApiError ? err.detail : String(err && err.message ? err.message : err);
  const item = h(
    "div",
    { class: "error", role: "alert", dataset: { status: err instanceof ApiError ? err.status : "" } },
    h("strong", {}, `${title}${status}`, what ? ` · ${what}` : ""),
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
  }, 5000);
}
