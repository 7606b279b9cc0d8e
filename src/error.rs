//! Typed errors, one enum per pipeline stage (scenario → model → solve → output).
//!
//! Library code returns these; only `main.rs` and `cli.rs` wrap them with `anyhow` context.
//! A stage that calls others ([`RunError`] for `run`, [`JobError`] for `simulate` and
//! `validate`) keeps the cause as a typed `source` beside the words saying which scenario and
//! which step, so `{:#}` prints `scenario 'x': integration failed: <cause>` and a caller (the
//! Python bindings) can still match on the cause. Every message names the thing, the bound and
//! the value, and where.

use std::borrow::Cow;
use std::path::PathBuf;

/// At most this many characters of a user's value are echoed back in a message.
pub const ECHO_CHARS: usize = 60;

/// A user's value (a scenario value, a unit, a key, a sweep value) as a message echoes it: whole
/// when it has at most [`ECHO_CHARS`] characters, else its first [`ECHO_CHARS`] characters, "…"
/// and its length: `xxxx… (200000 bytes)`. Every message that quotes the user's text goes
/// through this, so a 200 kB value costs a line of the terminal, not 200 kB.
pub fn echo(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len())),
    }
}

/// `message` with every quoted run (`"…"` or `` `…` ``) longer than [`ECHO_CHARS`] cut by
/// [`echo`]: for messages worded by other crates, such as the TOML reader's `invalid type:
/// string "…", expected f64`, which quote the user's value whole.
pub fn cut_quoted(message: &str) -> Cow<'_, str> {
    if message.chars().count() <= ECHO_CHARS {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        let (head, after) = rest.split_at(open + 1);
        out.push_str(head);
        let close = closing_quote(after, quote);
        let Some(close) = close else {
            rest = after;
            break;
        };
        out.push_str(&echo(&after[..close]));
        out.push(quote);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The byte index of the quote that closes a run opened by `quote` (a `"` run may escape
/// characters with `\`, as Rust's `{:?}` writes them).
fn closing_quote(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote == '"' {
            escaped = true;
        } else if c == quote {
            return Some(i);
        }
    }
    None
}

/// An error and its causes on one line, `scenario 'x': integration failed: <cause>` (what
/// `anyhow`'s `{:#}` prints), for messages that go into files (a sweep row's `status`) or to
/// another language (the Python bindings).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// A scenario file (or a file it names) could not be read, parsed or validated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the file: {reason}")]
    Read {
        /// Path as the user gave it.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// TOML syntax, an unknown key, a wrong type, or a bad value: located in the file.
    #[error("{file}:{line}:{column}: {message}")]
    At {
        /// Path as the user gave it.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong, starting with the key path where one is known.
        message: String,
    },
    /// A problem with no single location (a missing section, a cross-field rule).
    #[error("{file}: {message}")]
    Whole {
        /// Path as the user gave it.
        file: String,
        /// What is wrong, naming the keys involved.
        message: String,
    },
}

/// One error of a scenario or sweep file as data (`peerfluid check --json`): where it is and
/// what it is about, with the same message the human output prints after `file:line:column: `.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Path as the user gave it.
    pub file: String,
    /// 1-based line (`None`: the error has no single place).
    pub line: Option<usize>,
    /// 1-based column in characters (`None` with the line).
    pub column: Option<usize>,
    /// The key path or table the message is about (`swarm.efficiency`, `foo` for an unknown
    /// table `[foo]`), when it names one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ScenarioError {
    /// The error as a [`Diagnostic`].
    pub fn diagnostic(&self) -> Diagnostic {
        let (file, line, column, message) = match self {
            Self::Read { file, reason } => {
                (file, None, None, format!("cannot read the file: {reason}"))
            }
            Self::At {
                file,
                line,
                column,
                message,
            } => (file, Some(*line), Some(*column), message.clone()),
            Self::Whole { file, message } => (file, None, None, message.clone()),
        };
        Diagnostic {
            file: file.clone(),
            line,
            column,
            key: key_of(&message),
            message,
        }
    }
}

