// The centre's page: sign in, the cases of one's part, dispatch (dispatcher), report handled
// with a photo (department handler), statistics with a chart and exports. Plain modules, no
// build step; the session is the HttpOnly cookie set by login. The same page serves a handler's
// phone: below 700 px the list becomes cards and an opened case takes the whole screen.

import { api } from "./api.js";

const $ = (sel) => document.querySelector(sel);

const STATES = { filed: "已立案 Filed", dispatched: "已派遣 Dispatched", reinspecting: "核查中 Re-inspecting", closed: "已结案 Closed" };
const VIOLATIONS = {
  parked_bikes: "非机动车乱停放 Parked bikes", open_burning: "露天焚烧 Open burning",
  street_vending: "占道经营 Street vending", overflowing_bins: "垃圾满溢 Overflowing bins",
};
const ROLES = { dispatcher: "调度员 Dispatcher", handler: "部门处置员 Handler", street_chief: "街长 Street chief", admin: "管理员 Admin" };
const ACTIONS = {
  "case.file": "立案 Filed", "case.dispatch": "派遣 Dispatched", "case.remind": "提醒 Reminded",
  "case.escalate": "超期升级 Escalated", "case.handle": "处置 Handled", "case.reinspect": "核查请求 Re-inspection asked",
  "case.reinspect_again": "再次核查 Asked again", "case.reopen": "回头看未通过 Reopened", "case.close": "结案 Closed",
};
const BY_LABEL = { street: "街道 Street", grid: "网格 Grid", department: "部门 Department", violation: "违规类型 Violation" };

let me = null;
let departments = {};
let current = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function showError(e) {
  $("#errors").textContent = e ? (e.message || String(e)) : "";
  if (e && e.status === 401 && me) signedOut();
  if (e) $("#errors").scrollIntoView({ block: "nearest" });
}

// The session ran out (8 h, or revoked) while the page was open: back to the sign-in form.
function signedOut() {
  me = null;
  $("#app-view").hidden = true;
  $("#topbar-tools").hidden = true;
  $("#login-view").hidden = false;
  $("#login-error").textContent = $("#errors").textContent;
}

function notice(text) {
  $("#notice").textContent = text;
  if (text) $("#notice").scrollIntoView({ block: "nearest" });
}

const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "—");
const dept = (code) => { const d = departments[code]; return d ? `${d.name}${d.name_en ? " " + d.name_en : ""}` : code; };
// A district-defined label ({zh, en}) when the case carries one, else the built-in name.
const violationName = (c) => (c.violation_label ? [c.violation_label.zh, c.violation_label.en].filter(Boolean).join(" ")
  : VIOLATIONS[c.violation] || c.violation);
