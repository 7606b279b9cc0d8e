"""The Python bindings against the CLI's files (issue 22).

Run from anywhere: paths are taken from the repository root. The CLI is the binary cargo
built for the Rust tests: $PEERFLUID_BIN, else $CARGO_TARGET_DIR/debug/peerfluid, else
target/debug/peerfluid.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import peerfluid as pf

ROOT = Path(__file__).resolve().parents[2]


def cli_binary() -> Path:
    env = os.environ.get("PEERFLUID_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    exe = target / "debug" / ("peerfluid.exe" if sys.platform == "win32" else "peerfluid")
    if not exe.exists():
        pytest.fail(f"the peerfluid CLI is not built at {exe}: run `cargo build` (or set PEERFLUID_BIN)")
    return exe


def cli(*args: str) -> str:
    done = subprocess.run(
        [str(cli_binary()), "--quiet", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    # Scenario paths as the CLI is given them, so `source` matches too.
    monkeypatch.chdir(ROOT)


def read_csv(path: Path):
    """A CSV as {column: list of cells (floats where they parse)}: no pandas needed."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    names, body = rows[0], rows[1:]
    out = {}
    for j, n in enumerate(names):
        cells = [r[j] for r in body]
        try:
            out[n] = np.array([float(c) if c != "" else np.nan for c in cells])
        except ValueError:
            out[n] = cells
    return out


def columns_of(table):
    """A table (DataFrame or dict) as {column: numpy array or list}."""
    if isinstance(table, dict):
        return {k: (v if isinstance(v, list) else np.asarray(v)) for k, v in table.items()}
    return {c: (table[c].to_numpy() if table[c].dtype.kind in "fiu" else list(table[c])) for c in table.columns}


def assert_same_table(got, want):
    got = columns_of(got)
    assert list(got) == list(want)
    for name, w in want.items():
        g = got[name]
        if isinstance(w, list):
            assert [("" if x is None or (isinstance(x, float) and np.isnan(x)) else x) for x in g] == [
                ("" if isinstance(x, float) and np.isnan(x) else x) for x in w
            ], name
        else:
            # Shortest round-trip text both ways: the numbers are the same doubles.
            np.testing.assert_array_equal(np.asarray(g, dtype=float), w, err_msg=name)


# ---- the same files and numbers as the CLI ----

@pytest.mark.parametrize("scenario", ["scenarios/dsl-fibre.toml", "scenarios/viral-video.toml"])
def test_compare_writes_the_cli_files_byte_for_byte(tmp_path, scenario):
    cli("compare", scenario, "-o", str(tmp_path / "cli"), "--no-plots")
    r = pf.compare(scenario)
    written = r.write(tmp_path / "py", plots=False)
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert sorted(p.name for p in written) == names
    for n in names:
        assert (tmp_path / "py" / n).read_bytes() == (tmp_path / "cli" / n).read_bytes(), n
    # And the tables in memory are those files.
    assert r.summary == json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert_same_table(r.timeseries, read_csv(tmp_path / "cli" / "timeseries.csv"))
    assert_same_table(r.costs, read_csv(tmp_path / "cli" / "costs.csv"))


def test_run_has_no_costs_and_matches_the_cli(tmp_path):
    cli("run", "scenarios/upload-limited.toml", "-o", str(tmp_path), "--no-plots")
    r = pf.run("scenarios/upload-limited.toml")
    assert r.costs is None
    assert r.summary == json.loads((tmp_path / "summary.json").read_text())
    assert_same_table(r.timeseries, read_csv(tmp_path / "timeseries.csv"))


def test_sweep_file_equals_the_cli_sweep_csv(tmp_path):
    cli("sweep", "scenarios/sweeps/sharing-price.toml", "-o", str(tmp_path), "--no-plots")
    want = read_csv(tmp_path / "sweep.csv")
    assert_same_table(pf.sweep_file("scenarios/sweeps/sharing-price.toml"), want)
    # The same sweep written as a Python call on the scenario gives the same rows.
    s = pf.Scenario.load("scenarios/sweeps/sharing-price.toml")
    params = {"incentive.price": {"from": "0.0001 $/GB", "to": "0.05 $/GB", "steps": 200, "scale": "log"}}
    assert_same_table(pf.sweep(s, params), want)


def test_sweep_rows_do_not_depend_on_threads():
    s = pf.Scenario.load("scenarios/dsl-fibre.toml")
    params = {"swarm.efficiency": {"from": 0.2, "to": 1.0}, "demand.arrival_rate": {"from": "0.01/s", "to": "1/s"}}
    one = pf.sweep(s, params, mode="lhs", samples=64, seed=7, threads=1)
    two = pf.sweep(s, params, mode="lhs", samples=64, seed=7, threads=2)
    assert_same_table(two, columns_of(one))