/// The key or table a message starts by naming: `` `swarm.efficiency` must be … `` →
/// `swarm.efficiency`; ``unknown table `[foo]` …`` and ``duplicate table `[[isp]]` …`` → the
/// table's name; ``duplicate key `a.b` …`` → `a.b`.
fn key_of(message: &str) -> Option<String> {
    let rest = ["unknown table ", "duplicate table ", "duplicate key "]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .unwrap_or(message);
    let quoted = rest.strip_prefix('`')?;
    let name = &quoted[..quoted.find('`')?];
    let name = name.trim_start_matches('[').trim_end_matches(']');
    (!name.is_empty()).then(|| name.to_string())
}

/// The model cannot be built from the scenario, or has no steady state where one is needed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The swarm has no steady state: its leecher population grows without bound.
    #[error(
        "scenario '{scenario}': the swarm has no steady state (leechers grow without bound: \
         {reason}); set `horizon` to simulate a finite time"
    )]
    NoSteadyState {
        /// Scenario name.
        scenario: String,
        /// Why, in the model's terms.
        reason: String,
    },
}

/// The integration failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// The general-purpose ODE solver stopped.
    #[error("integration failed at t = {t} s: {reason}")]
    Integration {
        /// Model time where it stopped.
        t: f64,
        /// The solver's message.
        reason: String,
    },
    /// The exact piecewise-linear integrator met more regime switches than it allows.
    #[error(
        "integration stopped at t = {t} s after {switches} regime switches (limit {limit}): \
         the trajectory chatters on a regime boundary"
    )]
    TooManySwitches {
        /// Model time where it stopped.
        t: f64,
        /// Switches met.
        switches: usize,
        /// The limit.
        limit: usize,
    },
    /// The exact method's Taylor series cannot go on in a regime that is not affine: too stiff
    /// for an explicit series, or no series exists at this state. `Method::Auto` then hands
    /// the solve to the Rosenbrock method.
    #[error("the exact method stopped at t = {t} s: {reason} (use --method rosenbrock)")]
    SeriesUnavailable {
        /// Model time where it stopped.
        t: f64,
        /// Why.
        reason: String,
    },
    /// The solve needs more steps than its work budget: it would run for minutes or hours.
    #[error(
        "integration stopped at t = {t} s of {t_end} s after {steps} steps (the work budget): \
         the swarm's fastest rate is {rate:.3e}/s, so a step covers at most {step:.3e} s; \
         {hint}"
    )]
    WorkBudget {
        /// Model time where it stopped.
        t: f64,
        /// The horizon asked for.
        t_end: f64,
        /// Steps taken.
        steps: usize,
        /// The fastest rate of the regime (ρ), 1/s.
        rate: f64,
        /// The longest step it allows, s.
        step: f64,
        /// What to change.
        hint: &'static str,
    },
    /// A state became non-finite (a modelling bug or an overflow).
    #[error("the state became non-finite at t = {t} s")]
    NonFinite {
        /// Model time.
        t: f64,
    },
    /// Settings out of range (caller bug or bad flag).
    #[error("solver settings: {0}")]
    Settings(String),
}

/// Writing results failed.
///
/// A variant with a `source` names only the path: the cause is its `source()`, which `{:#}` of
/// an `anyhow` chain prints after it ("out/summary.json: Permission denied (os error 13)").
/// Putting `{source}` in the message as well printed every cause twice.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// I/O on a named path.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// CSV encoding.
    #[error("{path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// JSON encoding.
    #[error("{path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A results file that cannot be read back (`peerfluid plot`).
    #[error("{path}: line {line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A folder that `peerfluid plot` cannot redraw.
    #[error("{path}: {reason}")]
    NotResults {
        /// The folder.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// Another peerfluid process is writing into the same results folder.
    #[error(
        "{path} is in use by another peerfluid process (pid {pid}); wait for it to finish, or \
         give another --out"
    )]
    Locked {
        /// The folder.
        path: PathBuf,
        /// The holder's process id, as it wrote it in the lock file ("unknown" if unreadable).
        pid: String,
    },
    /// The folder holds results of another kind (a sweep where a run would go, …).
    #[error(
        "{path} holds the results of a {found} ({file}); a {wanted} would mix with them: give \
         another --out, or remove the folder"
    )]
    Mixed {
        /// The folder.
        path: PathBuf,
        /// What it holds: "run", "sweep" or "validation".
        found: &'static str,
        /// The data file that says so.
        file: String,
        /// What was to be written.
        wanted: &'static str,
    },
    /// A number bound for an output file is not finite.
    #[error("{file}: {what} is not finite ({value}); {hint}")]
    NonFinite {
        /// The output file.
        file: String,
        /// Which value (column and row, or JSON field).
        what: String,
        /// The value as printed (inf, -inf, NaN).
        value: String,
        /// Which inputs to check.
        hint: String,
    },
}

