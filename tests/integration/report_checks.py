"""Checks shared by the lab and simulator tests: a report directory has every file, report.json
has every figure, plots are real PNG images. Bounds are sanity floors, never exact timings."""
import json
import os
import subprocess

import harness

SCENARIOS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scenarios"))

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ["delay_cdf.png", "continuity.png", "upload_share.png", "timeline.png", "delay_per_chunk.png"]
CSVS = ["arrivals.csv", "nodes.csv", "timeline.csv", "events.csv", "delay_cdf.csv"]


def load_report(out, fail):
    for f in ["report.json", "summary.txt"] + CSVS:
        if not os.path.isfile(os.path.join(out, f)):
            fail(f"report file missing: {f}")
    with open(os.path.join(out, "report.json")) as f:
        r = json.load(f)
    for key in ["mode", "scenario", "plan", "overall", "events", "groups", "nodes"]:
        if key not in r:
            fail(f"report.json lacks '{key}'")
    o = r["overall"]
    for key in ["viewers", "continuity", "delay_ms", "startup_ms", "lag_spread_ms", "offload",
                "origin_egress_x", "overhead", "duplicates", "bound"]:
        if key not in o:
            fail(f"report.json overall lacks '{key}'")
    for q in ["p50", "p95", "p99"]:
        if not (0 < o["delay_ms"][q] < 60_000):
            fail(f"delay {q} out of range: {o['delay_ms']}")
    if not o["bound"]["bound_ms"] > 0:
        fail(f"no delay bound: {o['bound']}")
    return r


def check_plots(out, fail):
    for p in PLOTS:
        path = os.path.join(out, p)
        if not os.path.isfile(path):
            fail(f"plot missing: {p}")
        with open(path, "rb") as f:
            head = f.read(8)
        if head != PNG_MAGIC or os.path.getsize(path) < 1000:
            fail(f"{p} is not a PNG image ({os.path.getsize(path)} bytes)")


def arrivals_rows(out):
    with open(os.path.join(out, "arrivals.csv")) as f:
        return sum(1 for _ in f) - 1


def run_experiment(meshcast, command, scenario, out, *extra, timeout=240):
    """Runs `meshcast lab|sim --scenario scenarios/SCENARIO --out OUT ...` to its end (bounded by
    `timeout`); fails the test on a non-zero exit. Returns what it printed (the summary)."""
    argv = [meshcast, command, "--scenario", os.path.join(SCENARIOS, scenario), "--out", out, *extra]
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if res.returncode != 0:
        harness.fail(f"meshcast {command} {scenario} exited {res.returncode}:\n{res.stderr.decode()[-4000:]}")
    return res.stdout.decode()
