"""How many events a second the centre ingests: real nats-server (JetStream) + real PostgreSQL.

    .venv/bin/python benchmarks/centre_ingest.py --events 5000 --boxes 4 --batch 64

Starts a throw-away nats-server and PostgreSQL cluster, publishes ``--events`` event messages
(the box's format: whole event state, one per edge event, from ``--boxes`` boxes) into the
EPATROL_UP stream, then runs the centre's real consumer (CentreIngest) and times it from
start until every event is a row in PostgreSQL. Prints one JSON line. With ``--files N`` each
event also carries N snapshot-sized objects (64 KiB) to download and hash.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from nats_server import NatsServer  # noqa: E402
from pg import PostgresServer  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from epatrol.centre.config import CentreConfig  # noqa: E402
from epatrol.centre.ingest import CentreIngest  # noqa: E402
from epatrol.centre.records import CentreEvent  # noqa: E402
from epatrol.common import messages as m  # noqa: E402
from epatrol.common.nats import connect, ensure_streams  # noqa: E402
from epatrol.migrations import open_centre_store  # noqa: E402


def event_message(box: str, n: int, files: list[tuple[str, bytes]]) -> list[dict]:
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=n)
    facts = m.EventFacts(
        id=n, camera=m.CameraFacts(f"cam-{n % 8}", f"Camera {n % 8}", "business", "解放路街道", f"网格-{n % 5}"),
        zone="footway", violation="parked_bikes", started_at=t0, alerted_at=t0 + timedelta(seconds=120),
        ended_at=t0 + timedelta(seconds=600), end_reason="zone clear", review_state="pending", clip_state="complete",
        model_name="yolov8n_int8", model_sha256="0" * 64, details={"parked": 2, "tracks": [1, 2]},
    )
    out = [m.dump(m.Message(box, n * 10, f"{box}:{n * 10}:e", "event", event=facts))]
    for i, (sha, _) in enumerate(files):
        f = m.FileFacts("snapshot", sha, 65536, m.object_key(box, n, "snapshot", sha))
        out.append(m.dump(m.Message(box, n * 10, f"{box}:{n * 10 + i + 1}:f", "file", event=facts, file=f)))
    return out


async def publish(url: str, boxes: int, events: int, files: int) -> int:
    nc = await connect([url], "bench")
    js = nc.jetstream(timeout=30)
    bucket = await ensure_streams(js)
    blobs = []
    for i in range(files):
        data = os.urandom(65536)
        blobs.append((hashlib.sha256(data).hexdigest(), data))
    sent = 0
    for n in range(events):
        box = f"box-{n % boxes}"
        for sha, data in blobs:
            await bucket.put(m.object_key(box, n, "snapshot", sha), data)
        for msg in event_message(box, n, blobs):
            await js.publish(m.up_subject(box), json.dumps(msg).encode(), headers={"Nats-Msg-Id": msg["key"]})
            sent += 1
    await nc.close()
    return sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64, help="messages fetched and committed at once")
    ap.add_argument("--files", type=int, default=0, help="objects per event to download and verify")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="epatrol-bench-"))
    server = NatsServer(work / "nats").start()
    pg = PostgresServer().start()
    try:
        store = open_centre_store(pg.create_database("bench"))
        t = time.perf_counter()
        messages = asyncio.run(publish(server.url, args.boxes, args.events, args.files))
        publish_s = time.perf_counter() - t
        cfg = CentreConfig(database_url=str(store.engine.url.render_as_string(hide_password=False)),
                           nats={"servers": [server.url], "batch": args.batch})
        ingest = CentreIngest(cfg, store)
        start = time.perf_counter()
        cpu0 = time.process_time()
        thread = threading.Thread(target=ingest.run, daemon=True)
        thread.start()
        while True:
            with store.read() as s:
                n = s.scalar(select(func.count()).select_from(CentreEvent))
            if n >= args.events and ingest.stats["acked"] >= messages:
                break
            time.sleep(0.2)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        ingest.stop()
        thread.join(30)
        print(json.dumps({
            "events": args.events, "messages": messages, "boxes": args.boxes, "batch": args.batch, "files_per_event": args.files,
            "ingest_s": round(wall, 2), "events_per_s": round(args.events / wall, 1), "messages_per_s": round(messages / wall, 1),
            "cpu_s_this_process": round(cpu, 2), "publish_s": round(publish_s, 2), "cpus": os.cpu_count(),
            "stats": dict(ingest.stats),
        }))
    finally:
        server.stop()
        pg.stop()


if __name__ == "__main__":
    main()
