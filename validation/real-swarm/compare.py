#!/usr/bin/env python3
"""Measured vs model for testbed runs (no libtorrent needed).

For each runs/<name>/ it runs `peerfluid run runs/<name>/scenario.toml --json` (the model
with its default η) and `--out` for the time series, and compares over the run's steady
window [steady_from_s, horizon_s] (run.json):

  steady leechers and seeds (window means; model: the closed-form steady state and the
  trajectory's mean over the same window), mean download time (measured: completed peers
  that arrived in [from, horizon − 2 T̂], T̂ by Little = mean leechers / measured arrival
  rate; model: steady_state.completed_download_time_s, the completed downloads' mean, and
  download_time_s, Little's over all), the origin's busy share (measured mean upload
  / its limit over the window; model: server_rate / capacity);
  flash crowds: the first, mean and last completion (model: the k-th completion is when the
  trajectory's completed downloads reach k − 0.5).

Writes runs/<name>/compare.json and prints a Markdown table. Usage:
  python3 compare.py [--peerfluid PATH] [NAME ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def model(peerfluid, scenario):
    js = json.loads(subprocess.run([peerfluid, "run", scenario, "--json", "--no-plots",
                                    "--out", tempfile.mkdtemp()], check=True,
                                   capture_output=True, text=True).stdout)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([peerfluid, "run", scenario, "--out", d, "--no-plots", "--points", "2000"],
                       check=True, capture_output=True, text=True)
        ts = [{k: float(v) for k, v in r.items()} for r in read_csv(os.path.join(d, "timeseries.csv"))]
    return js, ts


def kth_times(ts, n):
    """Time at which the model's completed downloads reach k − 0.5, k = 1..n (linear in between)."""
    out = []
    for k in range(1, n + 1):
        level = k - 0.5
        t = None
        for a, b in zip(ts, ts[1:]):
            if a["completed"] < level <= b["completed"]:
                t = a["t"] + (b["t"] - a["t"]) * (level - a["completed"]) / (b["completed"] - a["completed"])
                break
        out.append(t)
    return out


FIT = "fit"


