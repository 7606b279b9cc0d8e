//! `peerfluid._native`: the library's entry points as Python calls (issue 22). The Python
//! package around it (`python/peerfluid/`) turns what these return into dicts, numpy arrays
//! and pandas DataFrames; everything numeric is the library's own code, called as the CLI
//! calls it (`src/cli.rs`): nothing here computes.
//!
//! Long calls release the GIL (`Python::detach`): a sweep in one Python thread does not stop
//! the others. Errors become the exception classes below, carrying what the library's typed
//! errors carry (a scenario error's file, line, column and key; a sweep point's index).

use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use peerfluid::error::{self, Chain};
use peerfluid::run::{RunOptions, RunRecord};
use peerfluid::solve::Method;
use peerfluid::sweep::{Column, SweepSpec, DEFAULT_LIMIT};

create_exception!(
    peerfluid,
    PeerfluidError,
    PyException,
    "Base class of peerfluid's errors."
);
create_exception!(
    peerfluid,
    ScenarioError,
    PeerfluidError,
    "A scenario (or sweep) is invalid: `file`, `line`, `column` (1-based, None when the error has no single place), `key` (the key path it is about, or None) and `message`."
);
create_exception!(
    peerfluid,
    SweepPointError,
    ScenarioError,
    "One point of a sweep is invalid: `point` (0-based index; for a list of dicts, its index in the list), `values` (`key = value, ...`), and the scenario error's attributes."
);
create_exception!(
    peerfluid,
    RunError,
    PeerfluidError,
    "A run or comparison failed (no steady state, a failed solve, an incentive or bill that cannot be worked out)."
);
create_exception!(
    peerfluid,
    SimulationError,
    PeerfluidError,
    "The stochastic twin (simulate, validate) cannot run as asked."
);
create_exception!(
    peerfluid,
    MechanismError,
    PeerfluidError,
    "An incentive computation (Shapley values, equilibrium) cannot be done with these inputs."
);
create_exception!(
    peerfluid,
    OutputError,
    PeerfluidError,
    "Writing results failed (a file, a folder in use, a folder holding other results)."
);

