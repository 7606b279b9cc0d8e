"""peerfluid from Python: fluid models of peer-assisted content delivery.

The numbers come from the Rust library the ``peerfluid`` command line is built on, called
in-process (no subprocess): a run, a comparison or a sweep here gives the same numbers as the
CLI's files for the same scenario.

>>> import peerfluid as pf
>>> s = pf.Scenario.load("scenarios/viral-video.toml")
>>> r = pf.compare(s.with_({"demand.arrival_rate": "3/s"}))
>>> r.summary["costs"]["p2p"]["net_saving"]           # doctest: +SKIP
>>> df = pf.sweep(s, {"swarm.efficiency": [0.5, 0.7, 0.9]})

Tables (``Result.timeseries``, ``Result.costs``, ``sweep``) are pandas DataFrames when pandas
is installed, else dicts of numpy arrays (text columns as lists).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import (
    MechanismError,
    OutputError,
    PeerfluidError,
    RunError,
    Scenario,
    ScenarioError,
    SimulationError,
    SweepPointError,
)

__version__ = _native.__version__

__all__ = [
    "Scenario",
    "Result",
    "Simulation",
    "run",
    "compare",
    "sweep",
    "sweep_file",
    "simulate",
    "validate",
    "shapley",
    "PeerfluidError",
    "ScenarioError",
    "SweepPointError",
    "RunError",
    "SimulationError",
    "MechanismError",
    "OutputError",
]

ScenarioLike = Union[Scenario, str, "os.PathLike[str]"]

try:  # pandas is optional
    import pandas as _pd
except ImportError:  # pragma: no cover - exercised where pandas is absent
    _pd = None


def _table(names: Sequence[str], columns: Sequence[Any]):
    """A DataFrame (pandas installed) or a dict of columns, in the CSV's column order."""
    if _pd is not None:
        return _pd.DataFrame(dict(zip(names, columns)), columns=list(names))
    return dict(zip(names, columns))


def _scenario(s: ScenarioLike) -> Scenario:
    if isinstance(s, Scenario):
        return s
    if isinstance(s, (str, os.PathLike)):
        return Scenario.load(s)
    raise TypeError(f"expected a Scenario or a path, got {type(s).__name__}")


class Result:
    """What ``run`` and ``compare`` produce: the record the CLI writes.

    ``summary`` is ``summary.json`` as a dict; ``timeseries`` and ``costs`` are the tables of
    ``timeseries.csv`` and ``costs.csv`` (``costs`` is None after ``run``); ``write(dir)``
    writes the CLI's files.
    """

    def __init__(self, record: "_native.Record"):
        self._record = record
        self.summary: Dict[str, Any] = json.loads(record.summary_json())

    @property
    def timeseries(self):
        """``timeseries.csv``: one column per name (a view of one float array each)."""
        array = self._record.timeseries()
        names = self._record.columns()
        if _pd is not None:
            return _pd.DataFrame(array, columns=names, copy=False)
        return {n: array[:, j] for j, n in enumerate(names)}

    @property
    def costs(self):
        """``costs.csv``: a row per architecture, fields dotted (``energy.total_kwh``)."""
        rows = _cost_rows(self.summary)
        if rows is None:
            return None
        names = list(rows[0])
        columns = []
        for n in names:
            cells = [r[n] for r in rows]
            if all(isinstance(c, (int, float)) or c is None for c in cells):
                columns.append(np.array([math.nan if c is None else c for c in cells], float))
            else:
                columns.append(cells)
        return _table(names, columns)

    def write(self, dir: Union[str, "os.PathLike[str]"], plots: bool = True) -> List[Path]:
        """Write the files ``peerfluid run/compare -o DIR`` writes; the paths written."""
        return [Path(p) for p in self._record.write(Path(dir), plots)]

    def __repr__(self) -> str:
        return f"<peerfluid.Result of {self.summary.get('scenario')!r}>"