def compare(name, peerfluid):
    d = os.path.join(RUNS, name)
    meta = json.load(open(os.path.join(d, "run.json")))
    limits = json.load(open(os.path.join(d, "limits.json")))
    trace = [{k: float(v) for k, v in r.items()} for r in read_csv(os.path.join(d, "trace.csv"))]
    secs = [{k: float(v) for k, v in r.items()} for r in read_csv(os.path.join(d, "seconds.csv"))]
    downloads = read_csv(os.path.join(d, "downloads.csv"))
    a, h = meta["steady_from_s"], meta["horizon_s"]
    js, ts = model(peerfluid, os.path.join(d, "scenario.toml"))
    ss = js["steady_state"]
    cap = limits["origin_limit_Bps"] * 8
    res = {"name": name, "window_s": [a, h]}

    if meta["arrivals"] == "flash":
        done = sorted(float(r["completed_s"]) for r in downloads if r["completed_s"])
        n = len(downloads)
        kt = kth_times(ts, n)
        mk = [t for t in kt if t is not None]
        res["measured"] = {"peers": n, "completed": len(done), "first_s": done[0] if done else None,
                           "mean_s": mean(done), "last_s": done[-1] if done else None,
                           "origin_busy": mean(r["origin_up_Bps"] for r in secs if r["t"] <= (done[-1] if done else h)) * 8 / cap}
        res["model"] = {"completed_by_horizon": js["downloads"]["completed"],
                        "first_s": mk[0] if mk else None, "mean_s": mean(mk) if len(mk) == n else None,
                        "last_s": kt[-1]}
    else:
        win = [r for r in trace if a <= r["t"] <= h]
        arr = (win[-1]["arrivals"] - win[0]["arrivals"]) / (win[-1]["t"] - win[0]["t"])
        x = mean(r["leechers"] for r in win)
        y = mean(r["seeds"] for r in win)
        little = x / arr
        cut = h - 2 * little
        times = [float(r["completed_s"]) - float(r["arrived_s"]) for r in downloads
                 if a <= float(r["arrived_s"]) <= cut and r["completed_s"]]
        ostate = mean(r["origin_up_Bps"] for r in secs if a <= r["t"] <= h) * 8 / cap
        # the peers' upload in use: their mean upload over the window against the limits of
        # the peers online (leechers and seeds), second by second
        up_bps = limits["upload_limit_Bps"] * 8
        used = mean(r["peers_up_Bps"] for r in secs if a <= r["t"] <= h) * 8
        online = mean(r["leechers"] + r["seeds"] for r in secs if a <= r["t"] <= h)
        mwin = [r for r in ts if a <= r["t"] <= h]
        res["measured"] = {"arrival_rate": arr, "leechers": x, "seeds": y, "download_time_little_s": little,
                           "download_time_s": mean(times), "download_time_n": len(times),
                           "origin_busy": ostate,
                           "peer_upload_used": used / (online * up_bps) if online else None}
        # the same model at the arrival rate the run actually drew in the window (Poisson noise
        # in a few hundred seconds is ±10-15 %)
        with tempfile.TemporaryDirectory() as td:
            text = open(os.path.join(d, "scenario.toml")).read()
            text = re.sub(r'arrival_rate = "[^"]*"', f'arrival_rate = "{arr:.6g}/s"', text)
            sc = os.path.join(td, "scenario.toml")
            open(sc, "w").write(text)
            js2, _ = model(peerfluid, sc)
        s2 = js2["steady_state"]
        res["model_at_measured_rate"] = {
            "arrival_rate": s2["arrival_rate_per_s"], "leechers": s2["leechers"], "seeds": s2["seeds"],
            "download_time_s": s2["download_time_s"], "regime": s2["regime"],
            "completed_download_time_s": s2.get("completed_download_time_s"),
            "origin_busy": s2["server_rate_bps"] / cap if cap else None,
            "peer_upload_used": s2["peer_rate_bps"] / ((s2["leechers"] + s2["seeds"]) * up_bps)
            if s2["leechers"] + s2["seeds"] > 0 else None}
        res["model"] = {"regime": ss["regime"], "arrival_rate": ss["arrival_rate_per_s"], "leechers": ss["leechers"], "seeds": ss["seeds"],
                        "download_time_s": ss["download_time_s"],
                        "completed_download_time_s": ss.get("completed_download_time_s"),
                        "origin_busy": ss["server_rate_bps"] / cap if cap else None,
                        "peer_upload_used": ss["peer_rate_bps"] / ((ss["leechers"] + ss["seeds"]) * up_bps)
                        if ss["leechers"] + ss["seeds"] > 0 else None,
                        "window_leechers": mean(r["leechers"] for r in mwin),
                        "window_seeds": mean(r["seeds"] for r in mwin),
                        "window_origin_busy": mean(r["server_rate"] for r in mwin) / cap if cap else None}
    # After `peerfluid fit` (fit.sh writes runs/<name>/fit/calibrated.toml): the calibrated model,
    # at the arrival rate the run drew (Poisson runs) or as it is (flash crowd).
    cal = os.path.join(d, FIT, "calibrated.toml")
    if os.path.exists(cal):
        with tempfile.TemporaryDirectory() as td:
            text = open(cal).read()
            if meta["arrivals"] != "flash":
                text = re.sub(r'arrival_rate = "[^"]*"', f'arrival_rate = "{res["measured"]["arrival_rate"]:.6g}/s"', text)
            sc = os.path.join(td, "scenario.toml")
            open(sc, "w").write(text)
            js3, ts3 = model(peerfluid, sc)
        if meta["arrivals"] == "flash":
            n = res["measured"]["peers"]
            kt = kth_times(ts3, n)
            mk = [t for t in kt if t is not None]
            res["model_after_fit"] = {"first_s": mk[0] if mk else None,
                                      "mean_s": mean(mk) if len(mk) == n else None, "last_s": kt[-1]}
        else:
            s3 = js3["steady_state"]
            up_bps = limits["upload_limit_Bps"] * 8
            res["model_after_fit"] = {
                "arrival_rate": s3["arrival_rate_per_s"], "leechers": s3["leechers"], "seeds": s3["seeds"],
                "download_time_s": s3["download_time_s"],
                "completed_download_time_s": s3.get("completed_download_time_s"),
                "origin_busy": s3["server_rate_bps"] / cap if cap else None,
                "peer_upload_used": s3["peer_rate_bps"] / ((s3["leechers"] + s3["seeds"]) * up_bps)
                if s3["leechers"] + s3["seeds"] > 0 else None}
            # The calibrated trajectory itself (`fit` drives it with the trace's arrivals), over
            # the window: what the model says for these arrivals rather than for a stationary
            # swarm at their mean rate (a window of a few hundred seconds is not stationary).
            fitted = [{k: float(v) for k, v in r.items()} for r in read_csv(os.path.join(d, FIT, "fitted.csv"))]
            fw = [r for r in fitted if a <= r["t"] <= h]
            fx = mean(r["leechers_fit"] for r in fw)
            res["trajectory_after_fit"] = {
                "leechers": fx, "seeds": mean(r["seeds_fit"] for r in fw),
                "download_time_little_s": fx / res["measured"]["arrival_rate"]}
        res["fit"] = json.load(open(os.path.join(d, FIT, "fit.json")))["estimates"]
    res["limits"] = {k: limits[k] for k in limits if "over_limit" in k or k == "redundant_share_of_download"}
    out = "compare.json" if FIT == "fit" else f"compare-{FIT}.json"
    with open(os.path.join(d, out), "w") as f:
        json.dump(res, f, indent=1, default=lambda v: None)
        f.write("\n")
    return res


