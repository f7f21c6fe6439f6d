// Keyboard shortcuts of the review desk: C confirm, D dismiss, J/↓ next, K/↑ previous,
// P play/pause, B boxes, ? help. Typing in a field, an open dialog or a modifier key
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
    "?": actions.help,
  };
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (!isActive() || document.querySelector("dialog[open]")) return;
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