const duration = (s) => (s === null || s === undefined ? "—" : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`);

// -- sign-in --------------------------------------------------------------------------------

async function start() {
  try {
    me = await api("GET", "/api/auth/me");
  } catch (e) {
    if (e.status !== 401) $("#errors").textContent = e.message;
    $("#login-view").hidden = false;
    return;
  }
  await enter().catch(showError);
}

async function enter() {
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#topbar-tools").hidden = false;
  const bound = me.department ? ` · ${dept(me.department)}` : me.street ? ` · ${me.street}` : "";
  $("#who").textContent = `${me.username} (${ROLES[me.role] || me.role}${bound})`;
  const d = await api("GET", "/api/departments");
  departments = Object.fromEntries(d.departments.map((x) => [x.code, x]));
  if (departments[me.department]) $("#who").textContent = `${me.username} (${ROLES[me.role]} · ${dept(me.department)})`;
  const now = new Date();
  $("#stats-month").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  if (me.role === "handler") $("#f-state").value = "dispatched";  // a handler's list is what waits for them
  await loadCases();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const r = await api("POST", "/api/auth/login", { json: { username: $("#login-username").value, password: $("#login-password").value } });
    me = r.user;
    $("#login-password").value = "";
  } catch (e) {
    $("#login-error").textContent = e.status === 401 ? "用户名或密码错误 Wrong username or password" : e.message;
    return;
  }
  $("#login-error").textContent = "";
  $("#errors").textContent = "";
  await enter().catch(showError);
});

$("#logout-button").addEventListener("click", async () => {
  await api("POST", "/api/auth/logout").catch(() => {});
  location.reload();
});

// -- cases ----------------------------------------------------------------------------------

async function loadCases() {
  showError(null);
  try {
    const r = await api("GET", "/api/cases", { query: { state: $("#f-state").value, overdue: $("#f-overdue").checked ? "true" : "" } });
    $("#case-summary").textContent = `共 ${r.total} 件 ${r.total} case(s)`;
    const body = $("#case-list");
    body.replaceChildren();
    for (const c of r.items) {
      // data-label: the column's name, shown beside the value when the rows become cards on a phone
      const due = el("td", { "data-label": "期限 Due", text: c.state === "dispatched" ? when(c.due_at) : "—" });
      if (c.overdue) due.append(" ", el("span", { class: "badge late", text: `超期 Overdue${c.escalation_level ? " L" + c.escalation_level : ""}` }));
      const row = el("tr", { "data-case": String(c.id), tabindex: "0", class: current === c.id ? "selected" : "" },
        el("td", { class: "case-no", text: `#${c.id}` }),
        el("td", { class: "case-state" }, el("span", { class: `badge ${c.state}`, text: STATES[c.state] || c.state })),
        el("td", { class: "case-violation", text: violationName(c) }),
        el("td", { "data-label": "街道 Street", text: c.street || "—" }), el("td", { "data-label": "网格 Grid", text: c.grid || "—" }),
        el("td", { "data-label": "部门 Depts", text: c.departments.map((d) => d.name).join("、") || "—" }), due);
      row.addEventListener("click", () => openCase(c.id));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") openCase(c.id); });
      body.append(row);
    }
  } catch (e) { showError(e); }
}

