"""meshcast sim: the CI scenario in the simulator writes a complete report with sane figures and
plots, and the same seed gives a byte-identical report.json (determinism)."""
import os

import harness
from report_checks import check_plots, load_report, run_experiment


def run_sim(meshcast, scenario, out, *extra):
    return run_experiment(meshcast, "sim", scenario, out, *extra)


def main():
    a = harness.args()
    base = harness.tmpdir()
    one, two = os.path.join(base, "one"), os.path.join(base, "two")
    print(run_sim(a.meshcast, "ci.toml", one))
    run_sim(a.meshcast, "ci.toml", two, "--no-plots")
    r = load_report(one, harness.fail)
    check_plots(one, harness.fail)
    o = r["overall"]
    harness.check(o["viewers"] == 20, f"20 viewers in the report ({o['viewers']})")
    harness.check(o["continuity"]["mean"] >= 0.95, f"mean continuity >= 0.95: {o['continuity']}")
    harness.check(o["offload"] >= 0.5, f"offload >= 0.5: {o['offload']}")
    with open(os.path.join(one, "report.json"), "rb") as f1, open(os.path.join(two, "report.json"), "rb") as f2:
        harness.check(f1.read() == f2.read(), "the same scenario and seed give a byte-identical report.json")

    # The churn scenario runs too (half the peers leave); the rest keep playing.
    churn = os.path.join(base, "churn")
    print(run_sim(a.meshcast, "ci-churn.toml", churn, "--no-plots"))
    r = load_report(churn, harness.fail)
    ev = [e for e in r["events"] if "leave" in e["label"]]
    harness.check(ev and ev[0]["recovery_s"] is not None, f"the rest recover after the departure: {r['events']}")
    print("sim: ok")


if __name__ == "__main__":
    main()
