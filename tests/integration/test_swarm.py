"""An origin with the test source and 20 peers on loopback for about a minute: every peer's
continuous TS decodes with no error, the origin uploads far less than 20x the stream, a late
joiner starts at the live edge, killing 5 peers with SIGKILL does not stop the others, and a peer
that sends garbage, an oversized frame, a forged chunk or a request flood is disconnected (and
banned) while the rest are unaffected."""
import concurrent.futures
import os
import signal
import socket
import struct
import time

import harness as h

a = h.args()
swarm_port = h.free_port()
o = h.start_origin(a.meshcast, "--source", "test:320x240@25:400", "--name", "demo",
                   "--swarm", f"127.0.0.1:{swarm_port}", "--chunk-ms", "100")
h.wait_for_segments(o, "demo", 1, timeout=20)

N = 20
peers = [h.start_peer(a.meshcast, o.http, "live/demo", f"peer{i}") for i in range(N - 1)]
h.check(h.wait_until(lambda: all(h.json_get(p.http + "/api/v1/stats", 2) is not None for p in peers), 20),
        "19 peers are up", o, *peers)


def stats(p):
    return h.json_get(p.http + "/api/v1/stats", 3) or {}


def released(p):
    return stats(p).get("playout", {}).get("released", 0)


h.check(h.wait_until(lambda: all(released(p) > 0 for p in peers), 30), "every peer plays the stream", o, *peers)

# A late joiner starts at the live edge, not at the oldest chunk held.
time.sleep(8)
edge_before = h.json_get(o.http + "/api/v1/streams")["streams"][0]["renditions"][0]["live_edge"]
late = h.start_peer(a.meshcast, o.http, "live/demo", "late")
peers.append(late)
h.check(h.wait_until(lambda: stats(late).get("playout", {}).get("first_seq") is not None, 30),
        "the late joiner plays", o, late)
ls = stats(late)["playout"]
h.check(ls["first_seq"] >= edge_before, f"late joiner starts at the live edge (first chunk {ls['first_seq']}, "
        f"live edge at join {edge_before})", o, late)
h.check(ls["startup_ms"] < 5000, f"late joiner startup {ls['startup_ms']:.0f} ms", o, late)

# Origin egress over a 10 s window, as a multiple of the stream rate.
def origin_payload_out():
    return sum(m["bytes"]["payload_out"] for m in h.json_get(o.http + "/api/v1/stats")["swarm"])


out0, t0 = origin_payload_out(), time.monotonic()
time.sleep(10)
out1, t1 = origin_payload_out(), time.monotonic()
rate_bps = h.json_get(o.http + "/api/v1/streams")["streams"][0]["renditions"][0]["bitrate_bps"]
egress = (out1 - out0) * 8 / (t1 - t0) / rate_bps
print(f"origin egress: {egress:.2f}x the stream rate with {len(peers)} peers")
h.check(egress < 8, f"origin uploads far less than {len(peers)}x the stream ({egress:.2f}x)", o)

# Misbehaving peers against a well-behaved peer's swarm port.
victim = peers[0]
vport = stats(victim)["swarm_port"]


def conn():
    s = socket.create_connection(("127.0.0.1", vport), timeout=5)
    return s


s = conn()
s.sendall(os.urandom(4096))
frames, closed = h.read_frames(s, 8)
h.check(closed, "garbage: the peer closes the connection", victim)
s.close()

s = conn()
s.sendall(struct.pack(">IB", 0x7FFFFFF0, 6))
frames, closed = h.read_frames(s, 8)
h.check(closed and h.close_reason(frames) == 3, f"oversized frame: closed as malformed ({h.close_reason(frames)})", victim)
s.close()

forger_id = os.urandom(16)
s = conn()
s.sendall(h.swarm_hello("live/demo", forger_id))
time.sleep(0.5)
newest = h.json_get(o.http + "/api/v1/streams")["streams"][0]["renditions"][0]["last_seq"]
s.sendall(h.swarm_chunk(newest + 3))
frames, closed = h.read_frames(s, 8)
h.check(closed and h.close_reason(frames) == 4, f"forged chunk: closed for its bad signature ({h.close_reason(frames)})",
        victim)
s.close()
s = conn()
s.sendall(h.swarm_hello("live/demo", forger_id))
frames, closed = h.read_frames(s, 5)
h.check(closed and h.close_reason(frames) is not None, f"the forger is banned on its next visit ({h.close_reason(frames)})",
        victim)
s.close()

flooder_id = os.urandom(16)
s = conn()
s.sendall(h.swarm_hello("live/demo", flooder_id))
try:
    for i in range(400):
        s.sendall(h.swarm_request([newest - 50 + (i * 7 + j) % 100 for j in range(64)]))
except (BrokenPipeError, ConnectionResetError):
    pass
frames, closed = h.read_frames(s, 8)
h.check(closed and h.close_reason(frames) == 5, f"request flood: closed as a flood ({h.close_reason(frames)})", victim)
s.close()

# Kill 5 peers with SIGKILL; the others keep playing.
for p in peers[1:6]:
    p.stop(sig=signal.SIGKILL)
survivors = [p for p in peers if p.alive()]
before = {p.name: released(p) for p in survivors}
time.sleep(12)
stalled = [p.name for p in survivors if released(p) <= before[p.name] + 50]
h.check(not stalled, f"{len(survivors)} surviving peers keep playing after 5 were killed (stalled: {stalled})", o)

# Continuity and a clean decode at every surviving peer.
conts = [stats(p)["playout"]["continuity"] for p in survivors]
mean = sum(conts) / len(conts)
print(f"continuity: mean {mean:.4f}, min {min(conts):.4f} over {len(conts)} peers")
h.check(mean >= 0.98 and min(conts) >= 0.95, f"continuity mean {mean:.4f} >= 0.98, min {min(conts):.4f} >= 0.95", o)


def decode(p):
    return p.name, h.decode_errors(p.http + "/live/demo.ts", 3, timeout=40)


with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
    results = list(pool.map(decode, survivors))
bad = [(n, rc, err[:200]) for n, (rc, err) in results if rc != 0 or err.strip()]
h.check(not bad, f"every surviving peer's continuous TS decodes with no error ({len(results)} peers) {bad}", o)

for p in survivors:
    p.stop()
h.check(o.stop() == 0, "origin exits cleanly", o)
print("test_swarm: passed")