$("#case-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadCases(); });

async function openCase(id) {
  showError(null);
  try {
    render(await api("GET", `/api/cases/${id}`));
  } catch (e) { showError(e); return; }
  $("#cases-view").classList.add("reading");  // on a phone: the case alone, with a way back
  if (matchMedia("(max-width: 700px)").matches) $("#case-detail").scrollIntoView({ block: "start" });
  $("#case-detail").focus({ preventScroll: true });
}

$("#case-back").addEventListener("click", () => {
  $("#cases-view").classList.remove("reading");
  const row = document.querySelector(`#case-list tr[data-case="${current}"]`);
  if (row) { row.scrollIntoView({ block: "center" }); row.focus(); }
});

// Time left to the deadline, or how late it is, in words.
function dueText(c) {
  if (!c.due_at) return "—";
  const left = (Date.parse(c.due_at) - Date.now()) / 1000;
  if (c.state !== "dispatched") return when(c.due_at);
  return left > 0 ? `${when(c.due_at)} · 剩余 ${duration(left)} left` : `${when(c.due_at)} · 已超期 ${duration(-left)} overdue`;
}

// 门前三包: the unit answering for the spot, when the case names one; a phone number can be dialled.
function responsibleNode(r) {
  const dd = el("dd", {}, r.name || "—");
  if (r.contact) {
    const tel = /^\+?[\d\s()-]{5,}$/.test(r.contact) ? el("a", { href: `tel:${r.contact.replace(/[\s()-]/g, "")}`, text: r.contact }) : r.contact;
    dd.append(" · ", tel);
  }
  if (r.licence) dd.append(" · ", el("span", { class: "hint", text: `执照 Licence ${r.licence}` }));
  return dd;
}

// The event's clip and snapshot: shown where the centre serves them, else listed with their state.
const EVIDENCE_STATES = { verified: "已校验 verified", pending: "接收中 arriving", corrupt: "校验失败 corrupt", missing: "缺失 missing" };
function renderEvidence(c) {
  const files = (c.event && c.event.evidence) || [];
  const box = $("#case-evidence");
  box.hidden = !files.length;
  box.replaceChildren(...files.map((f) => {
    const name = f.kind === "clip" ? "视频 Clip" : f.kind === "snapshot" ? "截图 Snapshot" : f.kind;
    const said = el("p", { class: "hint", text: `${name} · ${EVIDENCE_STATES[f.state] || f.state}` });
    if (!f.url || !["snapshot", "clip"].includes(f.kind)) return said;
    const media = f.kind === "snapshot" ? el("img", { src: f.url, alt: `${name} ${f.sha256.slice(0, 12)}` })
      : el("video", { src: f.url, controls: "", preload: "metadata", playsinline: "" });
    const fig = el("figure", { "data-kind": f.kind }, media, el("figcaption", { text: name }));
    // verified, but this centre keeps no copy (no evidence_dir): say so instead of a broken image
    media.addEventListener("error", () => fig.replaceWith(el("p", { class: "hint", text: `${name} · 未在中心保存副本 no copy kept at the centre` })));
    return fig;
  }));
}

function render(c) {
  current = c.id;
  for (const tr of document.querySelectorAll("#case-list tr")) tr.classList.toggle("selected", tr.dataset.case === String(c.id));
  $("#case-empty").hidden = true;
  $("#case-body").hidden = false;
  $("#case-heading").textContent = `案件 Case #${c.id} · ${STATES[c.state]}`;
  const facts = [
    ["违规 Violation", violationName(c)], ["街道 Street", c.street || "—"], ["网格 Grid", c.grid || "—"],
    ["点位 Camera", `${c.event ? c.event.camera_name : c.camera} · ${c.zone} (${c.box})`],
    ["发现 Detected", when(c.event && c.event.onset)], ["立案 Filed", when(c.filed_at)],
    ["派遣 Dispatched", c.dispatched_at ? `${when(c.dispatched_at)} · ${c.dispatched_by}` : "—"],
    ["责任部门 Departments", c.departments.map((d) => `${d.name}${d.lead ? "（牵头 lead）" : ""}`).join("、") || "—"],
    ["处置期限 Due", dueText(c)],
    ["回头看次数 Reopened", String(c.reopen_count)], ["结案 Closed", when(c.closed_at)],
  ];
  if (c.recurrence_of) facts.push(["重复发生 Recurrence of", `#${c.recurrence_of}`]);
  const rows = facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]);
  if (c.responsible) rows.splice(8, 0, el("dt", { text: "门前三包责任单位 Responsible unit" }), responsibleNode(c.responsible));
  $("#case-facts").replaceChildren(...rows);
  renderEvidence(c);

  const canDispatch = me.role === "dispatcher" && c.state === "filed";
  $("#dispatch-form").hidden = !canDispatch;
  if (canDispatch) {
    const box = $("#dispatch-departments");
    box.querySelectorAll("label").forEach((n) => n.remove());
    for (const code of Object.keys(departments)) {
      const input = el("input", { type: "checkbox", value: code, id: `dispatch-${code}` });
      input.checked = c.suggested_departments.includes(code);
      box.append(el("label", { for: `dispatch-${code}` }, input, " ", dept(code)));
    }
  }
  $("#handle-form").hidden = !(me.role === "handler" && c.state === "dispatched");
  $("#handle-error").textContent = "";

  $("#case-handlings").replaceChildren(...(c.handlings.length ? c.handlings.map((h) => el("li", {},
    el("div", { text: `${when(h.at)} · ${dept(h.department)} · ${h.by}: ${h.note}` }),
    el("img", { src: `/api/cases/${c.id}/photos/${h.photo_sha256}`, alt: `处置照片 photo ${h.photo_sha256.slice(0, 12)}`, class: "photo" }),
    el("code", { class: "hash", text: `SHA-256 ${h.photo_sha256}` }))) : [el("li", { class: "empty", text: "暂无 None yet" })]));
  const INSPECT = { requested: "已请求 asked", sent: "已下发 sent", clean: "已消除 clear", violating: "仍存在 still there", unavailable: "无法核查 unavailable" };
  $("#case-inspections").replaceChildren(...(c.inspections.length ? c.inspections.map((i) => el("li", {
    text: `${when(i.requested_at)} · ${INSPECT[i.state] || i.state}${i.observed_at ? " · 观察 seen " + when(i.observed_at) : ""}${i.closed_case ? " · 据此结案 closed the case" : ""}`,
  })) : [el("li", { class: "empty", text: "暂无 None yet" })]));
  $("#case-trail").replaceChildren(...c.trail.map((e) => el("li", { text: `${when(e.at)} · ${ACTIONS[e.action] || e.action} · ${e.actor}` })));
}

