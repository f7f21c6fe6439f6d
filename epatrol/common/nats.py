"""The JetStream streams and object-store bucket both sides declare (idempotently, same config).

EPATROL_UP carries every box's messages to the centre; EPATROL_DOWN the centre's commands to
the boxes; EPATROL_EVIDENCE (object store) the clips and snapshots. File storage: they outlive
a nats-server restart. The duplicate window makes JetStream drop a re-published message with
the same ``Nats-Msg-Id`` (a box that crashed between the PubAck and marking the row sent);
beyond it the centre's idempotent upserts catch the duplicate anyway.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from epatrol.common.messages import DOWN_STREAM, UP_STREAM

log = logging.getLogger(__name__)

EVIDENCE_BUCKET = "EPATROL_EVIDENCE"
# box id -> the hash of the first entry of that box's ledger: a box id is claimed by one database.
BOXES_BUCKET = "EPATROL_BOXES"
CONNECT_TIMEOUT_S = 3.0
DUPLICATE_WINDOW_S = 3600.0

# Messages stay this long after they were stored (acknowledged or not): a centre down for longer
# than this loses them from the stream, though the boxes' outboxes would still show them as sent.
KEEP_S = 30 * 86400.0

UP = StreamConfig(name=UP_STREAM, subjects=["epatrol.*.up"], storage=StorageType.FILE,
                  duplicate_window=DUPLICATE_WINDOW_S, max_age=KEEP_S)
DOWN = StreamConfig(name=DOWN_STREAM, subjects=["epatrol.*.reinspect"], storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW_S, max_age=KEEP_S)


async def ensure_streams(js: JetStreamContext) -> ObjectStore:
    """Declare both streams and the bucket if missing; returns the evidence bucket."""
    for config in (UP, DOWN):
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError:
                pass  # another box or the centre declared it first
    try:
        return await js.object_store(EVIDENCE_BUCKET)
    except BucketNotFoundError:
        return await js.create_object_store(EVIDENCE_BUCKET, storage=StorageType.FILE)


class BoxIdTaken(Exception):
    """Another database (another box, or this box's replaced database) already sends under this id."""


async def claim_box_id(js: JetStreamContext, box_id: str, chain_id: str) -> None:
    """Claim ``box_id`` for the ledger whose first entry hashes to ``chain_id``, or raise BoxIdTaken.

    Without this, two boxes configured with one id (or a box whose database was replaced)
    would send edge event ids that collide at the centre and overwrite each other's events."""
    registry = await _registry(js)
    try:
        await registry.create(box_id, chain_id.encode())
        return
    except KeyWrongLastSequenceError:
        pass
    owner = (await registry.get(box_id)).value.decode()
    if owner != chain_id:
        raise BoxIdTaken(
            f"box id {box_id!r} is already used by another evidence database (its ledger starts {owner[:16]}..., "
            f"this one {chain_id[:16]}...): give this box its own uplink.box_id, or, if this box's database was "
            f"replaced on purpose, release the old claim at the centre (epatrol centre-release-box -c centre.yaml {box_id})"
        )


async def release_box_id(js: JetStreamContext, box_id: str) -> bool:
    """Forget which database owns ``box_id`` (a box whose database was replaced on purpose);
    False when nobody had claimed it."""
    registry = await _registry(js)
    try:
        await registry.get(box_id)
    except KeyNotFoundError:
        return False
    await registry.purge(box_id)
    return True


async def _registry(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(BOXES_BUCKET)
    except BucketNotFoundError:
        try:
            return await js.create_key_value(bucket=BOXES_BUCKET, history=1, storage=StorageType.FILE)
        except BadRequestError:
            return await js.key_value(BOXES_BUCKET)  # another box created it first


async def _quiet(e: Exception) -> None:
    """nats-py logs every connection error with a traceback by default; the callers' loops log one line."""
    log.debug("nats: %s: %s", type(e).__name__, e)


async def connect(servers: list[str], name: str, tls_ca: Path | None = None) -> Client:
    """One connection attempt per server, failing fast: reconnecting is the caller's loop's job
    (with its own backoff), so a broken connection surfaces as an error instead of a client
    that silently buffers publishes. User and password go in the URL (nats://user:pass@host);
    ``tls_ca`` verifies a tls:// server signed by a private CA."""
    tls = ssl.create_default_context(cafile=str(tls_ca)) if tls_ca is not None else None
    return await asyncio.wait_for(
        nats.connect(servers=servers, name=name, connect_timeout=CONNECT_TIMEOUT_S, allow_reconnect=False,
                     max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=_quiet, tls=tls),
        timeout=CONNECT_TIMEOUT_S * (len(servers) + 1) * 2,
    )