/// An incentive computation cannot be done with these inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MechanismError {
    /// A parameter is outside its range.
    #[error("{what} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// Which parameter (a flag or key name).
        what: String,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        allowed: String,
    },
    /// The game is too large for the exact method asked for.
    #[error("{what}: {size} is too large for exact computation (limit {limit}); {hint}")]
    TooLarge {
        /// Which computation.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
        /// What to do instead.
        hint: String,
    },
    /// The swarm under the mechanism has no steady state or the equilibrium search failed.
    #[error("{0}")]
    Equilibrium(String),
    /// The scenario is not a file swarm: it has no participation market and no Shapley game
    /// of the provider and its peers (issue 18: refused up front, never a NaN).
    #[error("scenario '{scenario}' is a {kind}: the participation market and its Shapley game are modelled for file swarms only (content.kind = \"file\")")]
    NotFileSwarm {
        /// Scenario name.
        scenario: String,
        /// What it is, in words ("live stream", ...).
        kind: &'static str,
    },
    /// The game's cost with nobody sharing, Ω(0), is undefined: without sharers the swarm has
    /// no steady state.
    #[error("scenario '{scenario}': the Shapley game needs the origin's cost when no peer shares, and with no peer sharing {why}")]
    NoSharingUndefined {
        /// Scenario name.
        scenario: String,
        /// Why, in words.
        why: String,
    },
}

/// `--shard K/N` (with `--shard-base`) does not name a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `--shard-base` other than 0 or 1.
    #[error("--shard-base must be 0 or 1 (got {base})")]
    Base {
        /// The base given.
        base: u64,
    },
    /// N = 0.
    #[error("--shard {id}/0: N must be at least 1 (N is the number of shards)")]
    NoShards {
        /// K as given.
        id: u64,
    },
    /// K below the base (0 with `--shard-base 1`).
    #[error("--shard {id}/{count}: with --shard-base {base} the ids start at 1, so K must be 1 to {count}; drop --shard-base for 0-based ids (--array=0-{last0})", last0 = count - 1)]
    BelowBase {
        /// K as given.
        id: u64,
        /// N.
        count: u64,
        /// The base.
        base: u64,
    },
    /// K at or beyond base + N.
    #[error(
        "--shard {id}/{count}: K must be {base} to {last} ({}); an array numbered from 1 \
         (--array=1-{count}) needs --shard-base 1; and $SLURM_ARRAY_TASK_COUNT counts the tasks of \
         this submission, not the shards, so an array with gaps (--array=0,4,9, a step such as \
         0-8:4, or a rerun of failed tasks) gives ids beyond it: write the number of shards in the \
         script (--shard $SLURM_ARRAY_TASK_ID/16) and resubmit failed shards by their ids \
         (--array=4,9)",
        if *base == 0 { "0-based" } else { "1-based" }
    )]
    Beyond {
        /// K as given.
        id: u64,
        /// N.
        count: u64,
        /// The base.
        base: u64,
        /// The last valid K.
        last: u64,
    },
}