$("#dispatch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const codes = [...document.querySelectorAll("#dispatch-departments input:checked")].map((i) => i.value);
  if (!codes.length) { showError(new Error("请选择部门 Pick at least one department")); return; }
  try {
    render(await api("POST", `/api/cases/${current}/dispatch`, { json: { departments: codes, note: $("#dispatch-note").value || null } }));
    notice(`案件 #${current} 已派遣 dispatched`);
    await loadCases();
  } catch (e) { showError(e); }
});

// The photo as taken, shown before it is sent; a phone's HEIC is refused here, before the upload.
function photoProblem(file) {
  if (!file) return "请拍摄或选择一张现场照片 Take or pick a photo of the place";
  if (!["image/jpeg", "image/png"].includes(file.type)) {
    return "照片须为 JPEG 或 PNG（iPhone：设置 › 相机 › 格式 › 兼容性最佳） The photo must be a JPEG or PNG (iPhone: Settings › Camera › Formats › Most Compatible)";
  }
  return null;
}

$("#handle-photo").addEventListener("change", () => {
  const file = $("#handle-photo").files[0];
  const img = $("#handle-preview");
  if (img.src) URL.revokeObjectURL(img.src);
  const problem = file ? photoProblem(file) : null;
  $("#handle-error").textContent = problem || "";
  img.hidden = !file || !!problem;
  if (file && !problem) img.src = URL.createObjectURL(file);
});

$("#handle-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("#handle-photo").files[0];
  const problem = photoProblem(file) || (!$("#handle-note").value.trim() ? "请填写处置情况 Say what was done" : null);
  $("#handle-error").textContent = problem || "";
  if (problem) return;
  const form = new FormData();
  form.append("note", $("#handle-note").value);
  form.append("photo", file);
  const button = $("#handle-submit");
  button.disabled = true;  // a slow upload on a phone must not be sent twice
  button.textContent = "上传中… Sending…";
  try {
    const id = current;
    render(await api("POST", `/api/cases/${id}/handle`, { form }));
    $("#handle-note").value = "";
    $("#handle-photo").value = "";
    $("#handle-preview").hidden = true;
    notice(`案件 #${id} 已处置，等待摄像头核查 Case #${id} handled; waiting for the camera's re-inspection`);
    await loadCases();
  } catch (e) {
    $("#handle-error").textContent = e.message;
    if (e.status === 401) showError(e);
  } finally {
    button.disabled = false;
    button.textContent = "提交处置 Report handled";
  }
});

// -- statistics -----------------------------------------------------------------------------

function monthQuery() {
  return `month=${encodeURIComponent($("#stats-month").value)}`;
}

