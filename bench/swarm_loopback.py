#!/usr/bin/env python3
"""Swarm benchmark on loopback: an origin with the built-in test source and N `meshcast peer`
processes, each with its upload capped at a multiple of the measured stream rate. Prints the
figures the glossary names — continuity (mean, 5th-percentile peer), delay p50/p95/p99 (source
time to arrival), startup p50/p95, origin egress as a multiple of the stream rate, overhead —
and writes the per-peer stats as JSON. Everything it starts it stops (by PID); loopback only.

  python3 bench/swarm_loopback.py --meshcast build/release/meshcast --peers 50 --upload-factor 1.5
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read())
    except Exception:  # noqa: BLE001 - a node not up yet
        return None


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshcast", required=True)
    ap.add_argument("--peers", type=int, default=50)
    ap.add_argument("--upload-factor", type=float, default=1.5, help="peer upload cap / stream rate")
    ap.add_argument("--seconds", type=int, default=60, help="measured period after every peer joined")
    ap.add_argument("--source", default="test:640x360@25:600")
    ap.add_argument("--chunk-ms", type=int, default=100)
    ap.add_argument("--playout-delay", type=int, default=1500)
    ap.add_argument("--join-spread", type=float, default=10.0, help="seconds over which peers join")
    ap.add_argument("--out", default=None, help="write per-peer stats JSON here")
    a = ap.parse_args()
    a.peers = max(1, min(a.peers, 500))
    a.seconds = max(5, min(a.seconds, 600))

    logdir = tempfile.mkdtemp(prefix="meshcast-bench-")
    procs = []

    def spawn(argv, name):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(logdir, name + ".log"), "wb"))
        procs.append(p)
        return p

    try:
        http, rtmp, swarm = free_port(), free_port(), free_port()
        base = f"http://127.0.0.1:{http}"
        spawn([a.meshcast, "origin", "--source", a.source, "--name", "bench", "--http", f"127.0.0.1:{http}",
               "--rtmp", f"127.0.0.1:{rtmp}", "--swarm", f"127.0.0.1:{swarm}", "--chunk-ms", str(a.chunk_ms),
               "--max-neighbours", "1000"], "origin")
        rate = None
        for _ in range(100):
            time.sleep(0.2)
            s = get(base + "/api/v1/streams")
            if s and s["streams"] and s["streams"][0]["renditions"] and s["streams"][0]["renditions"][0]["bitrate_bps"] > 0:
                break
        time.sleep(4)
        rate = get(base + "/api/v1/streams")["streams"][0]["renditions"][0]["bitrate_bps"]
        cap_kbps = int(rate * a.upload_factor / 1000)
        print(f"stream rate {rate / 1000:.0f} kbit/s; {a.peers} peers, upload cap {cap_kbps} kbit/s "
              f"({a.upload_factor}x), chunk {a.chunk_ms} ms, playout delay {a.playout_delay} ms")

        peers = []
        for i in range(a.peers):
            hp = free_port()
            spawn([a.meshcast, "--log-level", "warn", "peer", "--tracker", base, "--stream", "live/bench",
                   "--http", f"127.0.0.1:{hp}", "--swarm", "127.0.0.1:0", "--upload-kbps", str(cap_kbps),
                   "--playout-delay", str(a.playout_delay)], f"peer{i}")
            peers.append(f"http://127.0.0.1:{hp}")
            time.sleep(a.join_spread / a.peers)
        time.sleep(5)

        def origin_out():
            st = get(base + "/api/v1/stats")
            return sum(m["bytes"]["payload_out"] for m in st["swarm"]), sum(m["bytes"]["out"] for m in st["swarm"])

        def peer_stats():
            return [get(p + "/api/v1/stats", 5) for p in peers]

        first = peer_stats()
        o0, t0 = origin_out(), time.monotonic()
        time.sleep(a.seconds)
        o1, t1 = origin_out(), time.monotonic()
        last = peer_stats()
        secs = t1 - t0
        rate = get(base + "/api/v1/streams")["streams"][0]["renditions"][0]["bitrate_bps"]

        conts, d50, d95, d99, startups, overheads = [], [], [], [], [], []
        dups, received = 0, 0
        for s0, s1 in zip(first, last):
            if not s0 or not s1 or "playout" not in s1:
                continue
            p0, p1 = s0["playout"], s1["playout"]
            due = (p1["on_time"] + p1["missed"] + p1["late"]) - (p0["on_time"] + p0["missed"] + p0["late"])
            conts.append((p1["on_time"] - p0["on_time"]) / due if due > 0 else 1.0)
            ad = p1.get("arrival_delay_ms", {})
            d50.append(ad.get("p50", float("nan")))
            d95.append(ad.get("p95", float("nan")))
            d99.append(ad.get("p99", float("nan")))
            if "startup_ms" in p1:
                startups.append(p1["startup_ms"])
            c0, c1 = s0.get("chunks", {}), s1.get("chunks", {})
            dups += c1.get("duplicates", 0) - c0.get("duplicates", 0)
            received += (c1.get("pushed_in", 0) + c1.get("pulled_in", 0)) - (c0.get("pushed_in", 0) + c0.get("pulled_in", 0))
            b = s1["bytes"]
            payload = b["payload_in"] + b["payload_out"]
            overheads.append((b["in"] + b["out"] - payload) / payload if payload else 0)
        egress = (o1[0] - o0[0]) * 8 / secs / rate
        egress_wire = (o1[1] - o0[1]) * 8 / secs / rate
        print(f"peers reporting            {len(conts)} of {a.peers}")
        print(f"continuity                 mean {statistics.mean(conts):.4f}, 5th-percentile peer {pct(conts, 5):.4f}, "
              f"worst {min(conts):.4f}")
        print(f"delay (source -> arrival)  p50 {statistics.median(d50):.0f} ms, p95 {statistics.median(d95):.0f} ms, "
              f"p99 {statistics.median(d99):.0f} ms (median over peers); worst peer p99 {max(d99):.0f} ms")
        print(f"startup (join -> playable) p50 {pct(startups, 50):.0f} ms, p95 {pct(startups, 95):.0f} ms")
        print(f"origin egress              {egress:.2f}x the stream rate (payload), {egress_wire:.2f}x on the wire")
        print(f"overhead                   {statistics.mean(overheads) * 100:.2f} % framing+control per payload byte, "
              f"duplicates {dups / max(1, dups + received) * 100:.2f} % of chunk arrivals")
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"first": first, "last": last}, f)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
