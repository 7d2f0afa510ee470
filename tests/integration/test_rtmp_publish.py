"""Stock ffmpeg publishes over RTMP; ffprobe validates what the origin serves. Bad publishers
(wrong key, second publisher, garbage bytes, truncated handshake, oversized sizes, unknown codec)
are each refused and closed while a viewer of the live stream keeps receiving. A publisher that
drops and comes back shows as a discontinuity, and the viewer keeps its session."""
import os
import socket
import struct
import subprocess
import time

import harness as h

a = h.args()
d = h.tmpdir()
clip = h.make_clip(os.path.join(d, "clip.mp4"), seconds=6, gop=30, fps=15)
o = h.start_origin(a.meshcast, "--key", "cam=secret", "--key", "other=pw")


def publish(name, key, src=clip, codec_args=("-c", "copy"), seconds=60, label="publisher"):
    url = f"{o.rtmp}/live/{name}" + (f"?key={key}" if key is not None else "")
    return h.proc(["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", src,
                   *codec_args, "-t", str(seconds), "-f", "flv", url], label)


pub = publish("cam", "secret")
pl = h.wait_for_segments(o, "cam", 2, timeout=30)
info, err = h.ffprobe_json(o.http + "/live/cam/source.m3u8")
h.check(info is not None, f"ffprobe reads the RTMP stream's playlist ({err.strip()[:200]})", o, pub)
codecs = sorted(s["codec_name"] for s in info["streams"])
h.check(codecs == ["aac", "h264"], f"streams are h264 + aac: {codecs}", o)
m = h.parse_media_playlist(pl)
for uri, dur in m["segments"]:
    h.check(abs(dur - 2.0) < 0.3, f"segment {uri} lasts a GOP: {dur}", o)

viewer = h.ts_reader(o.http + "/live/cam.ts")
h.check(h.wait_until(lambda: viewer.bytes > 50_000, 10), "a continuous-TS viewer receives the stream", o)


def still_flowing(what):
    before = viewer.bytes
    ok = h.wait_until(lambda: viewer.bytes > before + 20_000, 10)
    h.check(ok and viewer.error is None and not viewer.closed, f"viewer keeps receiving after {what}", o)
    h.check(pub.alive(), f"the good publisher is still publishing after {what}", o, pub)


def refused_publisher(p, what):
    rc = p.wait(20)
    h.check(rc is not None and rc != 0, f"{what}: ffmpeg publisher is refused (rc={rc})", o, p)


# 1. Wrong key, missing key, unknown stream name.
refused_publisher(publish("cam2", "secret", seconds=5, label="unknown-stream"), "stream with no key configured")
refused_publisher(publish("other", "wrong", seconds=5, label="wrong-key"), "wrong key")
refused_publisher(publish("other", None, seconds=5, label="no-key"), "missing key")
# 2. A second publisher on a live stream.
refused_publisher(publish("cam", "secret", seconds=5, label="second"), "second publisher on a live stream")
# 3. An unknown codec (Sorenson H.263 in FLV).
refused_publisher(publish("other", "pw", codec_args=("-c:v", "flv1", "-c:a", "aac"), seconds=5, label="flv1"),
                  "unsupported video codec")
still_flowing("refused publishers")
log = o.output()
h.check("key" in log.lower(), "the origin logs the key refusal", o)
h.check("codec" in log.lower(), "the origin logs the codec refusal", o)


def raw_conn():
    s = socket.create_connection(("127.0.0.1", o.rtmp_port), timeout=5)
    s.settimeout(10)
    return s


def closed_by_server(s, timeout=12):
    s.settimeout(timeout)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def handshake(s):
    s.sendall(b"\x03" + bytes(1536))
    got = b""
    while len(got) < 1 + 1536 * 2:
        b = s.recv(65536)
        if not b:
            raise RuntimeError("closed during handshake")
        got += b
    s.sendall(got[1:1537])  # C2 echoes S1


# 4. Garbage bytes instead of a handshake.
s = raw_conn()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(3000))
h.check(closed_by_server(s), "garbage bytes: the server closes the connection", o)
s.close()
# 5. A truncated handshake: C0 and half of C1, then silence (the server times out) or a close.
s = raw_conn()
s.sendall(b"\x03" + bytes(700))
s.close()
# 6. An oversized chunk size, then a message larger than any limit.
s = raw_conn()
handshake(s)
# Set Chunk Size (type 1) on csid 2, message stream 0, value 0x7fffffff.
s.sendall(bytes([0x02]) + b"\x00\x00\x00" + b"\x00\x00\x04" + b"\x01" + b"\x00\x00\x00\x00" + struct.pack(">I", 0x7FFFFFFF))
# A video message (type 9) announcing 16777215 bytes.
s.sendall(bytes([0x04]) + b"\x00\x00\x00" + b"\xff\xff\xff" + b"\x09" + b"\x01\x00\x00\x00" + os.urandom(4096))
h.check(closed_by_server(s), "oversized message: the server closes the connection", o)
s.close()
still_flowing("bad RTMP connections")

# 7. The publisher drops (killed) and comes back: the viewer keeps its session, the playlist shows
# a discontinuity, and the stream decodes.
pub.stop()
time.sleep(2)
h.check(not viewer.closed and viewer.error is None, "viewer keeps its session while the publisher is away", o)
pub = publish("cam", "secret", label="publisher-again")
h.check(h.wait_until(lambda: b"#EXT-X-DISCONTINUITY\n" in h.http_get(o.http + "/live/cam/source.m3u8")[1], 30),
        "the playlist shows a discontinuity after the publisher came back", o, pub)
still_flowing("the publisher came back")
rc, err = h.decode_errors(o.http + "/live/cam.ts", 5)
h.check(rc == 0 and err.strip() == "", f"continuous TS decodes with no error (rc={rc}) {err[:300]}", o)
info, err = h.ffprobe_json(o.http + "/live/cam/source.m3u8")
h.check(info is not None, "ffprobe still reads the playlist after the discontinuity", o)

viewer.stop()
pub.stop()
h.check(o.stop() == 0, "origin exits cleanly", o)
print("test_rtmp_publish: passed")
