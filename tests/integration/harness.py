"""Shared fixtures for meshcast's integration tests.

Every test runs real processes on loopback only, bounds every wait in time, and stops only the
processes it started (by PID). Test media is generated at test time with ffmpeg's lavfi sources,
small (320x240) and short, so nothing large is kept in the repository.
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

_started = []


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--meshcast", required=True, help="path to the meshcast binary")
    return p.parse_args()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tmpdir():
    d = tempfile.mkdtemp(prefix="meshcast-it-")
    atexit.register(shutil.rmtree, d, True)
    return d


class proc:
    """A child process whose combined output goes to a log file we can search."""

    def __init__(self, argv, name, stdin=None):
        self.name = name
        self.log_path = os.path.join(tmpdir(), name + ".log")
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=stdin or subprocess.DEVNULL)
        _started.append(self)

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        return self.p.returncode


def _cleanup():
    for p in _started:
        if p.p.poll() is None:
            p.p.kill()
            try:
                p.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_cleanup)


def fail(msg, *procs):
    print("FAIL:", msg)
    for p in procs:
        print(f"---- {p.name} log (tail) ----")
        print(p.output()[-4000:])
    sys.exit(1)


def check(cond, msg, *procs):
    if not cond:
        fail(msg, *procs)
    print("ok:", msg)


def http_get(url, timeout=5):
    """Returns (status, body bytes, headers); never raises for HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError):
        return None, b"", {}


def wait_until(pred, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def ffprobe_json(url_or_path, extra=(), timeout=30):
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", *extra, url_or_path]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        return None, r.stderr.decode("utf-8", "replace")
    return json.loads(r.stdout), r.stderr.decode("utf-8", "replace")


def ffprobe_segment(url):
    """Fetches a segment and probes the bytes as a file (ffprobe needs to seek for a duration)."""
    st, body, _ = http_get(url, 10)
    if st != 200:
        return None, f"HTTP {st}"
    path = os.path.join(tmpdir(), "segment.ts")
    with open(path, "wb") as f:
        f.write(body)
    return ffprobe_json(path)


def decode_errors(url, seconds, timeout=60):
    """Decodes `seconds` of a stream with ffmpeg; returns (exit code, stderr text)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", str(seconds), "-f", "null", "-"],
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def make_clip(path, seconds=6, gop=30, fps=15, size="320x240", vcodec="libx264", acodec="aac"):
    """A small test clip with H.264 + AAC (or the codecs asked for), keyframe every `gop` frames."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
           "-t", str(seconds), "-c:v", vcodec]
    if vcodec == "libx264":
        cmd += ["-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop), "-keyint_min", str(gop),
                "-sc_threshold", "0", "-b:v", "300k", "-pix_fmt", "yuv420p"]
    cmd += ["-c:a", acodec, "-b:a", "64k", path]
    subprocess.run(cmd, check=True, timeout=60)
    return path


def start_origin(meshcast, *extra, name="origin"):
    http_port, rtmp_port = free_port(), free_port()
    o = proc([meshcast, "origin", "--http", f"127.0.0.1:{http_port}", "--rtmp", f"127.0.0.1:{rtmp_port}", *extra], name)
    o.http = f"http://127.0.0.1:{http_port}"
    o.rtmp = f"rtmp://127.0.0.1:{rtmp_port}"
    o.rtmp_port = rtmp_port
    ok = wait_until(lambda: http_get(o.http + "/api/v1/streams", 1)[0] == 200 or not o.alive(), 15)
    if not ok or not o.alive():
        fail("origin did not start", o)
    return o


def wait_for_segments(origin, stream, n, timeout=30):
    """Waits until the stream's media playlist lists at least n segments; returns the playlist text."""
    url = f"{origin.http}/live/{stream}/source.m3u8"

    def ready():
        st, body, _ = http_get(url, 5)
        if st == 200 and body.decode().count("#EXTINF") >= n:
            return body.decode()
        return None

    pl = wait_until(ready, timeout, 0.5)
    if not pl:
        fail(f"no playlist with {n} segments for {stream} within {timeout}s", origin)
    return pl