/// A Python exception with the library error's message (and its causes).
fn message(e: &(dyn std::error::Error + 'static)) -> String {
    Chain(e).to_string()
}

/// `ScenarioError` (or `SweepPointError` with `point` and `values`) with the diagnostic's
/// attributes.
fn scenario_err(e: &error::ScenarioError, point: Option<(u64, &str)>, text: String) -> PyErr {
    let d = e.diagnostic();
    let err = match point {
        None => ScenarioError::new_err(text),
        Some(_) => SweepPointError::new_err(text),
    };
    Python::attach(|py| {
        let v = err.value(py);
        let set = || -> PyResult<()> {
            v.setattr("file", &d.file)?;
            v.setattr("line", d.line)?;
            v.setattr("column", d.column)?;
            v.setattr("key", &d.key)?;
            v.setattr("message", &d.message)?;
            v.setattr("point", point.map(|p| p.0))?;
            v.setattr("values", point.map(|p| p.1))?;
            Ok(())
        };
        // Setting attributes on a fresh exception does not fail; if it did, the message
        // still says everything.
        let _ = set();
    });
    err
}

/// A `ScenarioError` about the whole of `file` (no line), with its attributes.
fn whole(file: &str, message: String) -> PyErr {
    from_scenario(error::ScenarioError::Whole {
        file: file.to_string(),
        message,
    })
}

fn from_scenario(e: error::ScenarioError) -> PyErr {
    let text = e.to_string();
    scenario_err(&e, None, text)
}

fn from_sweep(e: error::SweepError) -> PyErr {
    use error::SweepError as S;
    match e {
        S::Spec(s) => from_scenario(s),
        S::Point {
            point,
            ref values,
            ref reason,
        } => scenario_err(reason, Some((point, values)), e.to_string()),
        S::Output(o) => OutputError::new_err(message(&o)),
        other => PeerfluidError::new_err(message(&other)),
    }
}

fn from_run(e: error::RunError) -> PyErr {
    RunError::new_err(message(&e))
}

fn from_job(e: error::JobError) -> PyErr {
    match e {
        error::JobError::Scenario(s) => from_scenario(s),
        // Not a file swarm: the simulator's refusal, though the fluid run said it.
        error::JobError::Run(error::RunError::Sim(s)) => SimulationError::new_err(message(&s)),
        error::JobError::Run(r) => from_run(r),
        other => SimulationError::new_err(message(&other)),
    }
}

/// A validated scenario and the TOML text it was read from.
///
/// Build one with `Scenario.load(path)`, `Scenario.from_toml(text)`, `Scenario.from_dict(d)`
/// or `Scenario.default()`; `scenario.with_({"demand.arrival_rate": "3/s"})` is a copy with
/// keys set (same keys and unit strings as files). Scenarios are immutable.
#[pyclass(module = "peerfluid", frozen)]
struct Scenario {
    inner: peerfluid::scenario::Scenario,
    /// The TOML text (for a scenario with keys set, the text as rewritten with them).
    text: String,
    /// Names it in errors and in `summary.json`'s `source`.
    label: String,
    /// Where relative paths in it (trace files) are found.
    dir: Option<PathBuf>,
}

impl Scenario {
    fn from_text(text: String, label: String, dir: Option<PathBuf>) -> PyResult<Self> {
        let inner = peerfluid::scenario::Scenario::from_toml(&text, &label, dir.as_deref())
            .map_err(from_scenario)?;
        Ok(Self {
            inner,
            text,
            label,
            dir,
        })
    }
}

/// A Python value as TOML text (through JSON: numbers, strings, booleans, lists and dicts).
fn toml_value(json: &Bound<'_, PyModule>, v: &Bound<'_, PyAny>) -> PyResult<String> {
    let text: String = json.call_method1("dumps", (v,))?.extract()?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let t: toml::Value =
        serde::Deserialize::deserialize(value).map_err(|e: serde_json::Error| {
            pyo3::exceptions::PyValueError::new_err(format!("{text} has no TOML form: {e}"))
        })?;
    Ok(t.to_string())
}

#[pymethods]
impl Scenario {
    /// Read and validate a scenario file (as `peerfluid run FILE` does).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            from_scenario(error::ScenarioError::Read {
                file: label.clone(),
                reason: e.to_string(),
            })
        })?;
        Self::from_text(text, label, path.parent().map(Path::to_path_buf))
    }

    /// Parse and validate TOML text; `label` names it in errors, `base_dir` resolves the
    /// relative paths in it (trace files).
    #[staticmethod]
    #[pyo3(signature = (text, label = "<string>", base_dir = None))]
    fn from_toml(text: String, label: &str, base_dir: Option<PathBuf>) -> PyResult<Self> {
        Self::from_text(text, label.to_string(), base_dir)
    }

    /// A scenario from a dict shaped like the file (`{"content": {"size": "1 GB"}, ...}`).
    #[staticmethod]
    #[pyo3(signature = (d, label = "<dict>", base_dir = None))]
    fn from_dict(
        py: Python<'_>,
        d: &Bound<'_, PyDict>,
        label: &str,
        base_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let json = py.import("json")?;
        let text: String = json.call_method1("dumps", (d,))?.extract()?;
        let table: toml::Table = serde_json::from_str(&text)
            .map_err(|e| whole(label, format!("not a scenario table: {e}")))?;
        let text = toml::to_string(&table).map_err(|e| whole(label, e.to_string()))?;
        Self::from_text(text, label.to_string(), base_dir)
    }

    /// The built-in default scenario (what `peerfluid` with no arguments runs).
    #[staticmethod]
    fn default() -> PyResult<Self> {
        use peerfluid::scenario::{DEFAULT_LABEL, DEFAULT_SCENARIO};
        Self::from_text(DEFAULT_SCENARIO.into(), DEFAULT_LABEL.into(), None)
    }

    /// A copy with keys set: `{"demand.arrival_rate": "3/s", "swarm.efficiency": 0.9}`. Keys
    /// are paths as in sweeps (`peers.class.fibre.share`); values as a file writes them.
    /// The copy's `text` is the file rewritten with them (comments are not kept); an error's
    /// line and column point into that text.
    fn with_(&self, py: Python<'_>, values: &Bound<'_, PyDict>) -> PyResult<Self> {
        let json = py.import("json")?;
        let mut set = Vec::with_capacity(values.len());
        for (k, v) in values.iter() {
            set.push((k.extract::<String>()?, toml_value(&json, &v)?));
        }
        let (text, inner) =
            peerfluid::sweep::spec::with_keys(&self.text, &self.label, self.dir.as_deref(), &set)
                .map_err(from_scenario)?;
        Ok(Self {
            inner,
            text,
            label: self.label.clone(),
            dir: self.dir.clone(),
        })
    }

    /// `name`.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// `description`.
    #[getter]
    fn description(&self) -> &str {
        &self.inner.description
    }

    /// Where it came from (the file as given, or a label).
    #[getter]
    fn source(&self) -> &str {
        &self.label
    }

    /// The TOML text.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> String {
        format!(
            "Scenario(name={:?}, source={:?})",
            self.inner.name, self.label
        )
    }
}

