"""The same patrol through a real RTSP server on 127.0.0.1: live stream, wall-clock dwell,
an evidence clip cut from the live packet ring, a camera that vanishes and comes back."""

from __future__ import annotations

import av
import pytest
from conftest import BIKE_ZONE, make_config, patrolling
from rtsp import RtspServer, rtsp_unavailable_reason
from waiting import wait_for

from epatrol.common.hashing import sha256_file
from epatrol.config import parse_config
from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))

DWELL_S, PRE_S, POST_S = 8.0, 3.0, 3.0


def test_live_rtsp_camera_parked_bike_clip_and_reconnect(footage, detector, tmp_path):
    with RtspServer({"/cam1": footage["parked_bike.mp4"]}) as server:
        raw = make_config(
            tmp_path / "data",
            [{"id": "live-1", "name": "直播 1", "url": server.url("/cam1"), "site": "station", "zones": [BIKE_ZONE]}],
            violations={"parked_bikes": {"dwell_s": DWELL_S, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": PRE_S, "post_s": POST_S},
            streams={"reconnect_initial_s": 0.5, "reconnect_max_s": 2.0},
        )
        cfg = parse_config(raw)
        db = open_database(cfg.database_url)
        with patrolling(cfg, detector, db) as (worker, _):
            wait_for(lambda: any(e.clip_state == "complete" for e in db.list_events()), 60, "a completed clip")
            events = db.list_events()
            assert len(events) == 1
            ev = events[0]
            assert ev.violation == "parked_bikes" and ev.camera_id == "live-1"
            # Live sources run on the wall clock: the alert comes after the dwell, in real time.
            assert DWELL_S <= (ev.alerted_at - ev.started_at).total_seconds() < DWELL_S + 2.5

            clip = cfg.storage.root / ev.clip
            assert sha256_file(clip) == ev.clip_sha256
            with av.open(str(clip)) as c:
                packets = [p for p in c.demux(video=0) if p.size]
            with av.open(str(clip)) as c:
                frames = sum(1 for _ in c.decode(video=0))
            assert packets[0].is_keyframe
            assert frames == len(packets)
            assert PRE_S + POST_S <= len(packets) / 25.0 <= PRE_S + POST_S + 2.0 + 0.2

            # The camera vanishes: the open episode is closed and says why; then it comes back.
            server.kill()
            wait_for(lambda: db.get_event(ev.id).ended_at is not None, 30, "the episode to close on disconnect")
            assert db.get_event(ev.id).end_reason.startswith("camera disconnected")
            reconnects = worker.feed.reconnects
            server.start()
            wait_for(lambda: worker.feed.reconnects > reconnects, 30, "the camera to reconnect")
            samples = worker.stats.samples
            wait_for(lambda: worker.stats.samples > samples + 2, 30, "samples after the reconnect")


def _to_h265(src, out, gop: int = 25):
    """The same footage re-encoded as H.265 (many street cameras send HEVC by default)."""
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        vout = dst.add_stream("libx265", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"preset": "ultrafast", "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error"}
        for frame in inp.decode(vin):
            for packet in vout.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in vout.encode(None):
            dst.mux(packet)
    return out


def test_h265_camera_patrols_and_its_clip_is_remuxed_as_h265(footage, detector, tmp_path):
    source = _to_h265(footage["parked_bike.mp4"], tmp_path / "parked_bike_h265.mp4")
    with RtspServer({"/hevc": source}) as server:
        raw = make_config(
            tmp_path / "data",
            [{"id": "hevc-1", "name": "H.265", "url": server.url("/hevc"), "site": "station", "zones": [BIKE_ZONE]}],
            violations={"parked_bikes": {"dwell_s": DWELL_S, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": PRE_S, "post_s": POST_S},
        )
        cfg = parse_config(raw)
        db = open_database(cfg.database_url)
        with patrolling(cfg, detector, db):
            wait_for(lambda: any(e.clip_state == "complete" for e in db.list_events()), 60, "a completed H.265 clip")
        ev = db.list_events()[0]
        assert ev.violation == "parked_bikes"
        clip = cfg.storage.root / ev.clip
        assert sha256_file(clip) == ev.clip_sha256
        with av.open(str(clip)) as c:
            assert c.streams.video[0].codec_context.name == "hevc"  # remuxed, not re-encoded
            packets = [p for p in c.demux(video=0) if p.size]
        with av.open(str(clip)) as c:
            frames = sum(1 for _ in c.decode(video=0))
        assert packets[0].is_keyframe and frames == len(packets)
        assert PRE_S + POST_S <= len(packets) / 25.0 <= PRE_S + POST_S + 2.0 + 0.2