def test_sweep_lhs_equals_the_cli(tmp_path):
    text = (ROOT / "scenarios/dsl-fibre.toml").read_text() + (
        "\n[sweep]\nmode = \"lhs\"\nsamples = 40\nseed = 3\n"
        "[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nfrom = 0.2\nto = 1.0\n"
    )
    # Beside the original, so relative paths resolve the same.
    f = tmp_path / "lhs.toml"
    f.write_text(text)
    cli("sweep", str(f), "-o", str(tmp_path / "out"), "--no-plots", "-j", "2")
    s = pf.Scenario.load("scenarios/dsl-fibre.toml")
    got = pf.sweep(s, {"swarm.efficiency": {"from": 0.2, "to": 1.0}}, mode="lhs", samples=40, seed=3)
    assert_same_table(got, read_csv(tmp_path / "out" / "sweep.csv"))


def test_simulate_equals_the_cli(tmp_path):
    cli("simulate", "scenarios/download-limited.toml", "--scale", "50", "--replicates", "3",
        "--points", "40", "-o", str(tmp_path))
    sim = pf.simulate("scenarios/download-limited.toml", scale=50, replicates=3, seed=1, points=40)
    assert_same_table(sim.timeseries, read_csv(tmp_path / "timeseries.csv"))
    # Wall-clock timing goes to timing.json, not the summary.
    assert sim.summary == json.loads((tmp_path / "summary.json").read_text())


def test_shapley_equals_the_cli():
    out = cli("shapley", "scenarios/paid-sharing.toml", "--n", "10,100", "--json")
    assert pf.shapley("scenarios/paid-sharing.toml", n=[10, 100]) == json.loads(out)


def test_validate_equals_the_cli(tmp_path):
    out = cli("validate", "scenarios/download-limited.toml", "--scales", "20,80", "--replicates", "3",
              "--points", "40", "--json", "--no-plots", "-o", str(tmp_path))
    got = pf.validate("scenarios/download-limited.toml", scales=[20, 80], replicates=3, points=40)
    assert got == json.loads(out)


def test_with_sets_keys_as_files_do():
    s = pf.Scenario.load("scenarios/dsl-fibre.toml")
    faster = s.with_({"demand.arrival_rate": "3/s", "swarm.efficiency": 0.8})
    text = faster.text
    assert 'arrival_rate = "3/s"' in text and "efficiency = 0.8" in text
    # The same as a file that says so.
    again = pf.Scenario.from_toml(text, label="scenarios/dsl-fibre.toml", base_dir="scenarios")
    assert pf.compare(again).summary == pf.compare(faster).summary
    assert s.text != faster.text  # the original is unchanged


def test_from_dict_is_the_file():
    import tomllib

    with open(ROOT / "scenarios/dsl-fibre.toml", "rb") as f:
        d = tomllib.load(f)
    a = pf.compare(pf.Scenario.from_dict(d, label="scenarios/dsl-fibre.toml"))
    b = pf.compare("scenarios/dsl-fibre.toml")
    for r in (a.summary, b.summary):
        r.pop("inputs")  # the dict's keys in TOML order vs the file's
    assert a.summary == b.summary


# ---- errors ----

def test_errors_carry_file_line_column_and_key():
    text = (ROOT / "scenarios/dsl-fibre.toml").read_text()
    lines = text.splitlines()
    i = next(n for n, l in enumerate(lines) if l.strip().startswith("efficiency"))
    lines[i] = "efficiency = 1.5"
    with pytest.raises(pf.ScenarioError) as e:
        pf.Scenario.from_toml("\n".join(lines), label="bad.toml")
    err = e.value
    assert (err.file, err.line, err.column, err.key) == ("bad.toml", i + 1, 14, "swarm.efficiency")
    assert "must be in [0, 1] (got 1.5)" in err.message
    assert str(err).startswith(f"bad.toml:{i + 1}:14: ")


def test_an_unreadable_file_is_a_scenario_error_without_a_line():
    with pytest.raises(pf.ScenarioError) as e:
        pf.Scenario.load("scenarios/no-such-file.toml")
    assert e.value.line is None and e.value.file == "scenarios/no-such-file.toml"


def test_with_names_the_bad_key():
    s = pf.Scenario.load("scenarios/dsl-fibre.toml")
    with pytest.raises(pf.ScenarioError) as e:
        s.with_({"swarm.efficiency": -0.5})
    assert e.value.key == "swarm.efficiency" and e.value.line is not None
    with pytest.raises(pf.ScenarioError) as e:
        s.with_({"swarm.no_such_key": 1})
    assert e.value.key is not None and "no_such_key" in str(e.value)


