// Keyboard shortcuts of the review desk: C confirm, D dismiss (then a digit or Enter in its
// dialog), G group mode, J/↓ next, K/↑ previous, P play/pause, B boxes, Z enlarge, L live, ? help. Typing in a field, an open dialog or a modifier key
// (other than Shift for "?") leaves the key alone.

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function installShortcuts(actions, isActive) {
  const map = {
    c: actions.confirm,
    d: actions.dismiss,
    j: actions.next,
    ArrowDown: actions.next,
    k: actions.prev,
    ArrowUp: actions.prev,
    p: actions.play,
    b: actions.boxes,
    g: actions.group,
    z: actions.zoom,
    l: actions.live,
    "?": actions.help,
  };
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (!isActive()) return;
    // An open dialog takes the keys, except those it lists in data-shortcuts (B in the enlarged snapshot).
    const dialog = document.querySelector("dialog[open]");
    if (dialog && !(dialog.dataset.shortcuts || "").split(" ").includes(e.key.toLowerCase())) return;
    const target = e.target;
    if (target && (TYPING.has(target.tagName) || target.isContentEditable)) return;
    // The video's own controls use the arrow keys while it has focus.
    if (target && target.tagName === "VIDEO" && e.key.startsWith("Arrow")) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const action = map[key === "/" && e.shiftKey ? "?" : key];
    if (!action) return;
    e.preventDefault();
    action();
  });
}
