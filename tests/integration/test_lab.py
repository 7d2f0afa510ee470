"""meshcast lab, in one process: the CI scenario (20 peers, 30 s, capped uploads, 10–50 ms links)
writes a complete report with sane figures and PNG plots; the churn scenario (half the peers
leave within 10 s) shows the rest recover. Bounded: each run stops by itself after the
scenario's duration plus the playout delay; the whole test is capped by ctest's timeout."""
import os
import time

import harness
from report_checks import arrivals_rows, check_plots, load_report, run_experiment


def run_lab(meshcast, scenario, out, *extra):
    return run_experiment(meshcast, "lab", scenario, out, *extra)


def fail(msg):
    harness.fail(msg)


def main():
    a = harness.args()
    base = harness.tmpdir()

    out = os.path.join(base, "ci")
    summary = run_lab(a.meshcast, "ci.toml", out)
    print(summary)
    r = load_report(out, fail)
    check_plots(out, fail)
    o = r["overall"]
    harness.check(o["viewers"] == 20, f"20 viewers in the report ({o['viewers']})")
    harness.check(o["continuity"]["mean"] >= 0.95, f"mean continuity >= 0.95: {o['continuity']}")
    harness.check(o["offload"] >= 0.5, f"offload >= 0.5: {o['offload']}")
    harness.check(o["origin_egress_x"] <= 8, f"origin egress <= 8x: {o['origin_egress_x']}")
    harness.check(arrivals_rows(out) > 20 * 200, f"arrival records for every viewer: {arrivals_rows(out)}")
    harness.check("continuity" in summary and "bound" in summary, "the summary is printed")

    out = os.path.join(base, "churn")
    summary = run_lab(a.meshcast, "ci-churn.toml", out)
    print(summary)
    r = load_report(out, fail)
    ev = [e for e in r["events"] if "leave" in e["label"]]
    harness.check(ev, f"the leave event is in the report: {r['events']}")
    harness.check(ev[0]["recovery_s"] is not None and ev[0]["recovery_s"] <= 15,
                  f"the remaining peers recover within 15 s: {ev[0]}")
    left = [n for n in r["nodes"] if n["leave_s"] is not None]
    harness.check(len(left) >= 8, f"about half the peers left ({len(left)})")
    stayed = [n for n in r["nodes"] if n["group"] != "origin" and n["leave_s"] is None]
    worst = min(n["continuity"] for n in stayed)
    harness.check(worst >= 0.9, f"every peer that stayed keeps continuity >= 0.9 (worst {worst})")
    # Time dilation: the CI scenario, 15 s of the nodes' time at half speed. The swarm must see the
    # same network (the floors above), the report must be in the nodes' time, and the run must
    # have taken at least twice its length (a lower bound: a loaded machine only adds to it).
    out = os.path.join(base, "dilated")
    t0 = time.monotonic()
    summary = run_lab(a.meshcast, "ci.toml", out, "--duration", "15", "--dilation", "2")
    wall = time.monotonic() - t0
    print(summary)
    r = load_report(out, fail)
    o = r["overall"]
    harness.check("time dilated 2x" in summary, "the summary says the run was dilated")
    harness.check(wall >= 2 * 15, f"15 s dilated 2x took at least 30 s of wall time ({wall:.1f} s)")
    harness.check(o["viewers"] == 20, f"20 viewers in the dilated report ({o['viewers']})")
    harness.check(o["continuity"]["mean"] >= 0.9, f"dilated: mean continuity >= 0.9: {o['continuity']}")
    harness.check(o["offload"] >= 0.5, f"dilated: offload >= 0.5: {o['offload']}")
    # Delays in the nodes' time: the 10-50 ms links and 100 ms chunks put the median well under a
    # second; in wall time it would be twice that.
    harness.check(o["delay_ms"]["p50"] < 1000, f"dilated: delay p50 in the nodes' time: {o['delay_ms']}")
    print("lab: ok")


if __name__ == "__main__":
    main()