/// What `run` and `compare` produce: the record `peerfluid run/compare` writes.
#[pyclass(module = "peerfluid", frozen)]
struct Record {
    rec: RunRecord,
}

#[pymethods]
impl Record {
    /// `summary.json` as text (the same document the CLI writes).
    fn summary_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.rec.summary)
            .map_err(|e| OutputError::new_err(format!("summary: {e}")))
    }

    /// Column names of `timeseries.csv`.
    fn columns(&self) -> Vec<String> {
        self.rec.columns.clone()
    }

    /// The time series as a (rows × columns) float array.
    fn timeseries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (r, c) = (self.rec.rows.len(), self.rec.columns.len());
        let flat: Vec<f64> = self.rec.rows.iter().flatten().copied().collect();
        PyArray1::from_vec(py, flat).reshape([r, c])
    }

    /// Write the CLI's files into `dir` (`output::write_run`); the paths written.
    #[pyo3(signature = (dir, plots = true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<PathBuf>> {
        py.detach(|| peerfluid::output::write_run(&dir, &self.rec, plots))
            .map_err(|e| OutputError::new_err(message(&e)))
    }
}

fn method(name: &str) -> PyResult<Method> {
    Ok(match name {
        "auto" => Method::Auto,
        "exact" => Method::Exact,
        "dopri5" => Method::Dopri5,
        "rosenbrock" => Method::Rosenbrock,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "method must be \"auto\", \"exact\", \"dopri5\" or \"rosenbrock\" (got {other:?})"
            )))
        }
    })
}

/// `peerfluid run` (`compare` false) or `peerfluid compare` of a scenario.
#[pyfunction]
#[pyo3(signature = (scenario, compare, points = 500, method_name = "auto"))]
fn run(
    py: Python<'_>,
    scenario: &Scenario,
    compare: bool,
    points: usize,
    method_name: &str,
) -> PyResult<Record> {
    if !(1..=1_000_000).contains(&points) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "points must be in [1, 1000000] (got {points})"
        )));
    }
    let opts = RunOptions {
        points,
        method: method(method_name)?,
        ..RunOptions::default()
    };
    let s = &scenario.inner;
    let rec = py
        .detach(|| peerfluid::run::run_judged(s, &opts, compare))
        .map_err(from_run)?;
    Ok(Record { rec })
}

/// The columns of a sweep: names, and one numpy array (numbers) or list (text) per column.
fn columns<'py>(
    py: Python<'py>,
    t: peerfluid::sweep::SweepTable,
) -> PyResult<(Vec<String>, Bound<'py, PyList>)> {
    let out = PyList::empty(py);
    out.append(PyArray1::from_vec(py, t.point))?;
    for p in t.parameters {
        out.append(PyArray1::from_vec(py, p))?;
    }
    out.append(t.status)?;
    for c in t.outputs {
        match c {
            Column::Numbers(v) => out.append(PyArray1::from_vec(py, v))?,
            Column::Text(v) => out.append(v)?,
        }
    }
    Ok((t.names, out))
}

/// Run a sweep spec on `threads` workers without the GIL.
fn run_table<'py>(
    py: Python<'py>,
    build: impl FnOnce() -> Result<SweepSpec, error::ScenarioError> + Send,
    threads: Option<usize>,
    yes: bool,
) -> PyResult<(Vec<String>, Bound<'py, PyList>)> {
    if threads == Some(0) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "threads must be at least 1 (None: one per core)",
        ));
    }
    let limit = if yes { u64::MAX } else { DEFAULT_LIMIT };
    let table = py
        .detach(|| {
            let spec = build()?;
            peerfluid::sweep::table(&spec, threads, limit)
        })
        .map_err(from_sweep)?;
    columns(py, table)
}

/// A sweep of `scenario` by the `[sweep]` section `section` (TOML text, as in a sweep file).
#[pyfunction]
#[pyo3(signature = (scenario, section, threads = None, yes = false))]
fn sweep<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    section: &str,
    threads: Option<usize>,
    yes: bool,
) -> PyResult<(Vec<String>, Bound<'py, PyList>)> {
    // The scenario's own [sweep], if its file had one, gives way to this one.
    let base = if peerfluid::sweep::spec::is_sweep(&scenario.text) {
        let mut t: toml::Table = scenario
            .text
            .parse()
            .map_err(|e: toml::de::Error| whole(&scenario.label, e.message().to_string()))?;
        t.remove("sweep");
        toml::to_string(&t).map_err(|e| whole(&scenario.label, e.to_string()))?
    } else {
        scenario.text.clone()
    };
    let text = format!("{}\n\n{section}", base.trim_end());
    let path = match &scenario.dir {
        Some(d) => d.join(
            Path::new(&scenario.label)
                .file_name()
                .unwrap_or_else(|| "scenario.toml".as_ref()),
        ),
        None => PathBuf::from(&scenario.label),
    };
    run_table(py, move || SweepSpec::from_text(text, &path), threads, yes)
}

