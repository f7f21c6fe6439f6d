"""Test helpers: camera-like footage and a real RTSP server in a subprocess.

The RTSP server (``tests/rtsp_server.py``) runs under ``/usr/bin/python3``, where GStreamer's
``gi`` bindings live; the virtualenv has PyAV but not ``gi``. So this side uses PyAV to split an
mp4 into Annex-B access units plus a JSON index, and the server only reads those.

Typical use (from a test module or conftest; ``tests/`` is on sys.path under pytest)::

    from rtsp import RtspServer, build_footage, rtsp_unavailable_reason

    footage = build_footage(tmp_path_factory)            # {"parked_bike.mp4": Path, ...}
    with RtspServer({"/cam1": footage["parked_bike.mp4"]}) as server:
        url = server.url("/cam1")                           # rtsp://127.0.0.1:PORT/cam1
        server.kill(); server.start()                       # same port again
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import av
from servers import free_port  # noqa: F401 (benchmarks/soak.py takes it from here)

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SERVER_SCRIPT = TESTS_DIR / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
FOOTAGE_DIR_ENV = "EPATROL_FOOTAGE_DIR"  # set it to keep built footage between test runs

# What PyAV clients pass to av.open for these servers (FFmpeg 8 names; "stimeout" is gone).
RTSP_CLIENT_OPTIONS = {"rtsp_transport": "tcp", "timeout": "5000000"}  # socket I/O timeout, microseconds


# --------------------------------------------------------------------------- footage


def footage_module():
    """``sample_videos.build`` (the repo root is put on sys.path if needed)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from sample_videos import build

    return build


def footage_dir(tmp_path_factory) -> Path:
    """Where tests build footage: ``$EPATROL_FOOTAGE_DIR`` if set (kept between runs), else a
    folder in pytest's session base temp (so every module of a session shares it)."""
    env = os.environ.get(FOOTAGE_DIR_ENV)
    if env:
        path = Path(env)
    else:
        path = tmp_path_factory.getbasetemp() / "footage"
    path.mkdir(parents=True, exist_ok=True)
    return path


_footage_lock = threading.Lock()


def build_footage(tmp_path_factory, names: Iterable[str] | None = None, shared_dir: Path | None = None) -> dict[str, Path]:
    """Build footage (all of ``sample_videos.build.BUILDERS`` unless ``names``) once per session.

    Returns ``{"parked_bike.mp4": Path, "campus_walkers.mp4": Path}``. Files already in the
    folder are reused, so calling it from several fixtures costs nothing after the first call.
    Skips the calling test (``pytest.skip``) when the shared media are missing.
    """
    import pytest

    build = footage_module()
    shared = Path(shared_dir) if shared_dir else build.DEFAULT_SHARED
    out = footage_dir(tmp_path_factory)
    wanted = list(names) if names is not None else list(build.BUILDERS)
    result = {}
    with _footage_lock:
        for name in wanted:
            try:
                result[name] = build.BUILDERS[name](out, shared)
            except build.MissingMediaError as exc:
                pytest.skip(str(exc))
    return result


# --------------------------------------------------------------------------- access units


def export_access_units(mp4: Path | str, out: Path | str) -> Path:
    """Write the H.264 or H.265 video of ``mp4`` as Annex-B access units to ``out`` and an index
    to ``out`` + ``.json``: ``{"source", "codec" ("h264" | "h265"), "fps", "width", "height",
    "units": [{"offset", "size", "pts" (seconds), "key"}]}``. Parameter sets are repeated before
    every keyframe (h264_mp4toannexb / hevc_mp4toannexb), so the stream can be looped and joined
    at any keyframe. Returns ``out``.
    """
    mp4, out = Path(mp4), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    units = []
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        codec = {"h264": "h264", "hevc": "h265"}.get(stream.codec_context.name)
        if codec is None:
            raise ValueError(f"{mp4}: video codec is {stream.codec_context.name}, not h264 or hevc")
        tb = stream.time_base
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        bsf = av.bitstream.BitStreamFilterContext(f"{stream.codec_context.name}_mp4toannexb", stream)
        offset = 0
        with open(out, "wb") as f:

            def write(packets) -> None:
                nonlocal offset
                for p in packets:
                    data = bytes(p)
                    if not data:
                        continue
                    pts = p.pts if p.pts is not None else p.dts
                    units.append({"offset": offset, "size": len(data), "pts": float(pts * tb), "key": bool(p.is_keyframe)})
                    f.write(data)
                    offset += len(data)

            for packet in container.demux(stream):
                if packet.size:  # skip the demuxer's empty flush packet
                    write(bsf.filter(packet))
            write(bsf.filter(None))
        index = {
            "source": mp4.name,
            "codec": codec,
            "fps": fps,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "units": units,
        }
    if not units:
        raise ValueError(f"{mp4}: no video packets")
    out.with_name(out.name + ".json").write_text(json.dumps(index))
    return out