/// A sweep could not be set up, resumed, run or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep spec or its scenario is invalid.
    #[error(transparent)]
    Spec(#[from] ScenarioError),
    /// One point's scenario is invalid (its values together break a rule).
    ///
    /// The scenario's message is part of this one and not a `source`, so that `{:#}` (which
    /// prints the chain) says it once.
    #[error("sweep point {point} ({values}): {reason}")]
    Point {
        /// Point index (0-based, in the whole sweep).
        point: u64,
        /// `key = value` of each parameter.
        values: String,
        /// The scenario's own message.
        reason: ScenarioError,
    },
    /// More points than the limit without `--yes`.
    #[error("{points} points to run is more than the limit of {limit}: rerun with --yes to run them anyway, or split the sweep with --shard K/N")]
    TooLarge {
        /// Points this run would compute.
        points: u64,
        /// The limit.
        limit: u64,
    },
    /// The folder holds a sweep that stopped half-way and `--resume` was not given.
    #[error("{dir}: holds an unfinished sweep ({rows} of {total} rows in {file}); rerun with --resume to finish it, or remove the folder to start again")]
    Unfinished {
        /// Output folder.
        dir: PathBuf,
        /// The partial file.
        file: String,
        /// Rows already written.
        rows: u64,
        /// Rows expected.
        total: u64,
    },
    /// The folder's sweep was made from another spec (or another peerfluid version).
    #[error("{path}: was written by another sweep spec (hash {found}, this one is {expected}); use another --out, or remove the folder")]
    SpecChanged {
        /// The manifest.
        path: PathBuf,
        /// Hash in the folder.
        found: String,
        /// Hash of this spec.
        expected: String,
    },
    /// `--shard K/N` out of range.
    #[error("--shard {index}/{count}: K must be in [0, N) and N ≥ 1 (0-based, as $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")]
    Shard {
        /// K.
        index: u64,
        /// N.
        count: u64,
    },
    /// `merge` found the shards incomplete or inconsistent.
    #[error("{dir}: cannot merge: {reason}")]
    Merge {
        /// Folder.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A file of the sweep could not be read or written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The worker threads could not be started.
    #[error("starting {threads} worker threads: {reason}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// The operating system's reason.
        reason: String,
    },
}

/// A run or comparison (`run::run_scenario`, `run::compare_scenario`) could not be done:
/// which scenario and step (`context`, "scenario 'x': integration failed"), and the typed cause.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The swarm has no steady state where the run needs one.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An integration failed.
    #[error("{context}")]
    Solve {
        /// Scenario and step.
        context: String,
        /// The solver's error.
        #[source]
        source: SolveError,
    },
    /// The incentive (who shares, how they are paid) could not be worked out.
    #[error("{context}")]
    Mechanism {
        /// Scenario and step.
        context: String,
        /// The mechanism's error.
        #[source]
        source: MechanismError,
    },
    /// The ISP locality report could not be made.
    #[error("{context}")]
    Locality {
        /// Scenario and step.
        context: String,
        /// The locality model's error.
        #[source]
        source: LocalityError,
    },
    /// A live, VoD or file-push formula could not be evaluated.
    #[error("{context}")]
    Video {
        /// Scenario and step.
        context: String,
        /// The formula's error.
        #[source]
        source: VideoError,
    },
    /// A live or VoD formula could not be evaluated at this scenario's values (the formula's
    /// message says which argument).
    #[error(transparent)]
    Formula(#[from] VideoError),
    /// The bills could not be made.
    #[error("{context}")]
    Cost {
        /// Scenario and step.
        context: String,
        /// The cost model's error.
        #[source]
        source: crate::cost::CostError,
    },
    /// The stochastic twin cannot be run or compared (`fluid_for_simulation`, the check of
    /// `compare --check-stochastic`).
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A live/VoD pipeline was given a scenario of another kind (a caller's mistake).
    #[error("scenario '{scenario}' is not a video scenario")]
    NotVideo {
        /// Scenario name.
        scenario: String,
    },
}

/// A `simulate` or `validate` job (`stochastic::job`) could not be run, resumed or merged.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The scenario file is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The fluid run the simulation is compared with failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The simulation itself (settings, records, merge).
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Writing or locking the results folder.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A step of the job failed: what was being done ("simulate of 'x'") and the cause.
    #[error("{context}")]
    Step {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<JobError>,
    },
    /// A file of the job could not be read, listed or removed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest could not be read as JSON.
    #[error("{context}")]
    Json {
        /// What was being done, naming the path.
        context: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl JobError {
    /// This error with `context` saying which step it came from.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::Step {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// A multi-ISP swarm (`model::locality`) cannot be built, or has no steady state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocalityError {
    /// A parameter is outside its range.
    #[error("{what} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// Which parameter, with the ISP's index and name where it is per ISP.
        what: String,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        allowed: String,
    },
    /// No ISP was given.
    #[error("a multi-ISP swarm needs at least one ISP (got none)")]
    NoIsps,
    /// An ISP has an empty name.
    #[error("isp[{index}].name is empty: every ISP needs a name")]
    EmptyName {
        /// 0-based index of the ISP.
        index: usize,
    },
    /// Two ISPs share a name.
    #[error("isp[{first}] and isp[{second}] are both named '{name}': names must be unique")]
    DuplicateName {
        /// The name.
        name: String,
        /// 0-based index of the first ISP with it.
        first: usize,
        /// 0-based index of the second.
        second: usize,
    },
    /// The swarm has no steady state under this peer selection (leechers grow without bound).
    #[error("{selection} peer selection: no steady state ({reason})")]
    NoSteadyState {
        /// The peer selection.
        selection: String,
        /// Why, in the model's terms (naming the ISP under strict locality).
        reason: String,
    },
}

/// An input to the streaming, file-push or video-on-demand formulas (`src/model/streaming.rs`,
/// `push.rs`, `vod.rs`) is out of range, or an exact computation would be too large.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VideoError {
    /// A parameter is outside its range.
    #[error("`{what}` = {value} is out of range: must be {allowed}")]
    OutOfRange {
        /// Which argument (with its index for a list element, e.g. `classes[1].0`).
        what: String,
        /// The value given.
        value: f64,
        /// The allowed range, in words.
        allowed: String,
    },
    /// An exact lattice computation needs a common step for all the per-peer deficits
    /// `r − u`, and these have none with a small enough denominator.
    #[error(
        "{what}: the deficits r − u = {deficits:?} bit/s have no common lattice step \
         max|r − u|/q with q ≤ {max_denominator}; round the upload values to a common step"
    )]
    NoLattice {
        /// Which computation.
        what: String,
        /// The deficits r − u, bit/s.
        deficits: Vec<f64>,
        /// The largest denominator q tried.
        max_denominator: u64,
    },
    /// The exact computation would need more memory or time than the limit allows.
    #[error("{what}: {size} is more than the limit of {limit} for the exact method; {hint}")]
    TooLarge {
        /// Which computation.
        what: String,
        /// Its size (lattice points, titles, samples).
        size: u64,
        /// The limit.
        limit: u64,
        /// What to do instead.
        hint: String,
    },
}

