"""A 10^4-point sweep from Python against `peerfluid sweep --no-plots` on the same grid.

Run by hand from the repository root, with the bindings installed (`pip install ./python
pandas`) and a release CLI (`cargo build --release`):

    python python/bench.py [--cli target/release/peerfluid] [--repeat 5] [--threads N]

Two grids of 100 × 100 points: `steady` (dsl-fibre.toml, closed-form steady states:
microseconds a point, so fixed costs show) and `run` (viral-video.toml at 100 arrival rates ×
100 efficiencies, every point integrated and billed: the sweep's own work dominates). Each is
timed end to end (the CLI: the process, validation, computing and writing sweep.csv; Python:
the call that returns the DataFrame), best of --repeat, and the rows are checked equal.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# `python python/bench.py` puts python/ first on the path, where peerfluid/ is the source
# package without its compiled module: import the installed one.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
import peerfluid as pf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

GRIDS = {
    "steady": (
        "scenarios/dsl-fibre.toml",
        {
            "demand.arrival_rate": {"from": "0.01/s", "to": "10/s", "steps": 100, "scale": "log"},
            "swarm.efficiency": {"from": 0.1, "to": 1.0, "steps": 100},
        },
    ),
    "run": (
        "scenarios/viral-video.toml",
        {
            "demand.arrival_rate": {"from": "0.01/s", "to": "2/s", "steps": 100, "scale": "log"},
            "swarm.efficiency": {"from": 0.1, "to": 1.0, "steps": 100},
        },
    ),
}


def sweep_file(base: Path, params: dict, dir: Path) -> Path:
    """The grid as a sweep file naming `base`, for the CLI."""
    lines = [f'base = "{base}"', "", "[sweep]", 'mode = "grid"']
    for key, r in params.items():
        lines += ["", "[[sweep.parameter]]", f'key = "{key}"']
        for f in ("from", "to"):
            v = r[f]
            lines.append(f'{f} = "{v}"' if isinstance(v, str) else f"{f} = {v!r}")
        lines += [f"steps = {r['steps']}", f'scale = "{r.get("scale", "linear")}"']
    path = dir / "grid.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def best(times):
    return min(times), sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--cli", type=Path, default=target / "release" / "peerfluid")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--grids", default="steady,run")
    args = ap.parse_args()
    if not args.cli.exists():
        sys.exit(f"{args.cli}: build the CLI first (cargo build --release) or pass --cli")
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({platform.processor() or platform.platform()}); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Python {platform.python_version()}; "
          f"threads {args.threads}; best (median) of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.grids.split(","):
            base, params = GRIDS[name]
            base = ROOT / base
            spec = sweep_file(base, params, tmp)
            cli_times, py_times = [], []
            df = None
            for i in range(args.repeat):
                out = tmp / f"out-{name}-{i}"
                t = time.perf_counter()
                subprocess.run(
                    [str(args.cli), "--quiet", "sweep", str(spec), "-o", str(out), "--no-plots",
                     "-j", str(args.threads)],
                    check=True,
                )
                cli_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                df = pf.sweep(pf.Scenario.load(base), params, threads=args.threads)
                py_times.append(time.perf_counter() - t)
                if i:
                    shutil.rmtree(out)
            import pandas as pd

            cli = pd.read_csv(tmp / f"out-{name}-0" / "sweep.csv")
            numeric = [c for c in cli.columns if cli[c].dtype.kind in "fi"]
            assert list(cli.columns) == list(df.columns)
            assert np.array_equal(cli[numeric].to_numpy(float), df[numeric].to_numpy(float), equal_nan=True)
            (cb, cm), (pb, pm) = best(cli_times), best(py_times)
            print(f"{name:>6}: {len(df)} points; CLI {cb:.3f} s ({cm:.3f}); Python {pb:.3f} s ({pm:.3f}); "
                  f"Python/CLI {pb / cb:.3f} (best), {pm / cm:.3f} (median); rows equal")


if __name__ == "__main__":
    main()
