//! The sweep spec: which scenario keys vary, over which values, and the deterministic
//! expansion of point `i` into the values it gives them.
//!
//! A `[sweep]` section sits in a scenario file, or in a sweep file that names its scenario with
//! `base = "path.toml"` (relative to the sweep file). Every `[[sweep.parameter]]` names a
//! numeric key path of the scenario (`demand.arrival_rate`, `peers.class.fibre.share`: an
//! array of tables is indexed by its elements' `name`, or by position) and either `values` or
//! a `from`/`to` range (`steps` for grid and zip, `scale = "linear" | "log"`).
//! `mode = "grid"` (every combination; the first parameter varies slowest), `"zip"` (the i-th
//! values together), `"random"` or `"lhs"` (Latin hypercube; `samples`, `seed`). Point `i` is
//! computed from `i` alone (random numbers from a counter-based generator, the hypercube's
//! strata from a keyed permutation), so any subset of points — a shard, the rest of a killed
//! run — comes out the same on any number of threads, in constant memory.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{cut_quoted, echo, ScenarioError};
use crate::scenario::patch::{self, Patch};
use crate::scenario::raw::{Quantity, ScenarioFile, Q};
use crate::scenario::{
    line_col, parse_quantities, raw_of_table, toml_error, validate_raw, validate_table, Parsed,
    Scenario,
};
use crate::units::{self, Dimension};

/// Above this many points `sweep` stops unless `--yes` is given.
pub const DEFAULT_LIMIT: u64 = 1_000_000;

/// How parameter values are combined into points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every combination (first parameter slowest).
    Grid,
    /// The i-th value of every parameter together.
    Zip,
    /// Independent uniform draws (in log space for `scale = "log"`).
    Random,
    /// Latin hypercube: each parameter's range cut into `samples` strata, one draw per stratum.
    Lhs,
}

impl Mode {
    /// Name in files.
    pub fn label(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Zip => "zip",
            Self::Random => "random",
            Self::Lhs => "lhs",
        }
    }
}

/// How a range is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced logarithms (both ends > 0).
    Log,
}

impl Scale {
    /// Name in files.
    pub fn label(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Log => "log",
        }
    }

    /// The value at fraction `u` ∈ [0, 1] of the way from `from` to `to`.
    fn at(self, from: f64, to: f64, u: f64) -> f64 {
        // The ends exactly as written (exp(ln x) need not give x back).
        if u <= 0.0 {
            return from;
        }
        if u >= 1.0 {
            return to;
        }
        match self {
            Self::Linear => from + (to - from) * u,
            Self::Log => (from.ln() + (to.ln() - from.ln()) * u).exp(),
        }
    }
}

/// What each point computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluate {
    /// The steady state at the reference arrival rate and a month at its rates (closed forms;
    /// microseconds a point). Needs constant arrivals and no horizon.
    Steady,
    /// The full `compare` pipeline: integrate the horizon, bill it month by month.
    Run,
}

impl Evaluate {
    /// Name in files.
    pub fn label(self) -> &'static str {
        match self {
            Self::Steady => "steady",
            Self::Run => "run",
        }
    }
}

/// One value a parameter takes: the number for the CSV, and what goes into the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Base units (of the unit written, or of the key for bare numbers).
    pub number: f64,
    /// TOML value text put into the scenario (a number, or a quoted quantity).
    pub toml: String,
}

/// One swept key.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// The key path as written (the CSV column name).
    pub key: String,
    /// Where it sits in the scenario table.
    path: Vec<Step>,
    /// The same as names and indices, to set it in the parsed file.
    segments: Vec<String>,
    /// Dimension of the values (from their units, or from the scenario's own value).
    pub dim: Dimension,
    /// How a range is filled.
    pub scale: Scale,
    /// The values, in order (grid and zip).
    pub values: Option<Vec<Value>>,
    /// The range (random and lhs; also kept for grid/zip ranges).
    pub range: Option<(f64, f64)>,
    /// Span of the parameter in the sweep file.
    span: Range<usize>,
    /// Span of the value the scenario gives the key (`None`: the scenario does not give it).
    value_span: Option<Range<usize>>,
}

impl Parameter {
    /// The unit of the CSV column ("" when the values are bare numbers: the key's base unit).
    pub fn unit(&self) -> &'static str {
        self.dim.base_unit()
    }

    fn value_from_unit(&self, u: f64) -> Value {
        let (from, to) = self.range.unwrap_or((0.0, 0.0));
        let number = self.scale.at(from, to, u.clamp(0.0, 1.0));
        number_value(number, self.dim)
    }
}

fn number_value(number: f64, dim: Dimension) -> Value {
    Value {
        number,
        toml: if matches!(dim, Dimension::Dimensionless) {
            format!("{number:e}")
        } else {
            format!("\"{}\"", units::exact_text(number, dim))
        },
    }
}

