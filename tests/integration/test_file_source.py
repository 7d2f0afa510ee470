"""The origin pulling a file (MP4, looped) and a TCP MPEG-TS byte stream: both serve valid HLS and
a continuous TS that decodes with no error."""
import os
import socket
import threading

import harness as h

a = h.args()
d = h.tmpdir()
mp4 = h.make_clip(os.path.join(d, "clip.mp4"), seconds=4, gop=30, fps=15)
ts = h.make_clip(os.path.join(d, "clip.ts"), seconds=20, gop=30, fps=15)

# A loopback TCP server that sends the TS clip to whoever connects, paced roughly in real time.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(4)
tcp_port = srv.getsockname()[1]
data = open(ts, "rb").read()


def serve():
    srv.settimeout(60)
    try:
        c, _ = srv.accept()
    except OSError:
        return
    import time
    step = max(188 * 7, len(data) // 200)
    with c:
        for i in range(0, len(data), step):
            try:
                c.sendall(data[i:i + step])
            except OSError:
                return
            time.sleep(0.1)


threading.Thread(target=serve, daemon=True).start()

o = h.start_origin(a.meshcast, "--source", f"file:{mp4}:loop", "--name", "file",
                   "--source", f"tcp://127.0.0.1:{tcp_port}", "--name", "tcp")

for name in ("file", "tcp"):
    pl = h.wait_for_segments(o, name, 2, timeout=40)
    info, err = h.ffprobe_json(f"{o.http}/live/{name}/source.m3u8")
    h.check(info is not None, f"{name}: ffprobe reads the playlist ({err.strip()[:200]})", o)
    codecs = sorted(s["codec_name"] for s in info["streams"])
    h.check(codecs == ["aac", "h264"], f"{name}: streams are h264 + aac: {codecs}", o)
    m = h.parse_media_playlist(pl)
    for uri, dur in m["segments"]:
        h.check(abs(dur - 2.0) < 0.3, f"{name}: segment {uri} lasts a GOP: {dur}", o)

rc, err = h.decode_errors(o.http + "/live/file.ts", 5)
h.check(rc == 0 and err.strip() == "", f"file: continuous TS decodes with no error (rc={rc}) {err[:300]}", o)

h.check(o.stop() == 0, "origin exits cleanly", o)
srv.close()
print("test_file_source: passed")