async function loadStats() {
  showError(null);
  const by = $("#stats-by").value;
  const month = $("#stats-month").value;
  $("#stats-csv").href = `/api/stats.csv?by=${by}&${monthQuery()}`;
  $("#stats-xlsx").href = `/api/reports/monthly.xlsx?${monthQuery()}`;
  $("#stats-report").href = `/api/reports/monthly?${monthQuery()}`;
  try {
    const r = await api("GET", "/api/reports/monthly", { query: { month } });
    const rows = r[`by_${by}`];
    $("#stats-key").textContent = BY_LABEL[by];
    $("#stats-summary").textContent = `${month}: 案件 ${r.totals.cases} cases · 已结 ${r.totals.closed} closed · 超期 ${r.totals.overdue} overdue`;
    const label = (k) => (by === "violation" ? VIOLATIONS[k] || k : by === "department" ? dept(k) : k);
    $("#stats-rows").replaceChildren(...rows.map((x) => el("tr", {},
      el("th", { scope: "row", text: label(x.key) }), el("td", { text: x.cases }), el("td", { text: x.open }),
      el("td", { text: x.closed }), el("td", { text: x.overdue }), el("td", { text: x.reopened }),
      el("td", { text: x.recurrences }), el("td", { text: duration(x.mean_dispatch_s) }),
      el("td", { text: duration(x.mean_close_s) }),
      el("td", { text: x.close_rate === null ? "—" : `${Math.round(x.close_rate * 100)}%` }))));
    const shortLabel = (k) => (by === "department" && departments[k] ? departments[k].name : String(label(k)).split(" ")[0]).slice(0, 12);
    chart(rows, label, shortLabel);
  } catch (e) { showError(e); }
}

// A grouped bar chart in inline SVG: cases and closed per key.
function chart(rows, label, shortLabel) {
  const svg = $("#stats-chart");
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, H = 240, left = 40, bottom = 50, top = 30;
  const max = Math.max(1, ...rows.map((r) => r.cases));
  const band = rows.length ? (W - left - 10) / rows.length : 0;
  const bar = Math.min(28, band / 3);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const shape = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const parts = [shape("line", { x1: left, y1: H - bottom, x2: W - 5, y2: H - bottom, class: "axis" }),
    shape("text", { x: left - 6, y: y(max) + 4, "text-anchor": "end", class: "tick" }, String(max)),
    shape("text", { x: left - 6, y: H - bottom + 4, "text-anchor": "end", class: "tick" }, "0")];
  rows.forEach((r, i) => {
    const x0 = left + i * band + band / 2 - bar;
    for (const [j, key] of [[0, "cases"], [1, "closed"]]) {
      const b = shape("rect", { x: x0 + j * bar, y: y(r[key]), width: bar - 2, height: H - bottom - y(r[key]), class: `bar ${key}`, "data-key": r.key });
      b.append(shape("title", {}, `${label(r.key)}: ${key === "cases" ? "案件 cases" : "已结 closed"} ${r[key]}`));
      parts.push(b);
    }
    parts.push(shape("text", { x: x0 + bar, y: H - bottom + 16, "text-anchor": "middle", class: "tick" }, shortLabel(r.key)));
  });
  parts.push(shape("rect", { x: left, y: 4, width: 10, height: 10, class: "bar cases" }),
    shape("text", { x: left + 14, y: 13, class: "tick" }, "案件 cases"),
    shape("rect", { x: left + 100, y: 4, width: 10, height: 10, class: "bar closed" }),
    shape("text", { x: left + 114, y: 13, class: "tick" }, "已结 closed"));
  svg.replaceChildren(...parts);
}

$("#stats-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadStats(); });

// -- tabs -----------------------------------------------------------------------------------

function selectTab(name) {
  for (const t of ["cases", "stats"]) {
    $(`#tab-${t}`).setAttribute("aria-selected", String(t === name));
    $(`#${t}-view`).hidden = t !== name;
  }
  if (name === "stats") loadStats(); else loadCases();
}

$("#tab-cases").addEventListener("click", () => selectTab("cases"));
$("#tab-stats").addEventListener("click", () => selectTab("stats"));

start();