/// The stochastic simulation (`stochastic`) cannot run as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A setting is outside its range.
    #[error("{what} must be {allowed} (got {value})")]
    OutOfRange {
        /// Which setting (`--scale`, `--replicates`, ...).
        what: &'static str,
        /// The value given, as text.
        value: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// Only file swarms have a stochastic twin.
    #[error(
        "scenario '{scenario}': the stochastic simulator covers file swarms only \
         (content.kind = \"file\"), not {kind}"
    )]
    NotAFile {
        /// Scenario name.
        scenario: String,
        /// What the scenario delivers instead.
        kind: &'static str,
    },
    /// The output grid is not usable (empty, negative, or not increasing).
    #[error("the output grid {reason}")]
    Grid {
        /// What is wrong.
        reason: String,
    },
    /// A column the comparison with the fluid run needs is missing.
    #[error("the fluid run has no column '{column}'")]
    MissingColumn {
        /// Column name.
        column: String,
    },
    /// The simulation would take more events than the limit allows.
    #[error(
        "the simulation would take about {expected:.3e} events, more than the limit of \
         {limit:.1e}; lower --scale or --replicates"
    )]
    TooManyEvents {
        /// Events expected (arrivals × 3 × replicates).
        expected: f64,
        /// The limit.
        limit: f64,
    },
    /// The stochastic check of `compare --check-stochastic` would not be quick.
    #[error(
        "scenario '{scenario}': the stochastic check at real scale would take about \
         {expected:.3e} events ({replicates} replicates), more than the {limit:.1e} of a quick \
         check; lower --replicates, or use `peerfluid simulate --scale 1` for a longer run"
    )]
    CheckTooLarge {
        /// Scenario name.
        scenario: String,
        /// Events expected (arrivals × 3 × replicates).
        expected: f64,
        /// Replicates asked for.
        replicates: usize,
        /// The quick check's limit.
        limit: f64,
    },
    /// A records file (`--shard`, `--resume`) that does not fit this job.
    #[error("{path}: {reason}")]
    Records {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// A folder with an unfinished run, without `--resume`.
    #[error(
        "{path}: holds {done} of {total} replicates of an earlier run; rerun with --resume \
         to keep them and run the rest, or remove the folder to start again"
    )]
    Unfinished {
        /// The records file.
        path: PathBuf,
        /// Replicates (items) done.
        done: u64,
        /// Replicates (items) of the run or shard.
        total: u64,
    },
    /// `merge` found the shards of a `simulate` or `validate` incomplete or inconsistent.
    #[error("{dir}: cannot merge: {reason}")]
    Merge {
        /// Folder.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// I/O on a named path (the error as text: this enum is `Clone` and `PartialEq`).
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones_at_a_character() {
        assert_eq!(echo("2 Mbsp"), "2 Mbsp");
        let sixty = "é".repeat(ECHO_CHARS);
        assert_eq!(echo(&sixty), sixty.as_str());
        let long = format!("{sixty}xyz");
        assert_eq!(echo(&long), format!("{sixty}… ({} bytes)", long.len()));
    }

    #[test]
    fn a_diagnostic_names_the_key_or_table_of_its_message() {
        let at = |message: &str| ScenarioError::At {
            file: "a.toml".into(),
            line: 7,
            column: 14,
            message: message.into(),
        };
        let d = at("`swarm.efficiency` must be in [0, 1] (got 1.5)").diagnostic();
        assert_eq!(
            (d.file.as_str(), d.line, d.column, d.key.as_deref()),
            ("a.toml", Some(7), Some(14), Some("swarm.efficiency"))
        );
        assert_eq!(d.message, "`swarm.efficiency` must be in [0, 1] (got 1.5)");
        for (message, key) in [
            ("unknown table `[foo]`, expected one of `name`", Some("foo")),
            ("duplicate table `[[isp]]` (first at line 2)", Some("isp")),
            (
                "duplicate key `demand.rate` (first at line 3)",
                Some("demand.rate"),
            ),
            ("`peers.upload`: unknown unit", Some("peers.upload")),
            ("expected `=`", None),
            ("invalid table header", None),
        ] {
            assert_eq!(at(message).diagnostic().key.as_deref(), key, "{message}");
        }
        let whole = ScenarioError::Whole {
            file: "b.toml".into(),
            message: "`content` is missing (required)".into(),
        }
        .diagnostic();
        assert_eq!((whole.line, whole.key.as_deref()), (None, Some("content")));
        let read = ScenarioError::Read {
            file: "c.toml".into(),
            reason: "No such file".into(),
        }
        .diagnostic();
        assert_eq!(read.message, "cannot read the file: No such file");
        assert_eq!(read.key, None);
    }

    #[test]
    fn cut_quoted_cuts_each_long_quoted_run() {
        let short = "invalid type: string \"high\", expected f64";
        assert_eq!(cut_quoted(short), short);
        let x = "x".repeat(100);
        let msg = format!("invalid type: string \"a\\\"{x}\", expected `{x}` or \"b\"");
        // The escaped quote is part of the first run: `a`, `\`, `"` and 57 x.
        let (first, second) = ("x".repeat(ECHO_CHARS - 3), "x".repeat(ECHO_CHARS));
        assert_eq!(
            cut_quoted(&msg),
            format!(
                "invalid type: string \"a\\\"{first}… (103 bytes)\", expected `{second}… (100 bytes)` or \"b\""
            )
        );
    }
}

/// A calibration (`peerfluid fit`) could not be done with this trace or these keys.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The trace file is malformed: where, and why.
    #[error("{file}:{line}: {reason}")]
    Trace {
        /// The trace file.
        file: String,
        /// 1-based line (1 = the header).
        line: usize,
        /// What is wrong, naming the column and the value.
        reason: String,
    },
    /// The trace file cannot be read.
    #[error("{file}: the trace cannot be read: {reason}")]
    Unreadable {
        /// The trace file.
        file: String,
        /// The I/O error, in words.
        reason: String,
    },
    /// A key cannot be fitted (unknown, overridden per class, or not identifiable from this
    /// trace), with the reason.
    #[error("`{key}`: {reason}")]
    Key {
        /// The scenario key.
        key: String,
        /// Why, in words.
        reason: String,
    },
    /// The scenario cannot be fitted as it is (not a file swarm, ...).
    #[error("{0}")]
    Scenario(String),
    /// The model could not be solved at some parameters.
    #[error("the model could not be solved at {at}: {reason}")]
    Solve {
        /// The parameter values, in words.
        at: String,
        /// The solver's message.
        reason: String,
    },
}