/// A step of a key path in the TOML tree.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A validated sweep: the base scenario's text and table, and the parameters.
#[derive(Debug)]
pub struct SweepSpec {
    /// The sweep file.
    pub file: PathBuf,
    /// The scenario's source label (file name) and text.
    pub base_label: String,
    /// The scenario's text: leaked once per sweep so that its parsed table (which borrows it)
    /// can be kept and cloned for every point instead of parsed again.
    base_text: &'static str,
    table: Spanned<DeTable<'static>>,
    /// The base file parsed into its raw form once, when every swept key can be set in it in
    /// place (each point is then a copy with its values set, validated; see
    /// [`crate::scenario::patch`]); `None`: points go through a copy of the TOML table.
    raw: Option<ScenarioFile>,
    /// The base's quantities parsed once, but for the swept keys' places (with `raw`).
    parsed: Option<Parsed>,
    base_dir: Option<PathBuf>,
    /// The scenario as written (with the sweep removed), validated once.
    pub base: Scenario,
    /// Combination mode.
    pub mode: Mode,
    /// Swept keys.
    pub parameters: Vec<Parameter>,
    /// Random / lhs: number of samples.
    pub samples: u64,
    /// Random / lhs: seed.
    pub seed: u64,
    /// What each point computes.
    pub evaluate: Evaluate,
    /// Number of points.
    pub points: u64,
    /// FNV-1a 64 of everything that decides the rows (texts, version, columns).
    pub hash: u64,
    sweep_text: String,
    /// The output columns written, as indices into [`OUTPUTS`](super::eval::OUTPUTS)
    /// ([`super::eval::kept_outputs`] of the base and the swept keys).
    kept: Vec<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    mode: Option<Spanned<String>>,
    samples: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    evaluate: Option<Spanned<String>>,
    #[serde(default)]
    parameter: Vec<Spanned<RawParameter>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    key: Spanned<String>,
    values: Option<Spanned<Vec<Q>>>,
    from: Option<Q>,
    to: Option<Q>,
    steps: Option<Spanned<i64>>,
    scale: Option<Spanned<String>>,
}

/// Error helper bound to one file's text.
struct At<'a> {
    file: &'a str,
    src: &'a str,
}

