// Bilingual labels: Chinese first (officers read Chinese), English after.
// t(key) gives "中文 English"; elements with data-t / data-t-aria / data-t-title /
// data-t-placeholder get their text filled by applyLabels().

const LABELS = {
  app_title: ["电子巡查 · 违规事件审核", "epatrol review"],
  sign_in: ["登录", "Sign in"],
  sign_out: ["退出", "Sign out"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  signed_in_as: ["当前用户", "Signed in as"],
  login_failed: ["登录失败", "Sign-in failed"],
  role_viewer: ["只读", "viewer"],
  role_officer: ["执法队员", "officer"],
  role_admin: ["管理员", "admin"],

  queue: ["待审事件", "Event queue"],
  filters: ["筛选", "Filters"],
  camera: ["摄像头", "Camera"],
  violation: ["违规类型", "Violation"],
  site: ["场所", "Site"],
  zone: ["区域", "Zone"],
  review_state: ["审核状态", "Review state"],
  since: ["起始", "From"],
  until: ["截止", "Until"],
  any: ["全部", "Any"],
  apply: ["查询", "Apply"],
  reset: ["重置", "Reset"],
  refresh: ["刷新", "Refresh"],
  prev_page: ["上一页", "Previous page"],
  next_page: ["下一页", "Next page"],
  no_events: ["没有符合条件的事件", "No events match"],
  loading: ["加载中…", "Loading…"],

  event: ["事件", "Event"],
  skip_to_event: ["跳到事件", "Skip to the event"],
  pick_event: ["请从左侧队列选择事件", "Pick an event from the queue"],
  clip: ["视频片段", "Clip"],
  snapshot: ["抓拍图", "Snapshot"],
  show_boxes: ["显示检测框", "Show detection boxes"],
  no_clip: ["无视频片段", "No clip"],
  no_snapshot: ["无抓拍图", "No snapshot"],
  clip_state_recording: ["录制中", "still recording"],
  clip_state_failed: ["录制失败", "recording failed"],
  clip_state_partial: ["录制中断，仅含中断前的画面", "partial: recording cut off, plays up to the cut"],
  camera_name: ["摄像头", "Camera"],
  started_at: ["开始时间", "Onset"],
  alerted_at: ["告警时间", "Alerted"],
  ended_at: ["结束时间", "Ended"],
  end_reason: ["结束原因", "End reason"],
  ongoing: ["进行中", "ongoing"],
  dwell: ["停留时长", "Dwell"],
  count: ["数量", "Count"],
  detections: ["检测结果", "Detections"],
  model: ["模型", "Model"],
  clip_sha256: ["视频校验值", "Clip SHA-256"],
  snapshot_sha256: ["抓拍校验值", "Snapshot SHA-256"],
  cases_of_event: ["所属案件", "Cases"],
  none: ["无", "none"],
  history: ["审核记录", "Review history"],
  no_history: ["尚无审核记录", "No decisions yet"],
  reason: ["原因", "Reason"],
  note: ["备注", "Note"],
  by: ["操作人", "By"],

  confirm: ["确认", "Confirm"],
  dismiss: ["驳回", "Dismiss"],
  next: ["下一条", "Next"],
  previous: ["上一条", "Previous"],
  play_pause: ["播放/暂停", "Play/Pause"],
  shortcuts: ["快捷键", "Shortcuts"],
  close: ["关闭", "Close"],
  cancel: ["取消", "Cancel"],
  dismiss_title: ["驳回事件", "Dismiss event"],
  dismiss_reason_hint: ["请说明驳回原因（必填）", "Why is this not a violation? (required)"],
  confirmed_msg: ["已确认", "Confirmed"],
  dismissed_msg: ["已驳回", "Dismissed"],

  cases: ["案件", "Cases"],
  new_case: ["新建案件", "New case"],
  case_title: ["案件标题", "Case title"],
  first_note: ["首条备注（可选）", "First note (optional)"],
  create: ["创建", "Create"],
  add_to_case: ["加入案件", "Add to case"],
  choose_case: ["选择案件", "Choose a case"],
  only_confirmed: ["只有已确认的事件可加入案件", "Only confirmed events can be added to a case"],
  no_open_cases: ["没有进行中的案件，请先新建", "No open case; create one first"],
  case_list: ["案件列表", "Case list"],
  no_cases: ["暂无案件", "No cases yet"],
  status: ["状态", "Status"],
  open: ["进行中", "open"],
  closed: ["已结案", "closed"],
  created: ["创建", "Created"],
  case_events: ["案件事件", "Events in the case"],
  no_case_events: ["案件中还没有事件", "No events in this case yet"],
  notes: ["备注", "Notes"],
  no_notes: ["暂无备注", "No notes"],
  add_note: ["添加备注", "Add note"],
  close_case: ["结案", "Close case"],
  close_case_ask: ["结案后案件不可再修改。结案备注（可选）：", "A closed case cannot change. Closing note (optional):"],
  export: ["导出证据包", "Download export (zip)"],
  exporting: ["正在导出…", "Exporting…"],
  exported: ["已下载", "Downloaded"],
  open_event: ["打开", "Open"],

  all_reviewed: ["本页待审事件已全部处理", "Every pending event here is decided"],
  times_in: ["时区", "Times in"],
  dismiss_keys_hint: ["按数字键直接以该原因驳回；Enter 驳回所选；Esc 取消", "A digit dismisses with that reason; Enter dismisses with the selected one; Esc cancels"],
  other_reason: ["其他（请填写原因）", "Other (type the reason)"],
  other_reason_needed: ["请填写驳回原因", "Type the reason for the dismissal"],
  group: ["同组", "Group"],
  group_hint: ["同一摄像头、区域和违规类型的待审事件", "pending events of the same camera, zone and violation"],
  group_mode: ["整组审核", "Decide the whole group"],
  group_on: ["下一次确认/驳回将作用于整组", "the next confirm or dismiss applies to the whole group"],
  group_done: ["整组已处理", "Group decided"],
  zoom: ["放大", "Enlarge"],
  live: ["实时画面", "Live view"],
  live_taken: ["抓取时间", "Taken at"],
  clean_frame: ["原始画面，检测框由页面绘制", "clean frame; the page draws the boxes"],
  burnt_frame: ["旧抓拍图：检测框已绘入图片", "older snapshot: boxes are burnt into the image"],

  error: ["出错了", "Error"],
  network_error: ["网络错误", "Network error"],
  session_over: ["登录已失效，请重新登录", "Your sign-in has ended; sign in again"],
  video_error: ["视频无法播放", "The clip cannot play"],

  key_confirm: ["确认当前事件并进入下一条", "Confirm this event and open the next"],
  key_dismiss: ["驳回：再按数字选原因，或 Enter 用第一个原因", "Dismiss: then a digit for the reason, or Enter for the first"],
  key_group: ["整组审核开关", "Decide the whole group (toggle)"],
  key_zoom: ["放大抓拍图", "Enlarge the snapshot"],
  key_live: ["查看摄像头实时画面", "The camera's live view"],
  key_next: ["下一条事件", "Next event"],
  key_prev: ["上一条事件", "Previous event"],
  key_play: ["播放/暂停视频", "Play or pause the clip"],
  key_boxes: ["显示/隐藏检测框", "Show or hide the boxes"],
  key_help: ["显示快捷键", "Show the shortcuts"],
  key_escape: ["关闭对话框", "Close a dialog"],
};

const VIOLATIONS = {
  parked_bikes: ["非机动车乱停放", "parked bikes"],
  street_vending: ["占道经营", "street vending"],
  overflowing_bins: ["垃圾满溢", "overflowing bins"],
  open_burning: ["露天焚烧", "open burning"],
};

const SITES = {
  school: ["学校", "school"],
  hospital: ["医院", "hospital"],
  station: ["车站", "station"],
  business: ["商业街", "business street"],
  other: ["其他", "other"],
};

const STATES = {
  pending: ["待审核", "pending"],
  confirmed: ["已确认", "confirmed"],
  dismissed: ["已驳回", "dismissed"],
};

const DECISIONS = { confirm: STATES.confirmed, dismiss: STATES.dismissed };

const OBJECTS = {
  bicycle: ["自行车", "bicycle"],
  motorcycle: ["电动车/摩托车", "motorcycle"],
  person: ["行人", "person"],
  car: ["汽车", "car"],
  truck: ["货车", "truck"],
  bus: ["公交车", "bus"],
  fire: ["明火", "fire"],
  smoke: ["烟雾", "smoke"],
};

const END_REASONS = {
  "end of stream": ["视频结束", "end of stream"],
  cleared: ["现场已清理", "cleared"],
  shutdown: ["系统停止", "shutdown"],
};

function pair(table, key) {
  const p = table[key];
  return p ? `${p[0]} ${p[1]}` : String(key);
}

export const t = (key) => pair(LABELS, key);
export const zh = (key) => (LABELS[key] ? LABELS[key][0] : key);
export const violationName = (v) => pair(VIOLATIONS, v);
/** An event's violation: the district's own label when the event carries one, else the built-in one. */
export function violationLabel(ev) {
  const label = ev && ev.details && ev.details.violation_label;
  if (label && typeof label === "object" && (label.zh || label.en)) return [label.zh, label.en].filter(Boolean).join(" ");
  return violationName(ev.violation);
}
export const siteName = (s) => pair(SITES, s);
export const stateName = (s) => pair(STATES, s);
export const decisionName = (d) => pair(DECISIONS, d);
export function endReasonName(r) {
  if (!r) return t("ongoing");
  if (r.startsWith("camera disconnected")) return `摄像头断开 ${r}`;
  return pair(END_REASONS, r);
}
export const objectName = (o) => pair(OBJECTS, o);
export const roleName = (r) => t(`role_${r}`);

export const violationKeys = () => Object.keys(VIOLATIONS);
export const siteKeys = () => Object.keys(SITES);
export const stateKeys = () => Object.keys(STATES);

/** Fill the labels of every element under root that asks for one. */
export function applyLabels(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-aria]")) el.setAttribute("aria-label", t(el.dataset.tAria));
  for (const el of root.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
  for (const el of root.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
}