# --------------------------------------------------------------------------- client


def open_rtsp(url: str, timeout_s: float = 5.0, **options: str):
    """``av.open`` an RTSP URL the way these tests do: interleaved TCP, a socket I/O timeout.

    FFmpeg 8's rtsp demuxer takes ``timeout`` (microseconds); ``stimeout`` and ``rw_timeout``
    are silently ignored there (a hung server then blocks the reader forever). A stalled server
    makes ``demux`` raise ``TimeoutError`` (errno 110) after about 2 x ``timeout_s``; a killed
    server just ends the ``demux`` loop (EOF, no exception).
    """
    opts = dict(RTSP_CLIENT_OPTIONS, timeout=str(int(timeout_s * 1_000_000)))
    opts.update(options)
    return av.open(url, options=opts)


# --------------------------------------------------------------------------- server


@functools.cache
def rtsp_unavailable_reason() -> str | None:
    """None when ``/usr/bin/python3`` can run the GStreamer RTSP server, else why not."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "missing = [e for e in ('appsrc', 'h264parse', 'rtph264pay', 'appsink') if not Gst.ElementFactory.find(e)];"
        "assert not missing, 'missing GStreamer elements: ' + ', '.join(missing)"
    )
    try:
        proc = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60, env=_server_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer RTSP server unavailable for {SYSTEM_PYTHON} (apt: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-bad): {last}"
    return None


def rtsp_available() -> bool:
    """True when the GStreamer RTSP server can run (``/usr/bin/python3`` with gi + GstRtspServer 1.0)."""
    return rtsp_unavailable_reason() is None


def _server_env() -> dict[str, str]:
    """The environment for the system python: without the virtualenv's python settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class RtspServer:
    """``tests/rtsp_server.py`` in a subprocess, serving ``mounts`` (``{"/cam1": Path}``) live.

    Sources may be mp4 (exported to Annex-B + index with PyAV, once, into a temp folder; with
    ``export=False`` the server splits the mp4 itself with GStreamer) or ``.h264`` files that
    already have their ``.json`` index. ``from_start=True``: each new media (first client after
    none) starts at the clip's first frame instead of the camera's current position. ``credentials``
    ("user:password") makes it a camera that needs a login. ``port=None`` lets the server pick a
    free port at first start; later ``start()`` calls reuse it (a camera coming back).

    ``with RtspServer(...) as srv`` starts it and stops it (and removes the temp folder) on exit.
    ``srv.urls`` maps mount -> URL; ``srv.url()`` is the first one.
    """

    def __init__(
        self,
        mounts: Mapping[str, Path | str],
        port: int | None = None,
        *,
        from_start: bool = False,
        export: bool = True,
        ready_timeout: float = 20.0,
        workdir: Path | str | None = None,
        credentials: str | None = None,
    ) -> None:
        if not mounts:
            raise ValueError("at least one mount")
        self.mounts = {"/" + str(m).strip("/"): Path(p) for m, p in mounts.items()}
        self.port = port
        self.from_start = from_start
        self.credentials = credentials  # "user:password": the server answers 401 without them
        self.export = export
        self.ready_timeout = ready_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self._sources: dict[str, Path] | None = None
        self.proc: subprocess.Popen | None = None
        self._stderr_file = None
        self.stdout_lines: list[str] = []
        self._ready = threading.Event()

    # -- properties

    @property
    def urls(self) -> dict[str, str]:
        if self.port is None:
            raise RuntimeError("server not started yet: the port is not known")
        return {m: f"rtsp://127.0.0.1:{self.port}{m}" for m in self.mounts}

    def url(self, mount: str | None = None) -> str:
        urls = self.urls
        return urls["/" + mount.strip("/")] if mount else next(iter(urls.values()))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stderr_text(self) -> str:
        """Everything the server logged so far (all runs)."""
        if self.workdir is None:
            return ""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- lifecycle

    def _prepare_sources(self) -> dict[str, Path]:
        if self._sources is None:
            if self.workdir is None:
                self.workdir = Path(tempfile.mkdtemp(prefix="epatrol-rtsp-"))
            self.workdir.mkdir(parents=True, exist_ok=True)
            sources = {}
            for mount, path in self.mounts.items():
                if not path.is_file():
                    raise FileNotFoundError(f"RTSP mount {mount}: source not found: {path}")
                if path.suffix.lower() == ".h264" or not self.export:
                    sources[mount] = path
                else:
                    out = self.workdir / f"{mount.strip('/').replace('/', '_')}.h264"
                    sources[mount] = export_access_units(path, out)
            self._sources = sources
        return self._sources

    def start(self) -> "RtspServer":
        """Launch the server (again, on the same port if it ran before) and wait for READY."""
        if self.running:
            raise RuntimeError(f"server already running (pid {self.proc.pid})")
        reason = rtsp_unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        sources = self._prepare_sources()
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port if self.port is not None else 0)]
        for mount, path in sources.items():
            cmd += ["--mount", f"{mount}={path}"]
        if self.from_start:
            cmd.append("--from-start")
        if self.credentials:
            cmd += ["--credentials", self.credentials]
        if self._stderr_file is None:
            self._stderr_file = open(self.workdir / "server.log", "ab")
        log_start = self._stderr_file.tell()
        self._ready.clear()
        self.stdout_lines = []
        deadline = time.monotonic() + self.ready_timeout
        # A port just freed by a killed server can take a moment to be bindable again.
        while True:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=self._stderr_file, stdin=subprocess.DEVNULL, text=True, env=_server_env(), cwd=REPO_ROOT
            )
            threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True).start()
            while not self._ready.is_set() and self.proc.poll() is None and time.monotonic() < deadline:
                self._ready.wait(0.05)
            if self._ready.is_set():
                break
            if self.proc.poll() is None:  # timed out
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"RTSP server not ready after {self.ready_timeout:.0f} s: {self._log_since(log_start)}")
            log = self._log_since(log_start)
            if "cannot listen" in log and self.port is not None and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise RuntimeError(f"RTSP server exited with code {self.proc.returncode}: {log}")
        ready = next(line for line in self.stdout_lines if line.startswith("READY "))
        first_url = ready.split()[1]
        self.port = int(first_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        return self

    def _read_stdout(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if proc is self.proc:
                self.stdout_lines.append(line)
                if line.startswith("READY "):
                    self._ready.set()

    def _log_since(self, start: int) -> str:
        self._stderr_file.flush()
        text = (self.workdir / "server.log").read_bytes()[start:].decode(errors="replace").strip()
        return text[-4000:] or "(no output on stderr)"

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``). Returns the exit code (None if not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: the camera vanishes without closing its connections cleanly."""
        if self.running:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the camera hangs; connections stay open but nothing arrives."""
        if not self.running:
            raise RuntimeError("server not running")
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after pause(): the stream goes on (timestamps jump by the pause)."""
        if not self.running:
            raise RuntimeError("server not running")
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and remove the temp folder (if this object made it)."""
        self.stop()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._sources = None

    def __enter__(self) -> "RtspServer":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RtspServer({list(self.mounts)}, port={self.port}, {state})"