impl At<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_col(self.src, span.start);
        ScenarioError::At {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl SweepSpec {
    /// Read a sweep (a scenario with `[sweep]`, or a sweep file with `base`) and check every
    /// parameter and every value against the scenario.
    pub fn from_path(path: &Path) -> Result<Self, ScenarioError> {
        let sweep_text = read(path)?;
        Self::from_text(sweep_text, path)
    }

    /// [`Self::from_path`] of a sweep's text (a scenario with `[sweep]`, or `base` and
    /// `[sweep]`): `path` names it in errors and in `sweep.json`, and its folder is where
    /// `base` and trace files are found (a sweep built in memory, as the Python bindings do,
    /// passes a label such as `<python>/viral-video.toml` beside the scenario it varies).
    pub fn from_text(sweep_text: String, path: &Path) -> Result<Self, ScenarioError> {
        let label = path.display().to_string();
        let at = At {
            file: &label,
            src: &sweep_text,
        };
        let mut doc =
            DeTable::parse(&sweep_text).map_err(|e| toml_error(&label, &sweep_text, &e))?;
        let whole = doc.span();
        let Some((_, sweep_value)) = doc.get_mut().remove_entry("sweep") else {
            return Err(ScenarioError::Whole {
                file: label.clone(),
                message: "no [sweep] section: a sweep file needs [sweep] with at least one [[sweep.parameter]] (see README, \"Sweeps\")".into(),
            });
        };
        let sweep_span = sweep_value.span();
        let DeValue::Table(sweep_table) = sweep_value.into_inner() else {
            return Err(at.err(sweep_span, "`sweep` must be a table ([sweep])"));
        };
        let raw = RawSweep::deserialize(toml::de::Deserializer::from(Spanned::new(
            sweep_span.clone(),
            sweep_table,
        )))
        .map_err(|e| match e.span() {
            Some(_) => toml_error(&label, &sweep_text, &e),
            None => at.err(
                sweep_span.clone(),
                format!("[sweep]: {}", cut_quoted(e.message().trim())),
            ),
        })?;

        // The base scenario: this file without [sweep], or the file `base` names.
        let base_entry = doc.get_mut().remove_entry("base");
        let dir = path.parent().map(Path::to_path_buf);
        let (base_label, base_text, base_dir) = match base_entry {
            Some((_, v)) => {
                let span = v.span();
                let DeValue::String(rel) = v.into_inner() else {
                    return Err(at.err(
                        span,
                        "`base` must be a path string, e.g. base = \"viral-video.toml\"",
                    ));
                };
                if let Some((k, _)) = doc.get_ref().iter().next() {
                    return Err(at.err(
                        k.span(),
                        format!("`{}`: a sweep file with `base` holds only `base` and [sweep]; change the scenario itself, or sweep the key", echo(k.get_ref())),
                    ));
                }
                let p = dir.clone().unwrap_or_default().join(rel.as_ref());
                let text = read(&p)?;
                (
                    p.display().to_string(),
                    text,
                    p.parent().map(Path::to_path_buf),
                )
            }
            None => (label.clone(), String::new(), dir.clone()),
        };
        let own = base_text.is_empty();
        let base_text: &'static str =
            Box::leak(if own { sweep_text.clone() } else { base_text }.into_boxed_str());
        let _ = whole;
        let table = {
            let mut t =
                DeTable::parse(base_text).map_err(|e| toml_error(&base_label, base_text, &e))?;
            if own {
                t.get_mut().remove("sweep");
            } else if t.get_ref().contains_key("sweep") {
                return Err(ScenarioError::Whole {
                    file: base_label.clone(),
                    message: format!(
                        "has its own [sweep] while {label} names it as `base`: keep one sweep"
                    ),
                });
            }
            t
        };

        let mut spec = SweepSpec {
            file: path.to_path_buf(),
            base_label,
            base_dir,
            base: Scenario::builtin_default()?,
            mode: Mode::Grid,
            parameters: Vec::new(),
            samples: 0,
            seed: 1,
            evaluate: Evaluate::Steady,
            points: 0,
            hash: 0,
            sweep_text: if own {
                String::new()
            } else {
                sweep_text.clone()
            },
            base_text,
            table,
            raw: None,
            parsed: None,
            kept: Vec::new(),
        };
        spec.base = validate_table(
            spec.table.clone(),
            spec.base_text,
            &spec.base_label,
            spec.base_dir.as_deref(),
        )?;
        spec.read_raw(&raw, &at, sweep_span)?;
        spec.raw = spec.in_place()?;
        if let Some(raw) = &spec.raw {
            let mut parsed = parse_quantities(
                raw.clone(),
                spec.base_text,
                &spec.base_label,
                spec.base_dir.as_deref(),
            )?;
            for span in spec.parameters.iter().filter_map(|p| p.value_span.as_ref()) {
                parsed.forget(span);
            }
            spec.parsed = Some(parsed);
        }
        spec.check_values(&at)?;
        let keys: Vec<&str> = spec.parameters.iter().map(|p| p.key.as_str()).collect();
        spec.kept = super::eval::kept_outputs(&spec.base, &keys);
        spec.hash = spec.compute_hash();
        Ok(spec)
    }

    fn read_raw(
        &mut self,
        raw: &RawSweep,
        at: &At<'_>,
        sweep_span: Range<usize>,
    ) -> Result<(), ScenarioError> {
        self.mode = match raw.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
            None | Some(("grid", _)) => Mode::Grid,
            Some(("zip", _)) => Mode::Zip,
            Some(("random", _)) => Mode::Random,
            Some(("lhs", _)) => Mode::Lhs,
            Some((other, span)) => {
                return Err(at.err(
                    span,
                    format!(
                    "`sweep.mode` must be \"grid\", \"zip\", \"random\" or \"lhs\" (got \"{}\")",
                    echo(other)
                ),
                ))
            }
        };
        let sampled = matches!(self.mode, Mode::Random | Mode::Lhs);
        match (&raw.samples, sampled) {
            (Some(s), true) => {
                let n = *s.get_ref();
                if !(1..=1_000_000_000_000).contains(&n) {
                    return Err(at.err(s.span(), format!("`sweep.samples` must be in [1, 10^12] (got {n})")));
                }
                self.samples = n as u64;
            }
            (None, true) => {
                return Err(at.err(sweep_span, format!("`sweep.samples` is missing (required with mode = \"{}\")", self.mode.label())))
            }
            (Some(s), false) => {
                return Err(at.err(s.span(), format!("`sweep.samples` is only for mode = \"random\" or \"lhs\" (mode is \"{}\": the values decide the points)", self.mode.label())))
            }
            (None, false) => {}
        }
        if let Some(s) = &raw.seed {
            let v = *s.get_ref();
            if v < 0 {
                return Err(at.err(s.span(), format!("`sweep.seed` must be ≥ 0 (got {v})")));
            }
            self.seed = v as u64;
        }
        let auto = if self.base.horizon.is_none()
            && matches!(
                self.base.demand.arrival,
                crate::model::ArrivalProfile::Constant { .. }
            ) {
            Evaluate::Steady
        } else {
            Evaluate::Run
        };
        self.evaluate = match raw
            .evaluate
            .as_ref()
            .map(|m| (m.get_ref().as_str(), m.span()))
        {
            None | Some(("auto", _)) => auto,
            Some(("run", _)) => Evaluate::Run,
            Some(("steady", span)) => {
                if auto != Evaluate::Steady {
                    return Err(at.err(span, "`sweep.evaluate` = \"steady\" needs constant arrivals (demand.profile = \"constant\") and no `horizon`: use \"run\" or \"auto\""));
                }
                Evaluate::Steady
            }
            Some((other, span)) => {
                return Err(at.err(
                    span,
                    format!(
                        "`sweep.evaluate` must be \"auto\", \"steady\" or \"run\" (got \"{}\")",
                        echo(other)
                    ),
                ))
            }
        };
        if raw.parameter.is_empty() {
            return Err(at.err(sweep_span, "[sweep] has no parameter: add [[sweep.parameter]] with key and values (or from/to/steps)"));
        }
        let mut params = Vec::new();
        for p in &raw.parameter {
            let param = parameter(p, at, self.table.get_ref(), self.mode)?;
            if params.iter().any(|q: &Parameter| q.key == param.key) {
                return Err(at.err(
                    p.get_ref().key.span(),
                    format!("`{}` is swept twice", echo(&param.key)),
                ));
            }
            params.push(param);
        }
        self.points = match self.mode {
            Mode::Grid => params
                .iter()
                .try_fold(1u64, |acc, p| {
                    acc.checked_mul(p.values.as_ref().map_or(0, Vec::len) as u64)
                })
                .ok_or_else(|| at.err(sweep_span.clone(), "the grid has more than 2^64 points"))?,
            Mode::Zip => {
                let n = params[0].values.as_ref().map_or(0, Vec::len);
                if let Some((p, raw_p)) = params
                    .iter()
                    .zip(&raw.parameter)
                    .find(|(p, _)| p.values.as_ref().map_or(0, Vec::len) != n)
                {
                    return Err(at.err(raw_p.span(), format!("mode = \"zip\" needs the same number of values for every parameter: `{}` has {}, `{}` has {n}", p.key, p.values.as_ref().map_or(0, Vec::len), params[0].key)));
                }
                n as u64
            }
            Mode::Random | Mode::Lhs => self.samples,
        };
        self.parameters = params;
        let _ = &self.sweep_text;
        Ok(())
    }

    /// Put each parameter's values, one at a time, into the scenario (others as written), so a
    /// value out of range or of the wrong kind is reported at its parameter in the sweep file,
    /// with the scenario's own message. Only errors located at the value itself count here: a
    /// rule across keys (class shares summing to 1) may need several parameters together and
    /// is checked point by point before the sweep runs.
    fn check_values(&self, at: &At<'_>) -> Result<(), ScenarioError> {
        for p in &self.parameters {
            let values: Vec<Value> = match &p.values {
                Some(v) => v.clone(),
                None => vec![p.value_from_unit(0.0), p.value_from_unit(1.0)],
            };
            let here = p
                .value_span
                .as_ref()
                .map(|sp| line_col(self.base_text, sp.start));
            for (i, v) in values.iter().enumerate() {
                let Err(e) = self.scenario_with(&[(p, v)]) else {
                    continue;
                };
                let about_the_value = match (&e, here) {
                    (ScenarioError::At { line, column, .. }, Some(pos)) => (*line, *column) == pos,
                    // A key the scenario does not give: any error is about it.
                    (_, None) => true,
                    _ => false,
                };
                if about_the_value {
                    return Err(at.err(
                        p.span.clone(),
                        format!(
                            "`{}` value {} ({}): {e}",
                            echo(&p.key),
                            i + 1,
                            echo(&v.toml)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The values point `i` gives the parameters.
    pub fn point(&self, i: u64) -> Vec<Value> {
        match self.mode {
            Mode::Grid => {
                let mut rest = i;
                let mut out = vec![None; self.parameters.len()];
                for (j, p) in self.parameters.iter().enumerate().rev() {
                    let v = p.values.as_deref().unwrap_or(&[]);
                    let n = v.len() as u64;
                    out[j] = Some(v[(rest % n) as usize].clone());
                    rest /= n;
                }
                out.into_iter().flatten().collect()
            }
            Mode::Zip => self
                .parameters
                .iter()
                .map(|p| p.values.as_deref().unwrap_or(&[])[i as usize].clone())
                .collect(),
            Mode::Random => self
                .parameters
                .iter()
                .enumerate()
                .map(|(j, p)| p.value_from_unit(unit_draw(self.seed, i, j as u64, 0)))
                .collect(),
            Mode::Lhs => self
                .parameters
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    let key = mix(self.seed ^ 0x4c48_5300, j as u64);
                    let stratum = permute(i, self.samples, key);
                    let u = (stratum as f64 + unit_draw(self.seed, i, j as u64, 1))
                        / self.samples as f64;
                    p.value_from_unit(u)
                })
                .collect(),
        }
    }

    /// The scenario of point `i`, validated.
    pub fn scenario(&self, i: u64) -> Result<(Vec<Value>, Scenario), ScenarioError> {
        let values = self.point(i);
        let pairs: Vec<(&Parameter, &Value)> = self.parameters.iter().zip(&values).collect();
        let s = self.scenario_with(&pairs)?;
        Ok((values, s))
    }

    /// The base file's raw form if every swept key can be set in it in place (tried with
    /// each parameter's first value).
    fn in_place(&self) -> Result<Option<ScenarioFile>, ScenarioError> {
        let raw = raw_of_table(self.table.clone(), self.base_text, &self.base_label)?;
        let mut probe = raw.clone();
        let ok = self.parameters.iter().all(|p| {
            let first = match &p.values {
                Some(v) => v.first().cloned(),
                None => Some(p.value_from_unit(0.0)),
            };
            first.is_some_and(|v| set_in_place(&mut probe, p, &v))
        });
        Ok(ok.then_some(raw))
    }

    fn scenario_with(&self, set: &[(&Parameter, &Value)]) -> Result<Scenario, ScenarioError> {
        if let Some(raw) = &self.raw {
            let mut point = raw.clone();
            if set.iter().all(|(p, v)| set_in_place(&mut point, p, v)) {
                return validate_raw(
                    point,
                    self.base_text,
                    &self.base_label,
                    self.base_dir.as_deref(),
                    self.parsed.as_ref(),
                );
            }
        }
        self.scenario_in_table(set)
    }

    /// The general path: the values put into a copy of the parsed TOML table.
    fn scenario_in_table(&self, set: &[(&Parameter, &Value)]) -> Result<Scenario, ScenarioError> {
        let mut table: Spanned<DeTable<'_>> = self.table.clone();
        let texts: Vec<&str> = set.iter().map(|(_, v)| v.toml.as_str()).collect();
        let mut parsed = Vec::with_capacity(texts.len());
        for t in &texts {
            parsed.push(DeValue::parse(t).map_err(|e| ScenarioError::Whole {
                file: self.base_label.clone(),
                message: format!(
                    "sweep value {}: {}",
                    echo(t),
                    cut_quoted(e.message().trim())
                ),
            })?);
        }
        for ((p, _), v) in set.iter().zip(parsed) {
            let whole = table.span();
            put(
                table.get_mut(),
                &p.path,
                v.into_inner(),
                whole.start..whole.start,
            );
        }
        validate_table(
            table,
            self.base_text,
            &self.base_label,
            self.base_dir.as_deref(),
        )
    }

    fn compute_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.write(b"peerfluid-sweep-1\0");
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        h.write(b"\0");
        h.write(self.base_text.as_bytes());
        h.write(b"\0");
        h.write(self.sweep_text.as_bytes());
        h.write(b"\0");
        h.write(super::eval::header(self).as_bytes());
        h.finish()
    }

    /// The output columns of `sweep.csv` after `status` (name, unit, meaning), in order: those
    /// of [`OUTPUTS`](super::eval::OUTPUTS) a point of this sweep can fill.
    pub fn outputs(
        &self,
    ) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> + '_ {
        self.kept.iter().map(|&k| &super::eval::OUTPUTS[k])
    }

    /// [`Self::outputs`] as indices into [`OUTPUTS`](super::eval::OUTPUTS).
    pub fn kept_outputs(&self) -> &[usize] {
        &self.kept
    }

    /// The spec hash as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }
}

/// Set parameter `p` to `v` in a parsed file; false when it cannot be set in place.
fn set_in_place(raw: &mut ScenarioFile, p: &Parameter, v: &Value) -> bool {
    let Some(value) = patch::Value::of_toml(&v.toml) else {
        return false;
    };
    let mut path = [""; 8];
    if p.segments.len() > path.len() {
        return false;
    }
    for (slot, seg) in path.iter_mut().zip(&p.segments) {
        *slot = seg;
    }
    raw.patch(&path[..p.segments.len()], value)
}

/// Scenario text with keys set, and the scenario it validates to: `text` (with `label` and
/// `dir` as for [`Scenario::from_toml`]) with each `(key, value)` of `set` put in. Keys are
/// paths as a sweep names them (`demand.arrival_rate`, `peers.class.fibre.share`: an array
/// of tables indexed by its elements' `name` or by position; a missing table is created);
/// values are TOML text as a file would give them (`"\"3/s\""`, `0.9`, `"\"cdn\""`,
/// `true`). The result is written back as TOML (the file's comments and layout are not kept):
/// errors about it, and its line numbers, refer to that text.
///
/// ```
/// use peerfluid::scenario::{DEFAULT_LABEL, DEFAULT_SCENARIO};
/// use peerfluid::sweep::spec::with_keys;
///
/// let set = [("demand.arrival_rate".to_string(), "\"3/s\"".to_string())];
/// let (text, s) = with_keys(DEFAULT_SCENARIO, DEFAULT_LABEL, None, &set)?;
/// assert!(text.contains("arrival_rate = \"3/s\""));
/// assert_eq!(s.demand.arrival.reference_rate().0, 3.0);
/// # Ok::<(), peerfluid::error::ScenarioError>(())
/// ```
pub fn with_keys(
    text: &str,
    label: &str,
    dir: Option<&Path>,
    set: &[(String, String)],
) -> Result<(String, Scenario), ScenarioError> {
    use serde::Deserialize as _;
    let whole = |message: String| ScenarioError::Whole {
        file: label.to_string(),
        message,
    };
    let mut table = DeTable::parse(text).map_err(|e| toml_error(label, text, &e))?;
    for (key, value) in set {
        let (path, _) = resolve(table.get_ref(), key).map_err(whole)?;
        let parsed = DeValue::parse(value).map_err(|e| {
            whole(format!(
                "`{}`: {} is not a TOML value: {}",
                echo(key),
                echo(value),
                cut_quoted(e.message().trim())
            ))
        })?;
        let start = table.span().start;
        put(table.get_mut(), &path, parsed.into_inner(), start..start);
    }
    let plain = toml::Table::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| whole(cut_quoted(e.message().trim()).into_owned()))?;
    let written = toml::to_string(&plain).map_err(|e| whole(e.to_string()))?;
    let scenario = Scenario::from_toml(&written, label, dir)?;
    Ok((written, scenario))
}

/// A file's text, or the scenario error saying why it cannot be read.
fn read(p: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(p).map_err(|e| ScenarioError::Read {
        file: p.display().to_string(),
        reason: e.to_string(),
    })
}

/// Whether TOML text is a sweep (has `[sweep]`, or names a `base` scenario). Text that does not
/// parse is not a sweep (the scenario reader reports the syntax error).
pub fn is_sweep(text: &str) -> bool {
    DeTable::parse(text).is_ok_and(|t| {
        let t = t.get_ref();
        t.contains_key("sweep") || t.contains_key("base")
    })
}

/// Read one `[[sweep.parameter]]`.
fn parameter(
    p: &Spanned<RawParameter>,
    at: &At<'_>,
    table: &DeTable<'_>,
    mode: Mode,
) -> Result<Parameter, ScenarioError> {
    let raw = p.get_ref();
    let key = raw.key.get_ref().trim().to_string();
    let key_span = raw.key.span();
    // Messages quote the key cut (it is the user's text, and may be long).
    let shown = echo(&key);
    let (path, existing) = resolve(table, &key).map_err(|m| at.err(key_span.clone(), m))?;
    let value_span = existing.map(Spanned::span);
    // The scenario's own value must be a quantity (or absent).
    let mut dim = None;
    if let Some(v) = existing.map(Spanned::get_ref) {
        match v {
            DeValue::Integer(_) | DeValue::Float(_) => {}
            DeValue::String(s) => match units::parse_any(s) {
                Ok((_, d)) => dim = Some(d),
                Err(_) => {
                    return Err(at.err(
                        key_span,
                        format!(
                            "`{shown}` is not a numeric key (the scenario gives it \"{}\")",
                            echo(s)
                        ),
                    ))
                }
            },
            other => {
                return Err(at.err(
                    key_span,
                    format!(
                        "`{shown}` is not a numeric key (the scenario gives it a {})",
                        other.type_str()
                    ),
                ))
            }
        }
    }
    let scale = match raw.scale.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("linear", _)) => Scale::Linear,
        Some(("log", _)) => Scale::Log,
        Some((other, span)) => {
            return Err(at.err(
                span,
                format!(
                    "`scale` must be \"linear\" or \"log\" (got \"{}\")",
                    echo(other)
                ),
            ))
        }
    };
    let read_q = |q: &Q, what: &str| -> Result<(f64, Option<Dimension>, String), ScenarioError> {
        match q.get_ref() {
            Quantity::Number(v) if v.is_finite() => Ok((*v, None, format!("{v:e}"))),
            Quantity::Number(v) => {
                Err(at.err(q.span(), format!("`{shown}` {what}: {v} is not finite")))
            }
            Quantity::Text(t) => match units::parse_any(t) {
                Ok((v, Dimension::Dimensionless)) => Ok((v, None, format!("{v:e}"))),
                Ok((v, d)) => Ok((v, Some(d), format!("\"{}\"", t.trim()))),
                Err(e) => Err(at.err(q.span(), format!("`{shown}` {what}: {e}"))),
            },
        }
    };
    let mut note_dim = |d: Option<Dimension>, span: Range<usize>| -> Result<(), ScenarioError> {
        if let Some(d) = d {
            match dim {
                Some(prev) if prev != d && !matches!(prev, Dimension::Dimensionless) => {
                    return Err(at.err(
                        span,
                        format!(
                            "`{shown}`: {} where {} is expected",
                            d.describe(),
                            prev.describe()
                        ),
                    ))
                }
                _ => dim = Some(d),
            }
        }
        Ok(())
    };
    let sampled = matches!(mode, Mode::Random | Mode::Lhs);
    let (values, range) = match (&raw.values, &raw.from, &raw.to) {
        (Some(list), None, None) => {
            if sampled {
                return Err(at.err(
                    list.span(),
                    format!(
                        "`{shown}`: mode = \"{}\" draws from a range: give from and to, not values",
                        mode.label()
                    ),
                ));
            }
            if let Some(s) = &raw.steps {
                return Err(at.err(
                    s.span(),
                    format!("`{shown}`: steps goes with from/to, not with values"),
                ));
            }
            if list.get_ref().is_empty() {
                return Err(at.err(list.span(), format!("`{shown}`: values is empty")));
            }
            let mut out = Vec::new();
            for q in list.get_ref() {
                let (number, d, toml) = read_q(q, "value")?;
                note_dim(d, q.span())?;
                out.push(Value { number, toml });
            }
            (Some(out), None)
        }
        (None, Some(f), Some(t)) => {
            let (a, da, _) = read_q(f, "from")?;
            note_dim(da, f.span())?;
            let (b, db, _) = read_q(t, "to")?;
            note_dim(db, t.span())?;
            if matches!(scale, Scale::Log) && !(a > 0.0 && b > 0.0) {
                return Err(at.err(
                    f.span(),
                    format!("`{shown}`: scale = \"log\" needs from and to > 0 (got {a} and {b})"),
                ));
            }
            let d = dim.unwrap_or(Dimension::Dimensionless);
            if sampled {
                if let Some(s) = &raw.steps {
                    return Err(at.err(s.span(), format!("`{shown}`: steps has no meaning with mode = \"{}\" (sweep.samples sets the number of points)", mode.label())));
                }
                (None, Some((a, b)))
            } else {
                let Some(steps) = &raw.steps else {
                    return Err(at.err(
                        p.span(),
                        format!(
                            "`{shown}`: steps is missing (required with from/to in mode = \"{}\")",
                            mode.label()
                        ),
                    ));
                };
                let n = *steps.get_ref();
                if !(1..=100_000_000).contains(&n) {
                    return Err(at.err(
                        steps.span(),
                        format!("`{shown}`: steps must be in [1, 10^8] (got {n})"),
                    ));
                }
                let n = n as usize;
                let vals = (0..n)
                    .map(|i| {
                        let number = if i + 1 == n && n > 1 {
                            b
                        } else if n == 1 {
                            a
                        } else {
                            scale.at(a, b, i as f64 / (n - 1) as f64)
                        };
                        number_value(number, d)
                    })
                    .collect();
                (Some(vals), Some((a, b)))
            }
        }
        (Some(list), _, _) => {
            return Err(at.err(
                list.span(),
                format!("`{shown}`: give values, or from/to, not both"),
            ))
        }
        _ => {
            return Err(at.err(
                p.span(),
                format!(
                    "`{shown}`: give values = [...], or from and to (with steps for grid and zip)"
                ),
            ))
        }
    };
    let segments = path
        .iter()
        .map(|step| match step {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect();
    Ok(Parameter {
        key,
        path,
        segments,
        dim: dim.unwrap_or(Dimension::Dimensionless),
        scale,
        values,
        range,
        span: key_span,
        value_span,
    })
}

/// Resolve a key path against the scenario's table: the steps, and the value now there.
fn resolve<'t, 'i>(
    table: &'t DeTable<'i>,
    key: &str,
) -> Result<(Vec<Step>, Option<&'t Spanned<DeValue<'i>>>), String> {
    let shown = echo(key);
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if key.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{shown}` is not a key path (e.g. \"demand.arrival_rate\")"
        ));
    }
    if parts[0] == "sweep" || parts[0] == "base" {
        return Err(format!("`{shown}`: the sweep cannot sweep itself"));
    }
    let mut steps = Vec::new();
    let mut here: Option<&Spanned<DeValue<'i>>> = None;
    let mut current: Option<&DeTable<'i>> = Some(table);
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let last = i + 1 == parts.len();
        match (current, here) {
            (Some(t), _) => {
                steps.push(Step::Key(part.to_string()));
                let v = t.get(part);
                here = v;
                current = match v.map(Spanned::get_ref) {
                    Some(DeValue::Table(t)) => Some(t),
                    _ => None,
                };
                if v.is_none() && !last {
                    // A missing table is created when the point is built.
                    for rest in &parts[i + 1..] {
                        steps.push(Step::Key((*rest).to_string()));
                    }
                    return Ok((steps, None));
                }
            }
            (None, h) => {
                let Some(DeValue::Array(a)) = h.map(Spanned::get_ref) else {
                    let at = parts[..i].join(".");
                    return Err(format!("`{shown}`: `{}` is not a table", echo(&at)));
                };
                let index = match part.parse::<usize>() {
                    Ok(n) if n < a.len() => n,
                    Ok(n) => {
                        return Err(format!(
                            "`{shown}`: index {n} is past the end ({} entries)",
                            a.len()
                        ))
                    }
                    Err(_) => a
                        .iter()
                        .position(|e| match e.get_ref() {
                            DeValue::Table(t) => t.get("name").is_some_and(
                                |n| matches!(n.get_ref(), DeValue::String(s) if s.trim() == part),
                            ),
                            _ => false,
                        })
                        .ok_or_else(|| {
                            let names: Vec<String> = a
                                .iter()
                                .filter_map(|e| match e.get_ref() {
                                    DeValue::Table(t) => {
                                        t.get("name").and_then(|n| match n.get_ref() {
                                            DeValue::String(s) => Some(s.to_string()),
                                            _ => None,
                                        })
                                    }
                                    _ => None,
                                })
                                .collect();
                            format!(
                                "`{shown}`: no entry named \"{}\" (names: {})",
                                echo(part),
                                names.join(", ")
                            )
                        })?,
                };
                steps.push(Step::Index(index));
                here = Some(&a[index]);
                current = match a[index].get_ref() {
                    DeValue::Table(t) => Some(t),
                    _ => None,
                };
                if last {
                    return Err(format!("`{shown}` names a whole entry, not a number: add the field, e.g. `{shown}.share`"));
                }
            }
        }
        i += 1;
    }
    if matches!(here.map(Spanned::get_ref), Some(DeValue::Table(_))) {
        return Err(format!(
            "`{shown}` is a table, not a number: name one of its keys"
        ));
    }
    Ok((steps, here))
}

/// Put `value` at `path`, creating missing tables; the new value keeps the span of the one it
/// replaces (so errors point at the scenario's line), or its table's.
fn put<'i>(table: &mut DeTable<'i>, path: &[Step], value: DeValue<'i>, mut span: Range<usize>) {
    let mut t = table;
    for (n, step) in path.iter().enumerate() {
        let last = n + 1 == path.len();
        match step {
            Step::Key(k) => {
                if last {
                    let sp = t.get(k.as_str()).map_or(span.clone(), Spanned::span);
                    match t.get_mut(k.as_str()) {
                        Some(slot) => *slot = Spanned::new(sp, value),
                        None => {
                            t.insert(
                                Spanned::new(sp.clone(), std::borrow::Cow::Owned(k.clone())),
                                Spanned::new(sp, value),
                            );
                        }
                    }
                    return;
                }
                if t.get(k.as_str()).is_none() {
                    t.insert(
                        Spanned::new(span.clone(), std::borrow::Cow::Owned(k.clone())),
                        Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
                    );
                }
                let Some(next) = t.get_mut(k.as_str()) else {
                    return;
                };
                span = next.span();
                let next_is_array = matches!(next.get_ref(), DeValue::Array(_));
                if next_is_array {
                    // The next step is an index.
                    let Some(Step::Index(ix)) = path.get(n + 1) else {
                        return;
                    };
                    let DeValue::Array(a) = next.get_mut() else {
                        return;
                    };
                    let Some(el) = a.get_mut(*ix) else { return };
                    span = el.span();
                    let DeValue::Table(inner) = el.get_mut() else {
                        return;
                    };
                    return put(inner, &path[n + 2..], value, span);
                }
                let DeValue::Table(inner) = next.get_mut() else {
                    return;
                };
                t = inner;
            }
            Step::Index(_) => return,
        }
    }
}

// ---- counter-based randomness ----

/// SplitMix64 finaliser.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) for (seed, point, parameter, stream), the same on every thread.
fn unit_draw(seed: u64, point: u64, param: u64, stream: u64) -> f64 {
    let h = mix(mix(mix(seed, point), param), stream);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A keyed bijection of [0, n): a 4-round Feistel network on the smallest even power of two
/// ≥ n, with cycle-walking back into range.
fn permute(i: u64, n: u64, key: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let bits = 64 - (n - 1).leading_zeros();
    let half = bits.div_ceil(2).max(1);
    let mask = (1u64 << half) - 1;
    let mut x = i;
    loop {
        let (mut l, mut r) = (x >> half, x & mask);
        for round in 0..4u64 {
            let f = mix(key, (r << 3) | round) & mask;
            (l, r) = (r, l ^ f);
        }
        x = (l << half) | r;
        if x < n {
            return x;
        }
    }
}

/// FNV-1a, 64 bits: a stable hash of the spec (not for security).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points built in place (the base file parsed once, its swept keys set in a copy) are the
    /// scenarios the general path builds through the TOML table, value for value, on every
    /// shipped sweep and on class keys, plain numbers and values that fail validation (both
    /// paths fail, with the same message).
    #[test]
    fn points_set_in_place_equal_points_built_from_the_table() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("tempdir");
        let classes = dir.path().join("classes.toml");
        std::fs::write(
            &classes,
            format!(
                "base = \"{}\"\n[sweep]\nmode = \"random\"\nsamples = 200\n\
                 [[sweep.parameter]]\nkey = \"peers.class.0.share\"\nfrom = 0.1\nto = 0.6\n\
                 [[sweep.parameter]]\nkey = \"peers.class.1.download\"\nfrom = \"1 Mbps\"\nto = \"100 Mbps\"\n\
                 [[sweep.parameter]]\nkey = \"swarm.efficiency\"\nfrom = 0.1\nto = 1\n",
                root.join("scenarios/dsl-fibre.toml").display()
            ),
        )
        .expect("write");
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("scenarios/sweeps"))
            .expect("presets")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        // Issue 19 §4: every numeric key of `[coordination]` (quantities and plain numbers).
        let coordination = dir.path().join("coordination.toml");
        std::fs::write(
            &coordination,
            format!(
                "base = \"{}\"\n[sweep]\nmode = \"random\"\nsamples = 50\n\
                 [[sweep.parameter]]\nkey = \"coordination.tracker.interval\"\nfrom = \"5 min\"\nto = \"2 h\"\n\
                 [[sweep.parameter]]\nkey = \"coordination.tracker.capacity\"\nfrom = \"100/s\"\nto = \"10000/s\"\n\
                 [[sweep.parameter]]\nkey = \"coordination.tracker.server\"\nfrom = \"$10\"\nto = \"$500\"\n\
                 [[sweep.parameter]]\nkey = \"coordination.dht.message\"\nfrom = \"50 B\"\nto = \"1 kB\"\n\
                 [[sweep.parameter]]\nkey = \"coordination.dht.lookups\"\nfrom = 0\nto = 4\n\
                 [[sweep.parameter]]\nkey = \"coordination.flood.replication\"\nfrom = 0.01\nto = 1\n\
                 [[sweep.parameter]]\nkey = \"coordination.flood.queries\"\nfrom = 0.5\nto = 3\n",
                root.join("scenarios/coordination.toml").display()
            ),
        )
        .expect("write");
        files.push(coordination);
        files.push(classes);
        let mut in_place = 0;
        for f in &files {
            let spec = SweepSpec::from_path(f).expect("sweep loads");
            if spec.raw.is_some() {
                in_place += 1;
            }
            let n = spec.points;
            let picks = [0, 1, n / 3, n / 2, n - 2, n - 1];
            for i in picks.into_iter().filter(|&i| i < n) {
                let values = spec.point(i);
                let set: Vec<(&Parameter, &Value)> = spec.parameters.iter().zip(&values).collect();
                let a = spec.scenario_with(&set);
                let b = spec.scenario_in_table(&set);
                match (a, b) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{} point {i}", f.display()),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{} point {i}: {a:?} vs {b:?}", f.display()),
                }
            }
        }
        assert_eq!(
            in_place,
            files.len(),
            "every one of these sweeps is set in place"
        );

        // Values that fail: out of range, and shares that no longer sum to 1.
        let spec = SweepSpec::from_path(&files[files.len() - 1]).expect("loads");
        for (j, text) in [(0, "0.9"), (1, "\"1e20 Mbps\""), (2, "1.5")] {
            let mut values = spec.point(0);
            values[j] = Value {
                number: f64::NAN,
                toml: text.into(),
            };
            let set: Vec<(&Parameter, &Value)> = spec.parameters.iter().zip(&values).collect();
            let (a, b) = (spec.scenario_with(&set), spec.scenario_in_table(&set));
            let (a, b) = (a.expect_err("fails"), b.expect_err("fails"));
            assert_eq!(a.to_string(), b.to_string());
        }
    }

    #[test]
    fn feistel_permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 10, 64, 100, 1000, 4097] {
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = permute(i, n, 12345);
                assert!(j < n);
                assert!(!seen[j as usize], "n = {n}: {j} twice");
                seen[j as usize] = true;
            }
        }
    }

    #[test]
    fn unit_draws_are_uniform_enough() {
        // Mean of 10^5 draws: sd = 1/sqrt(12 * 1e5) ≈ 9.1e-4; 5 sd.
        let n = 100_000u64;
        let mean = (0..n).map(|i| unit_draw(7, i, 0, 0)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 5.0 * 9.2e-4, "{mean}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&unit_draw(7, i, 3, 1))));
    }

    #[test]
    fn fnv_matches_the_published_test_vector() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (Fowler–Noll–Vo reference vectors).
        let mut h = Fnv::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
