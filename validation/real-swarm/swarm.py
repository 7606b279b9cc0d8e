#!/usr/bin/env python3
"""Real-client BitTorrent testbed for peerfluid (issue 20 §3).

One libtorrent session per peer on 127.0.0.1, each with its own upload and download
limit (loopback peers put in the rate-limited peer class), one origin seed with a capped
upload, and a tracker-like driver: Poisson or flash-crowd arrivals, aborts at rate θ,
seed residence Exp(mean). Writes, into runs/<name>/:

  trace.csv      t,leechers,seeds,arrivals,completions,aborts   (one row per second,
                 t from the first arrival; the origin is not counted as a seed)
  downloads.csv  peer,arrived_s,completed_s                     (empty: aborted / unfinished)
  seconds.csv    per-second rates: origin upload, peers' upload and download (payload B/s),
                 redundant and failed bytes
  peers.csv      per peer: lifetime, bytes, mean and peak (30 s) rates against the limits
  limits.json    the check that the limits held, summarised
  scenario.toml  the peerfluid scenario with the same parameters (η left at its default)
  run.json       the command line, the seed, the machine and the wall time

Bounded: at most --max-sessions sessions online at once (origin included, ≤ 40), at
most 600 s of run time, loopback only. Usage: see README.md beside this file.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import queue

import libtorrent as lt

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SESSIONS = 40
MAX_SECONDS = 600

# ---------------------------------------------------------------- units (peerfluid's spellings)

_SIZE = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_RATE = {"bps": 1, "kbps": 1e3, "Mbps": 1e6, "Gbps": 1e9}


def _parse(text: str, table: dict) -> tuple[float, str]:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]+)\s*", text)
    if not m or m.group(2) not in table:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number and one of {list(table)}")
    return float(m.group(1)) * table[m.group(2)], f"{m.group(1)} {m.group(2)}"


def size_arg(text: str):
    value, canon = _parse(text, _SIZE)
    return int(round(value)), canon


def rate_arg(text: str):
    """bit/s, kept with its spelling for scenario.toml."""
    value, canon = _parse(text, _RATE)
    return value, canon


def fmt_seconds(s: float) -> str:
    return f"{s:g} s"


# ---------------------------------------------------------------- libtorrent sessions


def make_session(up_Bps: int, down_Bps: int) -> lt.session:
    """A session listening on loopback with per-session limits that apply to loopback peers."""
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # TCP only: uTP's congestion control adds its own dynamics on loopback
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # every peer is 127.0.0.1 (different ports)
        "allow_multiple_connections_per_ip": True,
        # limits in bytes/s on BitTorrent bytes (payload + protocol messages), not on
        # estimated TCP/IP headers: the model's bandwidth is the payload's
        "upload_rate_limit": up_Bps,
        "download_rate_limit": down_Bps,
        "rate_limit_ip_overhead": False,
        "aio_threads": 1,
        "hashing_threads": 1,
        "alert_mask": 0,
        "user_agent": "peerfluid-testbed",
    }
    ses = lt.session(settings)
    # libtorrent puts local-network and loopback peers in the "local" peer class, which has
    # no rate limit and ignores unchoke slots. Map every address to the global class only,
    # so the session's upload/download limits (and normal choking) apply to loopback peers.
    flt = lt.ip_filter()
    glob = 1 << lt.session.global_peer_class_id
    flt.add_rule("0.0.0.0", "255.255.255.255", glob)
    flt.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", glob)
    ses.set_peer_class_filter(flt)
    return ses


def add(ses: lt.session, ti: lt.torrent_info, path: str, seed: bool) -> lt.torrent_handle:
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = path
    flags = atp.flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
    if seed:
        flags |= lt.torrent_flags.seed_mode
    atp.flags = flags
    return ses.add_torrent(atp)


class Reaper(threading.Thread):
    """Deletes departed sessions off the driver's thread (a session's destructor blocks)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.q: queue.Queue = queue.Queue()

    def run(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            del item


# ---------------------------------------------------------------- the driver


class Peer:
    def __init__(self, pid, arrive, abort_after, residence):
        self.pid = pid
        self.arrive = arrive  # s from the first arrival
        self.abort_after = abort_after  # s after arrival (inf: never)
        self.residence = residence  # s as a seed
        self.ses = None
        self.h = None
        self.state = "future"  # future, leech, seed, gone
        self.completed = None
        self.left = None
        self.outcome = None  # completed-left, aborted, unfinished, seeding-at-end
        self.port = None
        self.samples = []  # (t, payload_up, payload_down) once a second
        self.final = (0, 0, 0, 0)  # up, down, redundant, failed at departure
        self.first_up = None


def schedule(args, rng):
    """Arrival times (first at 0), abort delays and seed residences, from one seeded RNG."""
    if args.arrivals == "poisson":
        times, t = [], 0.0
        while True:
            times.append(t)
            t += rng.expovariate(args.rate)
            if t >= args.arrive_until:
                break
    else:
        times = sorted(rng.uniform(0, args.window) for _ in range(args.count))
        times = [x - times[0] for x in times]
    peers = []
    for i, t in enumerate(times):
        ab = rng.expovariate(args.abort_rate) if args.abort_rate > 0 else math.inf
        res = rng.expovariate(1.0 / args.seed_residence) if args.seed_residence > 0 else 0.0
        peers.append(Peer(i, t, ab, res))
    return peers


def totals(h):
    st = h.status()
    return st.total_payload_upload, st.total_payload_download, st.total_redundant_bytes, st.total_failed_bytes, st


def run(args):
    out = os.path.join(args.out, args.name)
    os.makedirs(out, exist_ok=True)
    rng = random.Random(args.seed)
    peers = schedule(args, rng)

    work = tempfile.mkdtemp(prefix=f"swarm-{args.name}-", dir=args.scratch)
    try:
        return _run(args, out, peers, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, out, peers, work):
    size = args.size[0]
    up_Bps = int(round(args.upload[0] / 8))
    down_Bps = int(round(args.download[0] / 8))
    origin_Bps = int(round(args.origin[0] / 8))

    # the content: deterministic bytes, one file
    os.makedirs(os.path.join(work, "origin"))
    fpath = os.path.join(work, "origin", "content.bin")
    frng = random.Random(args.seed ^ 0x5EED)
    with open(fpath, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(frng.randbytes(n))
            left -= n
    ct = lt.create_torrent(lt.list_files(fpath), args.piece_size[0])
    lt.set_piece_hashes(ct, os.path.join(work, "origin"))
    ti = lt.torrent_info(ct.generate())

    origin = make_session(origin_Bps, 0)
    oh = add(origin, ti, os.path.join(work, "origin"), seed=True)
    oport = origin.listen_port()
    time.sleep(1.0)

    reaper = Reaper()
    reaper.start()
    online: list[Peer] = []
    refused = 0
    arrivals = completions = aborts = 0
    trace_rows, second_rows = [], []
    origin_samples = []
    prev = None
    departed_tot = [0, 0, 0, 0]  # up, down, redundant, failed of departed peers

    def depart(p: Peer, now: float, outcome: str):
        nonlocal departed_tot
        up, down, red, fail, _ = totals(p.h)
        p.final = (up, down, red, fail)
        for i, v in enumerate(p.final):
            departed_tot[i] += v
        p.samples.append((now, up, down))
        p.left, p.outcome, p.state = now, outcome, "gone"
        p.ses.remove_torrent(p.h)
        reaper.q.put(p.ses)
        p.ses = p.h = None
        online.remove(p)

    def announce(p: Peer):
        """The tracker's answer: every other online session, and the origin."""
        p.h.connect_peer(("127.0.0.1", oport))
        for q in online:
            if q is not p and q.port:
                p.h.connect_peer(("127.0.0.1", q.port))

    start = time.monotonic()
    next_i = 0
    next_sec = 0
    horizon = args.horizon
    last_announce = {}
    while True:
        now = time.monotonic() - start
        # arrivals
        while next_i < len(peers) and peers[next_i].arrive <= now and now < horizon:
            p = peers[next_i]
            next_i += 1
            if len(online) + 1 >= args.max_sessions:
                refused += 1
                p.state, p.outcome = "gone", "refused"
                continue
            p.ses = make_session(up_Bps, down_Bps)
            pdir = os.path.join(work, f"p{p.pid}")
            os.makedirs(pdir)
            p.h = add(p.ses, ti, pdir, seed=False)
            p.port = p.ses.listen_port()
            p.state = "leech"
            p.arrived_wall = now
            online.append(p)
            arrivals += 1
            announce(p)
            last_announce[p.pid] = now
        # completions, aborts, departures
        for p in list(online):
            if p.state == "leech":
                st = p.h.status()
                if st.is_seeding:
                    p.completed = now
                    completions += 1
                    p.state = "seed"
                    if p.residence <= 0:
                        depart(p, now, "completed")
                    continue
                if now - p.arrive >= p.abort_after:
                    aborts += 1
                    depart(p, now, "aborted")
                    continue
                if now - last_announce[p.pid] >= args.reannounce:
                    announce(p)
                    last_announce[p.pid] = now
            elif p.state == "seed" and now - p.completed >= p.residence:
                depart(p, now, "completed")
        # per-second log
        if now >= next_sec:
            t = next_sec
            nle = sum(1 for p in online if p.state == "leech")
            nse = sum(1 for p in online if p.state == "seed")
            trace_rows.append((t, nle, nse, arrivals, completions, aborts))
            tot = list(departed_tot)
            for p in online:
                up, down, red, fail, _ = totals(p.h)
                p.samples.append((now, up, down))
                if p.first_up is None and up > 0:
                    p.first_up = now
                for i, v in enumerate((up, down, red, fail)):
                    tot[i] += v
            ost = oh.status()
            origin_samples.append((now, ost.total_payload_upload))
            cur = (now, ost.total_payload_upload, *tot)
            if prev is not None:
                dt = cur[0] - prev[0]
                second_rows.append(
                    (t, nle, nse)
                    + tuple(round((c - q) / dt) for c, q in zip(cur[1:], prev[1:]))
                )
            prev = cur
            next_sec += 1
            if next_sec > horizon:
                break
            done = next_i >= len(peers) and not online
            if done and args.stop_when_empty:
                # nothing can change any more: the remaining rows repeat this state
                while next_sec <= horizon:
                    trace_rows.append((next_sec, 0, 0, arrivals, completions, aborts))
                    next_sec += 1
                break
        time.sleep(args.poll)

    wall = time.monotonic() - start
    end = min(wall, horizon)
    for p in list(online):
        depart(p, end, "seeding-at-end" if p.state == "seed" else "unfinished")
    origin_up_total = oh.status().total_payload_upload
    origin.remove_torrent(oh)
    reaper.q.put(origin)
    reaper.q.put(None)
    reaper.join(timeout=30)

    write_outputs(args, out, peers, trace_rows, second_rows, origin_samples, origin_up_total,
                  up_Bps, down_Bps, origin_Bps, refused, wall, ti)
    return 0


# ---------------------------------------------------------------- outputs


def window_peak(samples, idx, span=30.0):
    """Largest mean rate over any window of ≥ span seconds between two samples."""
    best = 0.0
    j = 0
    for i in range(len(samples)):
        while j < i and samples[i][0] - samples[j + 1][0] >= span:
            j += 1
        dt = samples[i][0] - samples[j][0]
        if dt >= span:
            best = max(best, (samples[i][idx] - samples[j][idx]) / dt)
    return best


def write_outputs(args, out, peers, trace_rows, second_rows, origin_samples, origin_up_total,
                  up_Bps, down_Bps, origin_Bps, refused, wall, ti):
    with open(os.path.join(out, "trace.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "leechers", "seeds", "arrivals", "completions", "aborts"])
        w.writerows(trace_rows)
    started = [p for p in peers if p.outcome != "refused" and p.state == "gone"]
    with open(os.path.join(out, "downloads.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["peer", "arrived_s", "completed_s"])
        for p in started:
            w.writerow([p.pid, f"{p.arrive:.2f}", "" if p.completed is None else f"{p.completed:.2f}"])
    with open(os.path.join(out, "seconds.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "leechers", "seeds", "origin_up_Bps", "peers_up_Bps", "peers_down_Bps",
                    "redundant_Bps", "failed_Bps"])
        w.writerows(second_rows)

    rows = []
    for p in started:
        life = p.left - p.arrive if p.left is not None else 0.0
        up, down, red, fail = p.final
        dl_end = p.completed if p.completed is not None else p.left
        dl_time = dl_end - p.arrive
        rows.append({
            "peer": p.pid,
            "arrived_s": round(p.arrive, 2),
            "completed_s": "" if p.completed is None else round(p.completed, 2),
            "left_s": round(p.left, 2),
            "outcome": p.outcome,
            "down_bytes": down,
            "up_bytes": up,
            "redundant_bytes": red,
            "failed_bytes": fail,
            "first_upload_after_s": "" if p.first_up is None else round(p.first_up - p.arrive, 1),
            "down_mean_over_limit": round(down / dl_time / down_Bps, 3) if dl_time > 0 else "",
            "down_peak30_over_limit": round(window_peak(p.samples, 2) / down_Bps, 3),
            "up_mean_over_limit": round(up / life / up_Bps, 3) if life > 0 and up_Bps else "",
            "up_peak30_over_limit": round(window_peak(p.samples, 1) / up_Bps, 3) if up_Bps else "",
        })
    with open(os.path.join(out, "peers.csv"), "w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    def stats(key):
        vals = [r[key] for r in rows if r[key] != ""]
        if not vals:
            return None
        vals.sort()
        return {"n": len(vals), "min": vals[0], "median": vals[len(vals) // 2], "max": vals[-1]}

    origin_life = origin_samples[-1][0] - origin_samples[0][0] if len(origin_samples) > 1 else 0
    origin_peak = window_peak([(t, u, 0) for t, u in origin_samples], 1)
    total_down = sum(r["down_bytes"] for r in rows)
    limits = {
        "upload_limit_Bps": up_Bps,
        "download_limit_Bps": down_Bps,
        "origin_limit_Bps": origin_Bps,
        "basis": "payload bytes from libtorrent's torrent_status counters sampled once a second; "
                 "mean: over the peer's time online (upload) or its download (download); "
                 "peak30: the largest mean over any window of >= 30 s",
        "peer_up_mean_over_limit": stats("up_mean_over_limit"),
        "peer_up_peak30_over_limit": stats("up_peak30_over_limit"),
        "peer_down_mean_over_limit": stats("down_mean_over_limit"),
        "peer_down_peak30_over_limit": stats("down_peak30_over_limit"),
        "origin_up_mean_over_limit": round(origin_up_total / origin_life / origin_Bps, 3)
        if origin_life > 0 and origin_Bps else None,
        "origin_up_peak30_over_limit": round(origin_peak / origin_Bps, 3) if origin_Bps else None,
        "redundant_share_of_download": round(sum(r["redundant_bytes"] for r in rows) / total_down, 4)
        if total_down else None,
        "refused_arrivals": refused,
    }
    with open(os.path.join(out, "limits.json"), "w") as f:
        json.dump(limits, f, indent=1)
        f.write("\n")

    write_scenario(args, out)
    meta = {
        "command": "python3 swarm.py " + shlex.join(sys.argv[1:]),
        "seed": args.seed,
        "steady_from_s": args.steady_from if args.steady_from is not None else args.horizon / 2,
        "horizon_s": args.horizon,
        "arrivals": args.arrivals,
        "libtorrent": lt.__version__,
        "python": platform.python_version(),
        "piece_size": ti.piece_length(),
        "pieces": ti.num_pieces(),
        "wall_s": round(wall, 1),
        "sessions_started": len(started),
        "peak_sessions_online": 1 + max((r[1] + r[2] for r in trace_rows), default=0),
        "machine": machine(),
    }
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps({"run": args.name, **{k: meta[k] for k in ("wall_s", "sessions_started", "peak_sessions_online")},
                      "limits": limits}, indent=1))


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip()
        except OSError:
            return ""
    model = ""
    for line in sh(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return {"nproc": sh(["nproc"]), "cpu": model, "uptime": sh(["uptime"]), "kernel": platform.release()}


def write_scenario(args, out):
    lines = [
        f"# Real-client testbed run {args.name} (validation/real-swarm/swarm.py, seed {args.seed}).",
        "# The same parameters as the run; swarm.efficiency is left at the model's default.",
        f'name = "{args.name}"',
        f'description = "libtorrent {lt.__version__} testbed on loopback: {args.arrivals} arrivals"',
        f'horizon = "{args.horizon:g} s"',
        "",
        "[content]",
        f'size = "{args.size[1]}"',
        "",
        "[demand]",
    ]
    if args.arrivals == "poisson":
        lines.append(f'arrival_rate = "{args.rate:g}/s"')
    else:
        # count arrivals spread uniformly over the window: a constant rate for the window,
        # ending with a 0.01 s linear ramp centred on it, so that the integral is exactly count
        rate = args.count / args.window
        with open(os.path.join(out, "arrivals.csv"), "w") as f:
            f.write("t,rate\n")
            f.write(f"0 s,{rate:.12g}/s\n{args.window - 0.005:g} s,{rate:.12g}/s\n{args.window + 0.005:g} s,0/s\n")
        lines += ['profile = "trace"', 'file = "arrivals.csv"']
    lines += [
        "",
        "[swarm]",
        f'abort_rate = "{args.abort_rate * 3600:g}/h"',
        f'seed_residence = "{args.seed_residence:g} s"',
        "",
        "[peers]",
        f'upload = "{args.upload[1]}"',
        f'download = "{args.download[1]}"',
        "",
        "[server]",
        f'capacity = "{args.origin[1]}"',
        "",
    ]
    with open(os.path.join(out, "scenario.toml"), "w") as f:
        f.write("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="run name: runs/<name>/ and the scenario's name")
    ap.add_argument("--out", default=os.path.join(HERE, "runs"))
    ap.add_argument("--scratch", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where the peers' copies of the file live during the run")
    ap.add_argument("--size", type=size_arg, default=size_arg("4 MB"), help='file size, e.g. "4 MB"')
    ap.add_argument("--piece-size", type=size_arg, default=size_arg("64 KiB"))
    ap.add_argument("--upload", type=rate_arg, required=True, help='per-peer upload limit, e.g. "400 kbps"')
    ap.add_argument("--download", type=rate_arg, required=True, help="per-peer download limit")
    ap.add_argument("--origin", type=rate_arg, required=True, help="the origin seed's upload limit")
    ap.add_argument("--arrivals", choices=["poisson", "flash"], default="poisson")
    ap.add_argument("--rate", type=float, default=0.1, help="poisson: arrivals per second")
    ap.add_argument("--arrive-until", type=float, default=None, help="poisson: last arrival before (s; default horizon)")
    ap.add_argument("--count", type=int, default=30, help="flash: peers")
    ap.add_argument("--window", type=float, default=3.0, help="flash: they arrive uniformly within this many s")
    ap.add_argument("--abort-rate", type=float, default=0.0, help="θ per second")
    ap.add_argument("--seed-residence", type=float, default=0.0, help="mean seed residence (s, exponential; 0 = leave at once)")
    ap.add_argument("--horizon", type=float, required=True, help="run length in s from the first arrival")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed for arrivals, aborts, residences, content")
    ap.add_argument("--max-sessions", type=int, default=MAX_SESSIONS, help="sessions online at once, origin included")
    ap.add_argument("--reannounce", type=float, default=15.0, help="s between a leecher's re-announces")
    ap.add_argument("--poll", type=float, default=0.1, help="s between polls of the sessions")
    ap.add_argument("--steady-from", type=float, default=None,
                    help="start of the steady window that compare.py averages over (s; default half the horizon)")
    ap.add_argument("--stop-when-empty", action="store_true",
                    help="stop once every peer has arrived and left (rows up to the horizon repeat the last state)")
    args = ap.parse_args(argv)
    if args.max_sessions > MAX_SESSIONS:
        ap.error(f"--max-sessions is at most {MAX_SESSIONS}")
    if not 0 < args.horizon <= MAX_SECONDS:
        ap.error(f"--horizon must be in (0, {MAX_SECONDS}] s")
    if args.arrive_until is None:
        args.arrive_until = args.horizon
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", args.name):
        ap.error("--name: letters, digits, -, _, . (not first)")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
