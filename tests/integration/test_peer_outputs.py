"""A peer's other outputs and the tracker-less bootstrap: peer A joins through the tracker; peer B
joins with --join A's swarm port and no tracker (learning the origin key from the handshake) and
writes the stream to standard output; peer A also serves raw TS on --tcp-output. Both byte
streams are MPEG-TS that ffmpeg decodes with no error."""
import os
import socket
import subprocess
import time

import harness as h

a = h.args()
d = h.tmpdir()
o = h.start_origin(a.meshcast, "--source", "test:320x240@25:400", "--name", "demo",
                   "--swarm", f"127.0.0.1:{h.free_port()}")
h.wait_for_segments(o, "demo", 1, timeout=20)

tcp_port = h.free_port()
pa = h.start_peer(a.meshcast, o.http, "live/demo", "peerA", "--tcp-output", f"127.0.0.1:{tcp_port}",
                  "--playout-delay", "1000")
h.check(h.wait_until(lambda: (h.json_get(pa.http + "/api/v1/stats", 2) or {}).get("playout", {}).get("released", 0) > 0, 30),
        "peer A plays through the tracker", o, pa)
a_port = h.json_get(pa.http + "/api/v1/stats")["swarm_port"]

# Peer B: no tracker, bootstraps from peer A, writes TS to its standard output.
out_path = os.path.join(d, "peerB.ts")
b_http = h.free_port()
with open(out_path, "wb") as out:
    pb = subprocess.Popen([a.meshcast, "peer", "--join", f"127.0.0.1:{a_port}", "--stream", "live/demo",
                           "--http", f"127.0.0.1:{b_http}", "--output", "-", "--playout-delay", "1000"],
                          stdout=out, stderr=open(os.path.join(d, "peerB.log"), "wb"))
    h._started.append(type("p", (), {"p": pb})())
    h.check(h.wait_until(lambda: os.path.getsize(out_path) > 300_000, 40), "peer B writes the stream to stdout", o, pa)
    bstats = h.json_get(f"http://127.0.0.1:{b_http}/api/v1/stats")
    h.check(bstats["public_key_known"], "peer B learnt the origin key from the handshake", o)
    pb.terminate()
    pb.wait(timeout=10)
data = open(out_path, "rb").read()
h.check(data[0] == 0x47 and all(data[i] == 0x47 for i in range(0, min(len(data), 188 * 500), 188)),
        "standard output carries aligned TS packets", o)
r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", out_path, "-f", "null", "-"], capture_output=True, timeout=60)
h.check(r.returncode == 0 and not r.stderr.strip(), f"ffmpeg decodes peer B's standard output with no error {r.stderr[:300]}", o)

# Raw TCP output of peer A.
s = socket.create_connection(("127.0.0.1", tcp_port), timeout=5)
s.settimeout(10)
buf = b""
deadline = time.monotonic() + 20
while len(buf) < 300_000 and time.monotonic() < deadline:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
s.close()
h.check(len(buf) >= 300_000 and buf[0] == 0x47, f"--tcp-output serves TS ({len(buf)} bytes)", o, pa)
raw = os.path.join(d, "tcp.ts")
open(raw, "wb").write(buf[: len(buf) // 188 * 188])
r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", raw, "-f", "null", "-"], capture_output=True, timeout=60)
h.check(r.returncode == 0 and not r.stderr.strip(), f"ffmpeg decodes the TCP output with no error {r.stderr[:300]}", o)

pa.stop()
h.check(o.stop() == 0, "origin exits cleanly", o)
print("test_peer_outputs: passed")
