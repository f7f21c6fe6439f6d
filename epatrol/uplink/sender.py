"""The uplink thread: outbox -> JetStream, and the centre's re-inspection requests -> answers.

Runs its own asyncio loop on its own thread, so a dead link never blocks a camera: the
pipeline only writes the evidence database, and this thread reads the ledger from there.
While the centre is unreachable it retries with capped exponential backoff; the outbox keeps
everything. A row is marked sent only on JetStream's PubAck, so a crash between publish and
mark re-publishes it, and the ``Nats-Msg-Id`` (the row's key) makes JetStream drop the copy.
Files go to the object store before the message that names them, so the centre never gets
a file message whose bytes are not there yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ObjectMeta
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from epatrol.common import messages as m
from epatrol.common.hashing import sha256_bytes
from epatrol.common.nats import BoxIdTaken, claim_box_id, connect, ensure_streams
from epatrol.config import Uplink
from epatrol.evidence.recording.paths import publish, resolve
from epatrol.evidence.store.db import Database
from epatrol.uplink import outbox

log = logging.getLogger(__name__)

SHA_HEADER = "Epatrol-Sha256"
PUBLISH_TIMEOUT_S = 10.0
PRUNE_EVERY_S = 3600.0


class InspectionResult:
    """A box's answer to a re-inspection: the zone's state, when it was seen, and the picture."""

    __slots__ = ("state", "observed_at", "jpeg", "details")

    def __init__(self, state: str, observed_at=None, jpeg: bytes | None = None, details: dict | None = None) -> None:
        if state not in m.ANSWERS:
            raise ValueError(f"inspection state must be one of {m.ANSWERS}, got {state!r}")
        self.state, self.observed_at, self.jpeg, self.details = state, observed_at, jpeg, details or {}


Inspector = Callable[[m.ReinspectRequest], InspectionResult]  # see inspect.py


def _unavailable(req: m.ReinspectRequest) -> InspectionResult:
    return InspectionResult("unavailable", details={"reason": "this box runs no camera pipeline"})


class UplinkSender:
    def __init__(self, cfg: Uplink, db: Database, storage_root: Path, inspector: Inspector | None = None) -> None:
        self.cfg, self.db, self.root = cfg, db, Path(storage_root)
        self.inspector = inspector or _unavailable
        self.stats: Counter[str] = Counter()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_prune = 0.0
        self._claimed = False
        self._requests = None  # the re-inspection pull subscription of the current connection
        outbox.ensure_tables(db)

    # -- lifecycle (called from the main thread) -------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0, drain_s: float = 5.0) -> None:
        """Stop the thread; while the link is up, first give the last events ``drain_s`` to go out
        (what does not stays in the outbox for the next start)."""
        if drain_s > 0 and self.connected.is_set():
            self.drain(drain_s)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every ledger entry so far is collected and acknowledged (tests, shutdown)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if outbox.caught_up(self.db):
                return True
            time.sleep(0.2)
        return False

    # -- the loop -----------------------------------------------------------------------

    async def _main(self) -> None:
        wait = self.cfg.retry_initial_s
        while not self._stop.is_set():
            nc = None
            try:
                nc = await connect(self.cfg.servers, f"epatrol-box-{self.cfg.box_id}", self.cfg.tls_ca)
                js = nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
                bucket = await ensure_streams(js)
                self._requests = None  # subscribed once the box id is claimed (see _round)
                self._claimed = False  # checked again on every connection: a claim can be released
                self.connected.set()
                self.stats["connects"] += 1
                log.info("uplink %s: connected to %s", self.cfg.box_id, nc.connected_url.netloc if nc.connected_url else "?")
                wait = self.cfg.retry_initial_s
                while not self._stop.is_set():
                    busy = await self._round(js, bucket)
                    if not busy:
                        await asyncio.sleep(self.cfg.poll_s)
            except BoxIdTaken as e:  # a configuration error: say so loudly, keep everything, retry slowly
                self.stats["box_id_taken"] += 1
                log.error("uplink %s: %s", self.cfg.box_id, e)
                wait = self.cfg.retry_max_s
            except Exception as e:  # the link is down or broke: keep everything, try again later
                self.connected.clear()
                self.stats["link_errors"] += 1
                log.warning("uplink %s: %s: %s; retrying in %.1f s", self.cfg.box_id, type(e).__name__, e, wait)
            finally:
                self.connected.clear()
                if nc is not None and not nc.is_closed:
                    try:
                        await nc.close()
                    except Exception:
                        pass
            await asyncio.to_thread(self._collect_offline)
            if self._stop.wait(0) or await asyncio.to_thread(self._stop.wait, wait):
                break
            wait = min(wait * 2, self.cfg.retry_max_s)

    def _collect_offline(self) -> None:
        """While the link is down the outbox still grows, so its backlog shows in the database."""
        try:
            outbox.collect(self.db, self.cfg.box_id, self.cfg.locations)
        except Exception:  # the database's own trouble is the recorder's to report
            log.exception("uplink %s: collecting the outbox failed", self.cfg.box_id)

    async def _round(self, js: JetStreamContext, bucket: ObjectStore) -> bool:
        """One pass: collect, send what is queued, answer requests. True when there was work."""
        if not self._claimed:  # before anything is sent or taken under this box id
            chain = await asyncio.to_thread(outbox.chain_id, self.db)
            if chain is None:
                return False  # an empty ledger: nothing to send yet
            await claim_box_id(js, self.cfg.box_id, chain)
            self._claimed = True
        if self.cfg.reinspect and self._requests is None:
            self._requests = await self._subscribe_requests(js)
        requests = self._requests
        added = await asyncio.to_thread(outbox.collect, self.db, self.cfg.box_id, self.cfg.locations)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            await asyncio.to_thread(outbox.prune, self.db, timedelta(days=self.cfg.keep_sent_days))
        rows = await asyncio.to_thread(outbox.pending, self.db)
        for row in rows:
            if self._stop.is_set():
                break
            await self._send(js, bucket, row)
        answered = await self._answer_requests(requests) if requests is not None else 0
        return bool(added or rows or answered)

    async def _send(self, js: JetStreamContext, bucket: ObjectStore, row: outbox.Pending) -> None:
        payload = row.payload
        try:
            if row.kind in ("file", "inspection") and row.file_path:
                payload = await self._upload(bucket, row)
            ack = await js.publish(m.up_subject(self.cfg.box_id), json.dumps(payload).encode(),
                                   headers={"Nats-Msg-Id": row.key})
        except Exception as e:
            await asyncio.to_thread(outbox.mark_failed, self.db, row.id, f"{type(e).__name__}: {e}")
            raise
        await asyncio.to_thread(outbox.mark_acked, self.db, row.id, bool(ack.duplicate))
        self.stats["duplicates" if ack.duplicate else "sent"] += 1

    async def _upload(self, bucket: ObjectStore, row: outbox.Pending) -> dict:
        """Put the row's file in the object store (unless it is there already) and return the
        payload to publish; a file gone from the box goes out with an empty object key."""
        if row.kind == "file":
            sha, key = row.payload["file"]["sha256"], row.payload["file"]["object_key"]
        else:
            sha, key = row.payload["inspection"]["snapshot_sha256"], row.payload["inspection"]["snapshot_object"]
        path = resolve(self.root, row.file_path)
        try:
            info = await bucket.get_info(key)
            if (info.headers or {}).get(SHA_HEADER) in (sha, [sha]):
                self.stats["objects_already_there"] += 1
                return row.payload
        except ObjectNotFoundError:
            pass
        if not path.is_file():
            log.warning("uplink %s: %s is gone from the box (purged?); the centre will mark it missing", self.cfg.box_id, row.file_path)
            self.stats["files_missing"] += 1
            return _without_object(row.payload)
        with path.open("rb") as f:
            await bucket.put(key, f, meta=ObjectMeta(description=f"{self.cfg.box_id} {row.file_path}", headers={SHA_HEADER: sha}))
        self.stats["objects"] += 1
        self.stats["object_bytes"] += path.stat().st_size
        return row.payload

    # -- re-inspection (回头看) -------------------------------------------------------------

    async def _subscribe_requests(self, js: JetStreamContext):
        return await js.pull_subscribe(
            m.reinspect_subject(self.cfg.box_id), durable=f"box-{self.cfg.box_id}", stream=m.DOWN_STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60),
        )

    async def _answer_requests(self, sub) -> int:
        try:
            msgs = await sub.fetch(batch=8, timeout=0.2)
        except asyncio.TimeoutError:  # nats' own timeouts subclass it
            return 0
        for msg in msgs:
            try:
                req = m.parse_request(json.loads(msg.data))
            except (ValueError, m.BadMessage) as e:
                log.error("uplink %s: dropping a bad re-inspection request: %s", self.cfg.box_id, e)
                await msg.term()
                continue
            await asyncio.to_thread(self._answer, req)
            await msg.ack()  # only once the answer is safe in the outbox
            self.stats["inspections"] += 1
        return len(msgs)

    def _answer(self, req: m.ReinspectRequest) -> None:
        try:
            result = self.inspector(req)
        except Exception as e:  # a broken inspector must still answer, or the case waits forever
            log.exception("uplink %s: re-inspection %s failed", self.cfg.box_id, req.request_id)
            result = InspectionResult("unavailable", details={"reason": f"{type(e).__name__}: {e}"})
        rel = sha = key = None
        if result.jpeg:
            sha = sha256_bytes(result.jpeg)
            rel = f"reinspect/{m.check_name(req.request_id, 'request_id')}.jpg"
            final = resolve(self.root, rel)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_suffix(".jpg.part")
            tmp.write_bytes(result.jpeg)
            publish(tmp, final)
            key = f"{self.cfg.box_id}/reinspect/{req.request_id}-{sha}"
        answer = m.InspectionAnswer(req.request_id, result.state, result.observed_at, sha, key,
                                    {**result.details, "camera": req.camera, "zone": req.zone})
        outbox.add_inspection(self.db, self.cfg.box_id, answer, rel)


def _without_object(payload: dict) -> dict:
    out = json.loads(json.dumps(payload))
    if "file" in out:
        out["file"]["object_key"] = ""
    if "inspection" in out:
        out["inspection"]["snapshot_object"] = None
    return out