def f(v, nd=1):
    return "–" if v is None else f"{v:.{nd}f}"


def dt(r):
    """A model's mean download time of the completed downloads, and Little's over all."""
    return f"{f(r.get('completed_download_time_s'))} (Little {f(r.get('download_time_s'))})"


def main():
    global RUNS, FIT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peerfluid", default=os.environ.get("PEERFLUID", "peerfluid"))
    ap.add_argument("--runs", default=RUNS, help="folder holding the runs")
    ap.add_argument("--fit", default="fit", help="folder of the calibration in each run "
                    "(fit.sh: fit; fit-terms.sh: fit-terms, written to compare-fit-terms.json)")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    RUNS = args.runs
    FIT = args.fit
    names = args.names or sorted(n for n in os.listdir(RUNS) if os.path.exists(os.path.join(RUNS, n, "trace.csv")))
    after = "model after `fit`" if FIT == "fit" else f"model after `{FIT}.sh`"
    print(f"| run | quantity | measured | model, η = 1 | model, η = 1, measured λ | {after} | its trajectory, trace's arrivals |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        r = compare(n, args.peerfluid)
        m, p = r["measured"], r["model"]
        pct = lambda v: "–" if v is None else f"{100 * v:.0f} %"
        fa = r.get("model_after_fit", {})
        fv = lambda k, nd=1: f(fa.get(k), nd) if fa else "–"
        tr = r.get("trajectory_after_fit", {})
        tv = lambda k: f(tr.get(k)) if tr else "–"
        if "first_s" in m:
            rows = [("first completion (s)", f(m["first_s"]), f(p["first_s"]), "–", fv("first_s"), "–"),
                    ("mean completion (s)", f(m["mean_s"]), f(p["mean_s"]), "–", fv("mean_s"), "–"),
                    ("last completion (s)", f(m["last_s"]), f(p["last_s"]), "–", fv("last_s"), "–"),
                    ("origin busy until the last completion", pct(m["origin_busy"]), "–", "–", "–", "–")]
        else:
            q = r["model_at_measured_rate"]
            fp = lambda k: pct(fa.get(k)) if fa else "–"
            rows = [("arrival rate in window (1/s)", f(m["arrival_rate"], 3), f(p["arrival_rate"], 3), f(q["arrival_rate"], 3), fv("arrival_rate", 3), "–"),
                    ("steady leechers", f(m["leechers"]), f(p["leechers"]), f(q["leechers"]), fv("leechers"), tv("leechers")),
                    ("steady seeds", f(m["seeds"]), f(p["seeds"]), f(q["seeds"]), fv("seeds"), tv("seeds")),
                    ("mean download time of completed peers (s)", f"{f(m['download_time_s'])} (Little {f(m['download_time_little_s'])})",
                     f"{dt(p)} ({p['regime']})", dt(q), dt(fa) if fa else "–",
                     f"(Little {tv('download_time_little_s')})" if tr else "–"),
                    ("origin busy", pct(m["origin_busy"]), pct(p["origin_busy"]), pct(q["origin_busy"]), fp("origin_busy"), "–"),
                    ("peers' upload in use", pct(m["peer_upload_used"]), pct(p["peer_upload_used"]),
                     pct(q["peer_upload_used"]), fp("peer_upload_used"), "–")]
        for qn, mv, pv, qv, av, tv_ in rows:
            print(f"| {n} | {qn} | {mv} | {pv} | {qv} | {av} | {tv_} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
