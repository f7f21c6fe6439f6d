"""summary.txt of a case export: the case in plain words (Chinese and English) for whoever opens
the zip without tools — each event's violation by name, where and when, and the unit answering
for the spot (门前三包). The JSON records beside it are the authority; this only reads them."""

from __future__ import annotations

from typing import Any


def _when(t: dict[str, str | None] | None) -> str:
    return "-" if t is None else f"{t['local']} (UTC {t['utc']})"


def _label(record: dict[str, Any]) -> str:
    label = record.get("violation_label")
    if isinstance(label, dict) and label.get("zh"):
        return f"{label['zh']} / {label.get('en') or record['violation']} [{record['violation']}]"
    return record["violation"]


def _responsible(r: dict[str, Any] | None) -> str:
    if not isinstance(r, dict) or not r.get("name"):
        return "未登记 none recorded"
    parts = [str(r["name"])]
    if r.get("contact"):
        parts.append(f"联系 contact {r['contact']}")
    if r.get("licence"):
        parts.append(f"执照 licence {r['licence']}")
    return ", ".join(parts)


def summary_text(case: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """``case`` is case.json's content, ``records`` the events/<id>.json contents."""
    c = case["case"]
    lines = [
        f"案件 Case {c['id']}: {c['title']}",
        f"状态 status: {c['status']}; 立案 created by {c['created_by']} at {_when(c['created'])}",
        f"导出 exported by {case['exported']['by']} at {_when(case['exported']['at'])}",
        f"事件 events: {len(records)}",
        "",
    ]
    for r in records:
        cam = r["camera"]
        lines += [
            f"事件 Event {r['event_id']}: {_label(r)}",
            f"  地点 camera: {cam['name']} ({cam['id']}), 区域 zone: {r['zone']}",
            f"  发现 alerted: {_when(r['alerted'])}",
            f"  责任单位 responsible unit (门前三包): {_responsible(r.get('responsible'))}",
            "  复核 reviews: " + ("; ".join(f"{v['decision']} by {v['by']}" for v in r["reviews"]) or "-"),
            f"  录像 clip: {r['clip']['path'] if r['clip'] else '-'}; 截图 snapshot: {r['snapshot']['path'] if r['snapshot'] else '-'}",
            "",
        ]
    lines.append("Every file's SHA-256 is in manifest.json; check the package with `epatrol verify-export`.")
    return "\n".join(lines) + "\n"