def _flat(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    # costs.csv flattens nested fields with dotted names, in field order (output::csv).
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = value


def _cost_rows(summary: Mapping[str, Any]) -> Optional[List[Dict[str, Any]]]:
    rows = None
    if summary.get("costs"):
        costs = summary["costs"]
        rows = [costs[k] for k in ("client_server", "cdn", "p2p", "hybrid") if k in costs]
    elif summary.get("wireless"):
        rows = summary["wireless"]["costs"]
    if not rows:
        return None
    flat = []
    for r in rows:
        out: Dict[str, Any] = {}
        _flat("", r, out)
        flat.append(out)
    return flat


def run(scenario: ScenarioLike, *, points: int = 500, method: str = "auto") -> Result:
    """``peerfluid run``: simulate the scenario (time series, summary). Releases the GIL."""
    return Result(_native.run(_scenario(scenario), False, points, method))


def compare(scenario: ScenarioLike, *, points: int = 500, method: str = "auto") -> Result:
    """``peerfluid compare``: simulate and price client-server, CDN, P2P and hybrid delivery."""
    return Result(_native.run(_scenario(scenario), True, points, method))


# ---- sweeps ----

def _toml(value: Any) -> str:
    """A value as a sweep file writes it: a number, or a quoted quantity ("3/s")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.number)):
        raise TypeError(f"sweep values are numbers or quantity strings, got {value!r}")
    if isinstance(value, str):
        return json.dumps(value)
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))


_RANGE_KEYS = {"from", "to", "steps", "scale"}


def _section(
    parameters: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    mode: str,
    samples: Optional[int],
    seed: Optional[int],
    evaluate: str,
) -> str:
    """The ``[sweep]`` section of a sweep file for these parameters."""
    if isinstance(parameters, Mapping):
        items = list(parameters.items())
    else:
        # A list of points (dicts with the same keys): the i-th point is point i.
        points = list(parameters)
        if not points:
            raise ValueError("the list of points is empty")
        keys = list(points[0])
        for i, p in enumerate(points):
            if set(p) != set(keys):
                raise ValueError(
                    f"point {i} sets {sorted(p)}, point 0 sets {sorted(keys)}: every point must set the same keys"
                )
        items = [(k, [p[k] for p in points]) for k in keys]
        if mode not in ("grid", "zip"):
            raise ValueError(f"a list of points is a zip sweep (mode = {mode!r} given)")
        mode = "zip"
    if not items:
        raise ValueError("no parameter to sweep")
    lines = ["[sweep]", f"mode = {json.dumps(mode)}", f"evaluate = {json.dumps(evaluate)}"]
    if samples is not None:
        lines.append(f"samples = {int(samples)}")
    if seed is not None:
        lines.append(f"seed = {int(seed)}")
    for key, spec in items:
        if not isinstance(key, str):
            raise TypeError(f"sweep keys are key paths (str), got {key!r}")
        lines += ["", "[[sweep.parameter]]", f"key = {json.dumps(key)}"]
        if isinstance(spec, Mapping):
            unknown = set(spec) - _RANGE_KEYS
            if unknown:
                raise ValueError(f"{key}: unknown range fields {sorted(unknown)} (from, to, steps, scale)")
            for field in ("from", "to"):
                if field in spec:
                    lines.append(f"{field} = {_toml(spec[field])}")
            if "steps" in spec:
                lines.append(f"steps = {int(spec['steps'])}")
            if "scale" in spec:
                lines.append(f"scale = {json.dumps(spec['scale'])}")
        else:
            values = list(spec) if isinstance(spec, Iterable) and not isinstance(spec, str) else [spec]
            lines.append("values = [" + ", ".join(_toml(v) for v in values) + "]")
    return "\n".join(lines) + "\n"


_VALUE_AT = re.compile(r"^`[^`]+` value (\d+) \(")


def sweep(
    scenario: ScenarioLike,
    parameters: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    mode: str = "grid",
    threads: Optional[int] = None,
    *,
    samples: Optional[int] = None,
    seed: Optional[int] = None,
    evaluate: str = "auto",
    yes: bool = False,
):
    """Sweep scenario keys: the rows of ``sweep.csv`` (same columns) as a table.

    ``parameters`` maps key paths to a list of values (numbers or quantity strings, as in
    files: ``{"incentive.price": ["0.001 $/GB", "0.01 $/GB"]}``) or to a range
    (``{"from": ..., "to": ..., "steps": 20, "scale": "log"}``); ``mode`` is "grid" (every
    combination, first key slowest), "zip", "lhs" or "random" (ranges; ``samples``, ``seed``).
    A list of dicts is a list of points (a zip sweep): ``[{"a": 1, "b": 2}, {"a": 3, "b": 4}]``.

    Every point is validated before any runs: an invalid one raises ``SweepPointError`` with
    its index (``.point``; its index in the list for a list of points). Runs on ``threads``
    workers (None: every core) without the GIL; the rows do not depend on the thread count.
    More than 10^6 points need ``yes=True``.
    """
    s = _scenario(scenario)
    section = _section(parameters, mode, samples, seed, evaluate)
    try:
        names, columns = _native.sweep(s, section, threads, yes)
    except SweepPointError:
        raise
    except ScenarioError as e:
        # A value that is invalid on its own is reported at its parameter ("`key` value 3
        # (...)"); in a zip sweep value i is point i - 1: say so as the point's error.
        m = _VALUE_AT.match(e.message or "")
        if m and (mode == "zip" or not isinstance(parameters, Mapping)):
            err = SweepPointError(f"sweep point {int(m.group(1)) - 1}: {e.message}")
            for attr in ("file", "line", "column", "key", "message"):
                setattr(err, attr, getattr(e, attr, None))
            err.point = int(m.group(1)) - 1
            err.values = None
            raise err from e
        raise
    return _table(names, columns)


def sweep_file(path: Union[str, "os.PathLike[str]"], threads: Optional[int] = None, *, yes: bool = False):
    """The sweep of a sweep file (``peerfluid sweep FILE --no-plots``'s ``sweep.csv``)."""
    names, columns = _native.sweep_file(Path(path), threads, yes)
    return _table(names, columns)


# ---- the stochastic twin and the games ----

class Simulation:
    """``peerfluid simulate``: ``summary`` (summary.json) and ``timeseries`` (means, ``.sd``)."""

    def __init__(self, summary: str, names: List[str], array: "np.ndarray"):
        self.summary: Dict[str, Any] = json.loads(summary)
        self._names = names
        self._array = array

    @property
    def timeseries(self):
        if _pd is not None:
            return _pd.DataFrame(self._array, columns=self._names, copy=False)
        return {n: self._array[:, j] for j, n in enumerate(self._names)}

    def __repr__(self) -> str:
        return f"<peerfluid.Simulation of {self.summary.get('scenario')!r}>"


def simulate(
    scenario: ScenarioLike,
    scale: float = 1000.0,
    replicates: int = 10,
    seed: int = 1,
    *,
    points: int = 500,
) -> Simulation:
    """``peerfluid simulate``: the swarm as an exact Markov chain at scale N (file swarms)."""
    return Simulation(*_native.simulate(_scenario(scenario), scale, replicates, seed, points))


def validate(
    scenario: ScenarioLike,
    scales: Sequence[float] = (100.0, 1000.0, 10000.0, 100000.0, 1000000.0),
    replicates: int = 10,
    seed: int = 1,
    *,
    points: int = 500,
) -> Dict[str, Any]:
    """``peerfluid validate``: ``validation.json`` as a dict (``rows``: one per scale)."""
    return json.loads(
        _native.validate(_scenario(scenario), [float(x) for x in scales], replicates, seed, points)
    )


def shapley(scenario: ScenarioLike, n: Sequence[int] = (10, 100, 1000), seed: int = 1) -> Dict[str, Any]:
    """``peerfluid shapley FILE --json``: the scenario's game, fluid and exact values."""
    return json.loads(_native.shapley(_scenario(scenario), [int(x) for x in n], seed))