def test_one_bad_point_in_a_sweep_list_raises_with_its_index():
    s = pf.Scenario.load("scenarios/dsl-fibre.toml")
    points = [{"swarm.efficiency": 0.5}, {"swarm.efficiency": 0.7}, {"swarm.efficiency": 1.7},
              {"swarm.efficiency": 0.9}]
    with pytest.raises(pf.SweepPointError) as e:
        pf.sweep(s, points)
    assert e.value.point == 2 and e.value.key == "swarm.efficiency"
    # A rule across keys (class shares summing to 1) fails at the point, in the library.
    classes = [c["name"] for c in pf.compare(s).summary["classes"]]
    assert len(classes) >= 2
    a, b = (f"peers.class.{classes[0]}.share", f"peers.class.{classes[1]}.share")
    shares = [{a: 0.5, b: 0.5}, {a: 0.6, b: 0.4}, {a: 0.6, b: 0.6}]
    if len(classes) > 2:
        pytest.skip("dsl-fibre has more than two classes")
    with pytest.raises(pf.SweepPointError) as e:
        pf.sweep(s, shares)
    assert e.value.point == 2 and "sweep point 2" in str(e.value)


def test_every_scenario_error_has_its_attributes():
    with pytest.raises(pf.ScenarioError) as e:
        pf.Scenario.from_dict({"name": None}, label="d")
    assert (e.value.file, e.value.line, e.value.column) == ("d", None, None)
    with pytest.raises(pf.ScenarioError) as e:
        pf.Scenario.from_dict({"content": {"size": "1 GB"}, "swarm": {"efficiency": 2.0}}, label="d")
    assert e.value.file == "d" and e.value.message


def test_errors_are_exception_classes():
    assert issubclass(pf.SweepPointError, pf.ScenarioError)
    for cls in (pf.ScenarioError, pf.RunError, pf.SimulationError, pf.MechanismError, pf.OutputError):
        assert issubclass(cls, pf.PeerfluidError)
    with pytest.raises(pf.SimulationError):
        pf.simulate("scenarios/live-tv.toml", scale=10, replicates=2)


# ---- the GIL ----

def test_a_sweep_releases_the_gil():
    """While a sweep runs in one thread, another Python thread keeps counting.

    The count is read just before and just after the compiled call (not `pf.sweep`, whose
    Python parts, such as building the DataFrame, let the counter run whatever the compiled
    part does): with the GIL held there, the counter could run only in the few bytecodes
    around the call.
    """
    s = pf.Scenario.load("scenarios/viral-video.toml")
    section = pf._section({"demand.arrival_rate": {"from": "0.05/s", "to": "2/s", "steps": 120}},
                          "grid", None, None, "auto")
    # Once before measuring: the first call imports numpy's C API (Python code, which lets
    # other threads run whatever the GIL does during the sweep).
    pf._native.sweep(s, section.replace("steps = 120", "steps = 2"), 1, False)
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    old = sys.getswitchinterval()
    # Hand the GIL over as often as the interpreter allows, so that a held GIL shows.
    sys.setswitchinterval(1e-5)
    t = threading.Thread(target=counter)
    t.start()
    try:
        before = count[0]
        names, columns = pf._native.sweep(s, section, 1, False)
        during = count[0] - before
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert len(columns[0]) == 120
    # Measured on 2 cores: ~3·10^7 with the GIL released (dev build), ~3·10^3 with a build
    # that held it (the bytecodes around the call); the bound sits between, far from both.
    assert during > 100_000, f"the counter advanced only {during} times during the sweep"


def test_tables_without_pandas_are_dicts_of_numpy_arrays(monkeypatch):
    monkeypatch.setattr(pf, "_pd", None)
    r = pf.compare("scenarios/dsl-fibre.toml")
    ts = r.timeseries
    assert isinstance(ts, dict) and isinstance(ts["t"], np.ndarray)
    # Columns are views of one array: no copy per column.
    assert ts["t"].base is not None
    sw = pf.sweep("scenarios/dsl-fibre.toml", {"swarm.efficiency": [0.5, 0.9]})
    assert isinstance(sw["swarm.efficiency"], np.ndarray) and sw["status"] == ["ok", "ok"]


# ---- the notebook ----

def test_the_notebook_reproduces_the_cli_sweep_figure_numbers(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    cli("sweep", "scenarios/sweeps/sharing-price.toml", "-o", str(tmp_path / "cli"), "--no-plots")
    env = dict(os.environ, NOTEBOOK_OUT=str(tmp_path / "nb"), MPLBACKEND="Agg",
               NOTEBOOK_CLI_SWEEP=str(tmp_path / "cli" / "sweep.csv"))
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "the same 200 rows as the CLI" in done.stdout
    assert (tmp_path / "nb" / "sharing-price.png").stat().st_size > 0


def test_the_readme_example_runs(tmp_path):
    """README "From Python": the 10-line example, run where it writes into a scratch folder."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## From Python"):]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "results" / "viral-3" / "summary.json").exists()