/// The sweep of a sweep file, as `peerfluid sweep FILE` runs it (without writing files).
#[pyfunction]
#[pyo3(signature = (path, threads = None, yes = false))]
fn sweep_file<'py>(
    py: Python<'py>,
    path: PathBuf,
    threads: Option<usize>,
    yes: bool,
) -> PyResult<(Vec<String>, Bound<'py, PyList>)> {
    run_table(py, move || SweepSpec::from_path(&path), threads, yes)
}

/// `peerfluid simulate`: the stochastic twin at scale N, `replicates` times; (summary JSON,
/// column names, rows × columns array).
#[pyfunction]
#[pyo3(signature = (scenario, scale = 1000.0, replicates = 10, seed = 1, points = 500))]
fn simulate<'py>(
    py: Python<'py>,
    scenario: &Scenario,
    scale: f64,
    replicates: usize,
    seed: u64,
    points: usize,
) -> PyResult<(String, Vec<String>, Bound<'py, PyArray2<f64>>)> {
    use peerfluid::stochastic::{self, FluidReference, SimSettings};
    let s = &scenario.inner;
    let (summary, columns, rows) = py
        .detach(|| -> Result<_, error::JobError> {
            let settings = SimSettings::new(scale, replicates, seed)?;
            let (fluid, swarm) = peerfluid::run::fluid_for_simulation(s, points)?;
            let reference = FluidReference::from_record(&fluid)?;
            let sim = stochastic::simulate(&swarm, &reference.t, &settings)?;
            let (columns, rows) = sim.timeseries();
            let summary = sim.summary(&s.name, &s.source, reference.download_time);
            Ok((summary, columns, rows))
        })
        .map_err(from_job)?;
    let json = serde_json::to_string(&summary).map_err(|e| OutputError::new_err(e.to_string()))?;
    let (r, c) = (rows.len(), columns.len());
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    Ok((json, columns, PyArray1::from_vec(py, flat).reshape([r, c])?))
}

/// `peerfluid validate`: the stochastic mean against the fluid solution at each scale;
/// `validation.json` as text.
#[pyfunction]
#[pyo3(signature = (scenario, scales, replicates = 10, seed = 1, points = 500))]
fn validate(
    py: Python<'_>,
    scenario: &Scenario,
    scales: Vec<f64>,
    replicates: usize,
    seed: u64,
    points: usize,
) -> PyResult<String> {
    use peerfluid::stochastic::{self, FluidReference};
    let s = &scenario.inner;
    let v = py
        .detach(|| -> Result<_, error::JobError> {
            let (fluid, swarm) = peerfluid::run::fluid_for_simulation(s, points)?;
            let reference = FluidReference::from_record(&fluid)?;
            Ok(stochastic::validate(
                &swarm,
                &reference,
                &scales,
                replicates,
                seed,
                false,
                |_| {},
            )?)
        })
        .map_err(from_job)?;
    serde_json::to_string(&v).map_err(|e| OutputError::new_err(e.to_string()))
}

/// `peerfluid shapley FILE`: the scenario's game, fluid and exact Shapley values; JSON.
#[pyfunction]
#[pyo3(signature = (scenario, n, seed = 1))]
fn shapley(py: Python<'_>, scenario: &Scenario, n: Vec<usize>, seed: u64) -> PyResult<String> {
    let s = &scenario.inner;
    let table = py
        .detach(|| peerfluid::incentive::table::scenario_table(s, &n, seed))
        .map_err(|e| MechanismError::new_err(message(&e)))?;
    serde_json::to_string(&table).map_err(|e| OutputError::new_err(e.to_string()))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Scenario>()?;
    m.add_class::<Record>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_file, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(shapley, m)?)?;
    m.add("PeerfluidError", py.get_type::<PeerfluidError>())?;
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("SweepPointError", py.get_type::<SweepPointError>())?;
    m.add("RunError", py.get_type::<RunError>())?;
    m.add("SimulationError", py.get_type::<SimulationError>())?;
    m.add("MechanismError", py.get_type::<MechanismError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    Ok(())
}
