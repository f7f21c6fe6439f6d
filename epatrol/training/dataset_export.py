"""`epatrol dataset export`: the officers' decisions as a labelled folder `epatrol train` reads.

Each reviewed event gives one image: the frame of its clip at the moment of the alert, clean (the
snapshot has zones, boxes and a caption drawn on it: a model would learn the drawing). Layouts:
- detect: images/ + labels/ (YOLO) + data.yaml. A confirmed event's stored detections (pixels of
  the frame the judge saw) become its boxes; a dismissed event's frame is a background image (no
  labels: what was flagged there is not the violation).
- classify (region rules): the zone's bounding rectangle cropped from the frame, in
  violating/ (confirmed) or clear/ (dismissed).
manifest.json names, for every file, the event, camera, zone, decision (who, when, review id) and
the clip it was cut from; events without a clip on disk are listed as skipped, with the reason.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from pathlib import Path

import cv2
import numpy as np
import yaml
from sqlalchemy import select

from epatrol.evidence.review.decisions import infos
from epatrol.evidence.store.schema import EvidenceFile
from epatrol.evidence.store.search import EventFilter, search_events

PAGE = 500
CLASSIFY_FOLDERS = {"confirmed": "violating", "dismissed": "clear"}


def parse_since(text: str | None) -> datetime | None:
    """An ISO date or time; without an offset it is UTC (what the database stores)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text) if "T" in text or " " in text else datetime.combine(date.fromisoformat(text), time())
    except ValueError:
        raise ValueError(f"--since {text!r}: not an ISO date or time (e.g. 2025-01-31 or 2025-01-31T08:00+08:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _clip(db, event_id: int) -> EvidenceFile | None:
    with db.read_session() as s:
        stmt = select(EvidenceFile).where(EvidenceFile.event_id == event_id, EvidenceFile.kind == "clip", EvidenceFile.purged_at.is_(None))
        return s.scalars(stmt.order_by(EvidenceFile.id.desc())).first()


def clip_frame(path: Path, offset_s: float) -> tuple[np.ndarray, float]:
    """The clip's decoded frame nearest offset_s after its first frame (BGR) and its offset."""
    import av

    best, best_gap, best_t = None, None, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            first = t if first is None else first
            gap = abs(t - first - offset_s)
            if best_gap is None or gap < best_gap:
                best, best_gap, best_t = frame, gap, t - first
            elif t - first > offset_s:
                break  # past the moment and getting further
    if best is None:
        raise ValueError(f"{path}: no decodable video frame")
    return best.to_ndarray(format="bgr24"), best_t


def _zone_rect(cfg, camera_id: str, zone: str, w: int, h: int) -> tuple[int, int, int, int] | None:
    for cam in cfg.cameras:
        if cam.id == camera_id:
            for z in cam.zones:
                if z.name == zone:
                    xs = [p[0] for p in z.polygon]
                    ys = [p[1] for p in z.polygon]
                    x0, y0 = int(max(0, min(xs)) * w), int(max(0, min(ys)) * h)
                    x1, y1 = int(np.ceil(min(1, max(xs)) * w)), int(np.ceil(min(1, max(ys)) * h))
                    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
    return None


def _layout(cfg, violation: str | None, asked: str) -> str:
    if asked != "auto":
        return asked
    custom = getattr(cfg.violations, "custom", {}) or {}
    rule = getattr(custom.get(violation), "rule", None) if violation else None
    return "classify" if rule == "region_state" else "detect"


def _yolo_lines(detections: list, size: tuple[int, int], names: list[str]) -> list[str]:
    """Stored boxes (pixels of the judged frame, size (w, h)) as YOLO lines: normalised, so they fit
    the clip's frame whatever its scale."""
    sw, sh = size
    lines = []
    for d in detections:
        label, box = d.get("label"), d.get("xyxy")
        if not label or not box or len(box) != 4:
            continue
        if label not in names:
            names.append(label)
        x0, y0, x1, y1 = (max(0.0, min(1.0, v / s)) for v, s in zip(box, (sw, sh, sw, sh)))
        if x1 > x0 and y1 > y0:
            lines.append(f"{names.index(label)} {(x0 + x1) / 2:.6f} {(y0 + y1) / 2:.6f} {x1 - x0:.6f} {y1 - y0:.6f}")
    return lines


def export_dataset(cfg, out: Path, violation: str | None = None, since: datetime | None = None, layout: str = "auto") -> dict:
    from epatrol.migrations import open_database

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: not empty; export into a new folder")
    if violation is None and layout == "auto":
        layout = "detect"
    layout = _layout(cfg, violation, layout)
    db = open_database(cfg.database_url)
    root = Path(cfg.storage.root)
    names: list[str] = []
    files, skipped = [], []
    try:
        for state in ("confirmed", "dismissed"):
            offset = 0
            while True:
                page, total = search_events(db, EventFilter(violation=violation, review_state=state, since=since), PAGE, offset)
                offset += len(page)
                reviews = infos(db, [ev.id for ev in page])
                for ev in page:
                    entry = _export_one(cfg, db, root, out, ev, state, reviews[ev.id].latest, layout, names)
                    (files if "file" in entry else skipped).append(entry)
                if not page or offset >= total:
                    break
    finally:
        db.close()
    if not files:
        raise ValueError(f"no reviewed events to export{f' for {violation!r}' if violation else ''}{f' since {since.isoformat()}' if since else ''}"
                         f" ({len(skipped)} skipped: {skipped[0]['reason'] if skipped else 'none reviewed'})")  # fmt: skip
    if layout == "detect":
        (out / "data.yaml").write_text(yaml.safe_dump({"names": names}, allow_unicode=True), encoding="utf-8")
    summary = {
        "layout": layout, "folder": str(out), "violation": violation, "since": since.isoformat() if since else None,
        "names": names if layout == "detect" else sorted({f["class"] for f in files}),
        "confirmed": sum(f["decision"] == "confirm" for f in files), "dismissed": sum(f["decision"] == "dismiss" for f in files),
        "skipped": len(skipped),
    }  # fmt: skip
    manifest = {**summary, "files": files, "skipped_events": skipped}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return summary


def _export_one(cfg, db, root: Path, out: Path, ev, state: str, review, layout: str, names: list[str]) -> dict:
    base = {"event_id": ev.id, "camera": ev.camera_id, "zone": ev.zone, "violation": ev.violation,
            "decision": review.decision, "review_id": review.id, "decided_by": review.by, "decided_at": review.at.isoformat()}  # fmt: skip
    clip = _clip(db, ev.id)
    if clip is None or not (root / clip.path).is_file():
        return {**base, "reason": "no clip on disk (not written, purged or moved): the snapshot has drawings on it"}
    try:
        frame, at = clip_frame(root / clip.path, (ev.alerted_at - clip.media_start_utc).total_seconds())
    except (ValueError, OSError) as exc:
        return {**base, "reason": f"clip unreadable: {exc}"}
    h, w = frame.shape[:2]
    stem = f"event-{ev.id:07d}"
    base |= {"clip": clip.path, "clip_sha256": clip.sha256, "frame_offset_s": round(at, 3)}
    if layout == "classify":
        rect = _zone_rect(cfg, ev.camera_id, ev.zone, w, h)
        if rect is None:
            return {**base, "reason": f"zone {ev.zone!r} of camera {ev.camera_id!r} is not in the config: nothing to crop"}
        folder = CLASSIFY_FOLDERS[state]
        rel = f"{folder}/{stem}.jpg"
        (out / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / rel), frame[rect[1] : rect[3], rect[0] : rect[2]])
        return {**base, "file": rel, "class": folder, "crop_xyxy": list(rect)}
    judged = _judged_size(root, ev, (w, h))
    lines = _yolo_lines(ev.detections, judged, names) if state == "confirmed" else []
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "images" / f"{stem}.jpg"), frame)
    (out / "labels" / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return {**base, "file": f"images/{stem}.jpg", "label": f"labels/{stem}.txt", "boxes": len(lines)}


def _judged_size(root: Path, ev, fallback: tuple[int, int]) -> tuple[int, int]:
    """(w, h) of the frame the judge saw: the snapshot is drawn on it at full size."""
    if ev.snapshot and (root / ev.snapshot).is_file():
        img = cv2.imread(str(root / ev.snapshot))
        if img is not None:
            return img.shape[1], img.shape[0]
    return fallback