def parse_media_playlist(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    out = {"media_sequence": None, "target": None, "segments": [], "discontinuities": 0}
    dur = None
    for l in lines:
        if l.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            out["media_sequence"] = int(l.split(":")[1])
        elif l.startswith("#EXT-X-TARGETDURATION:"):
            out["target"] = int(l.split(":")[1])
        elif l.startswith("#EXTINF:"):
            dur = float(l.split(":")[1].split(",")[0])
        elif l == "#EXT-X-DISCONTINUITY":
            out["discontinuities"] += 1
        elif not l.startswith("#"):
            out["segments"].append((l, dur))
    return out


class ts_reader:
    """Reads a continuous TS stream on a thread, counting bytes, until told to stop."""

    def __init__(self, url):
        import threading
        self.url = url
        self.bytes = 0
        self.error = None
        self.closed = False
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            with urllib.request.urlopen(self.url, timeout=10) as r:
                while not self._stop:
                    b = r.read(65536)
                    if not b:
                        self.closed = True
                        return
                    self.bytes += len(b)
        except Exception as e:  # noqa: BLE001 - recorded for the test to report
            self.error = repr(e)

    def stop(self):
        self._stop = True
        self.t.join(timeout=15)


# ---- swarm protocol (docs/protocol.md), just enough to play a misbehaving peer ----

def swarm_frame(ftype, body):
    import struct
    return struct.pack(">IB", 1 + len(body), ftype) + body


def swarm_hello(stream, node_id, rendition="source", role=2, origin_key=bytes(32)):
    import struct

    def name(s):
        b = s.encode()
        return struct.pack(">H", len(b)) + b
    body = struct.pack(">IB", 0x4D435357, 1) + name(stream) + name(rendition) + node_id + \
        struct.pack(">BIH", role, 0, 0) + origin_key
    return swarm_frame(1, body)


def swarm_request(seqs):
    import struct
    return swarm_frame(4, struct.pack(">H", len(seqs)) + b"".join(struct.pack(">Q", s) for s in seqs))


def swarm_chunk(seq, payload_packets=2, signature=None, pushed=True):
    """A chunk frame whose signature is garbage unless given."""
    import struct
    payload = (b"\x47" + bytes(187)) * payload_packets
    sig = signature if signature is not None else os.urandom(64)
    head = struct.pack(">QQIqqqB", seq, 0, 0, int(time.time() * 1e6), 100_000, 0, 3) + sig + \
        struct.pack(">BI", 1 if pushed else 0, len(payload))
    return swarm_frame(6, head + payload)


def read_frames(sock, timeout=5):
    """Reads frames until the peer closes or `timeout` passes; returns (list of (type, body), closed)."""
    import struct
    sock.settimeout(timeout)
    buf = b""
    frames = []
    closed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            b = sock.recv(65536)
            if not b:
                closed = True
                break
            buf += b
            while len(buf) >= 5:
                (n,) = struct.unpack(">I", buf[:4])
                if len(buf) < 4 + n:
                    break
                frames.append((buf[4], buf[5:4 + n]))
                buf = buf[4 + n:]
    except (socket.timeout, TimeoutError):
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    return frames, closed


def close_reason(frames):
    """The reason code of the first close frame (type 11), or None."""
    for t, body in frames:
        if t == 11 and body:
            return body[0]
    return None


def json_get(url, timeout=5):
    st, body, _ = http_get(url, timeout)
    if st != 200:
        return None
    return json.loads(body)


def start_peer(meshcast, tracker_http, stream, name, *extra):
    http_port = free_port()
    p = proc([meshcast, "peer", "--tracker", tracker_http, "--stream", stream, "--http",
              f"127.0.0.1:{http_port}", "--swarm", "127.0.0.1:0", *extra], name)
    p.http = f"http://127.0.0.1:{http_port}"
    return p
