"""The centre's ingest: a durable JetStream pull consumer that writes what the boxes send.

Exactly-once in effect: JetStream delivers at least once (a message not acknowledged within
``ack_wait_s`` comes again, e.g. after the centre was killed), and every write is an
idempotent upsert keyed by (box, edge event), (event, kind, sha256) or request id, applied
only when newer (records.py). A fetched batch is applied in one transaction and acknowledged
only after its commit, so a kill at any moment loses nothing and duplicates nothing.

Files are downloaded from the object store and hashed *before* the transaction; the row
becomes 'verified' only when the SHA-256 of the bytes equals the one the box recorded when it
wrote the file, else 'corrupt' (logged with both hashes) or 'missing'.
It also publishes the re-inspection requests H6b's workflow queued in centre_inspections.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import DigestMismatchError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from epatrol.centre import records
from epatrol.centre.config import CentreConfig
from epatrol.centre.store import CentreStore
from epatrol.common import messages as m
from epatrol.common.nats import connect, ensure_streams
from epatrol.common.times import utcnow

log = logging.getLogger(__name__)

PARALLEL_DOWNLOADS = 4  # objects fetched at once per batch (bounded: a clip is held in memory to hash it)


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of fetching and hashing one object (before any database write)."""

    state: str  # verified | corrupt | missing
    problem: str | None = None
    data: bytes | None = None


class CentreIngest:
    def __init__(self, cfg: CentreConfig, store: CentreStore | None = None) -> None:
        self.cfg = cfg
        self.store = store or CentreStore(cfg.database_url)  # `epatrol centre` migrated it
        self.stats: Counter[str] = Counter()
        self.ready = threading.Event()  # consumer bound (tests wait on it)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Blocks until stop(); reconnects with backoff while NATS is unreachable."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        wait = 0.5
        while not self._stop.is_set():
            nc = None
            try:
                nc = await connect(self.cfg.nats.servers, "epatrol-centre", self.cfg.nats.tls_ca)
                js = nc.jetstream(timeout=10)
                bucket = await ensure_streams(js)
                sub = await js.pull_subscribe(
                    "epatrol.*.up", durable=self.cfg.nats.durable, stream=m.UP_STREAM,
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.cfg.nats.ack_wait_s, max_ack_pending=10_000),
                )
                self.ready.set()
                wait = 0.5
                while not self._stop.is_set():
                    await self._send_requests(js)
                    try:
                        msgs = await sub.fetch(batch=self.cfg.nats.batch, timeout=1.0)
                    except asyncio.TimeoutError:  # nats' own timeouts subclass it
                        continue
                    await self._ingest(bucket, msgs)
            except Exception as e:
                self.ready.clear()
                self.stats["link_errors"] += 1
                log.warning("centre ingest: %s: %s; retrying in %.1f s", type(e).__name__, e, wait)
            finally:
                if nc is not None and not nc.is_closed:
                    try:
                        await nc.close()
                    except Exception:
                        pass
            if await asyncio.to_thread(self._stop.wait, wait):
                break
            wait = min(wait * 2, 30.0)

    # -- one fetched batch --------------------------------------------------------------

    async def _ingest(self, bucket: ObjectStore, msgs: list) -> None:
        parsed: list[tuple[object, m.Message]] = []
        for msg in msgs:
            self.stats["delivered"] += 1
            if msg.metadata.num_delivered > 1:
                self.stats["redelivered"] += 1
            try:
                parsed.append((msg, m.parse(json.loads(msg.data))))
            except (ValueError, m.BadMessage) as e:  # never retry a message that can never apply
                log.error("centre ingest: dropping a bad message on %s: %s", msg.subject, e)
                self.stats["bad"] += 1
                await msg.term()
        wanted = [i for i, (_, msg) in enumerate(parsed) if self._needs_object(msg)]
        gate = asyncio.Semaphore(PARALLEL_DOWNLOADS)

        async def check(i: int) -> Checked:
            async with gate:
                return await self._check(bucket, parsed[i][1])

        checks = dict(zip(wanted, await asyncio.gather(*(check(i) for i in wanted))))
        try:
            await asyncio.to_thread(self._apply, [msg for _, msg in parsed], checks)
        except OperationalError:
            raise  # the database is down: nothing acked, everything comes again
        except Exception:  # one message the records refuse: apply the rest one by one
            log.exception("centre ingest: a batch of %d failed; applying one by one", len(parsed))
            for i, (raw, msg) in enumerate(parsed):
                try:
                    await asyncio.to_thread(self._apply, [msg], {0: checks[i]} if i in checks else {})
                except OperationalError:
                    raise
                except Exception as e:
                    log.error("centre ingest: dropping message %s from box %s: %s", msg.key, msg.box, e)
                    self.stats["bad"] += 1
                    await raw.term()
                    continue
                await raw.ack()
                self.stats["acked"] += 1
            return
        for raw, _ in parsed:  # only after the commit
            await raw.ack()
        self.stats["acked"] += len(parsed)

    def _needs_object(self, msg: m.Message) -> bool:
        """Download only what is not verified here yet (a redelivery skips the download)."""
        if msg.kind == "file":
            with self.store.read() as s:
                row = records.find_evidence(s, msg.box, msg.event.id, msg.file.kind, msg.file.sha256)
                return row is None or row.state != "verified"
        return msg.kind == "inspection" and msg.inspection.snapshot_sha256 is not None

    async def _check(self, bucket: ObjectStore, msg: m.Message) -> Checked:
        if msg.kind == "file":
            key, sha, size = msg.file.object_key, msg.file.sha256, msg.file.size_bytes
        else:
            key, sha, size = msg.inspection.snapshot_object, msg.inspection.snapshot_sha256, None
        if not key:
            return Checked("missing", "the box no longer had the file when it sent the record")
        try:
            got = await bucket.get(key)
        except ObjectNotFoundError:
            return Checked("missing", f"object {key} is not in the store")
        except DigestMismatchError:
            return Checked("corrupt", f"object {key}: the object store's own digest does not match its chunks")
        data = bytes(got.data or b"")
        actual = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        if actual != sha:
            log.error("centre ingest: %s from box %s is corrupt: SHA-256 %s, the box recorded %s", key, msg.box, actual, sha)
            return Checked("corrupt", f"SHA-256 of the received bytes is {actual}, the box recorded {sha}")
        if size is not None and len(data) != size:
            return Checked("corrupt", f"{len(data)} bytes received, the box recorded {size}")
        return Checked("verified", data=data)

    def _apply(self, msgs: list[m.Message], checks: dict[int, Checked]) -> None:
        with self.store.write() as s:
            records.preload_events(s, [(msg.box, msg.event.id) for msg in msgs if msg.event is not None])
            for i, msg in enumerate(msgs):
                self._apply_one(s, msg, checks.get(i))
        for i, msg in enumerate(msgs):  # after the commit: a copy on disk is a convenience, not the record
            c = checks.get(i)
            if c is not None and c.state == "verified" and self.cfg.evidence_dir is not None:
                self._keep_copy(msg, c.data)

    def _apply_one(self, s: Session, msg: m.Message, check: Checked | None) -> None:
        if msg.kind == "event":
            _, changed = records.apply_event(s, msg.box, msg.seq, msg.event)
            self.stats["events_applied" if changed else "events_unchanged"] += 1
        elif msg.kind == "file":
            row, new = records.apply_file(s, msg)
            self.stats["files_new" if new else "files_again"] += 1
            if check is not None and row.state != "verified":
                records.mark_evidence(s, row, check.state, check.problem)
                self.stats[f"files_{check.state}"] += 1
        else:
            insp = records.apply_inspection(s, msg)
            if insp is None:
                log.warning("centre ingest: answer to unknown re-inspection %s from box %s", msg.inspection.request_id, msg.box)
                self.stats["inspections_unknown"] += 1
                return
            if check is not None and insp.snapshot_state != "verified":
                insp.snapshot_state = check.state
            self.stats["inspections"] += 1

    def _keep_copy(self, msg: m.Message, data: bytes) -> None:
        key = msg.file.object_key if msg.kind == "file" else msg.inspection.snapshot_object
        final = Path(self.cfg.evidence_dir) / key
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, final)

    # -- centre -> box ------------------------------------------------------------------

    async def _send_requests(self, js: JetStreamContext) -> None:
        def unsent() -> list[tuple[int, str, dict]]:
            with self.store.read() as s:
                return [
                    (r.id, r.box_id, m.dump_request(m.ReinspectRequest(r.request_id, r.camera_id, r.zone, r.violation, r.case_id)))
                    for r in records.unsent_inspections(s)
                ]

        for row_id, box, payload in await asyncio.to_thread(unsent):
            await js.publish(m.reinspect_subject(box), json.dumps(payload).encode(), headers={"Nats-Msg-Id": payload["request_id"]})
            await asyncio.to_thread(self._mark_sent, row_id)
            self.stats["requests_sent"] += 1

    def _mark_sent(self, row_id: int) -> None:
        with self.store.write() as s:
            insp = s.get(records.CentreInspection, row_id)
            insp.sent_at = utcnow()
            if insp.state == "requested":
                insp.state = "sent"
