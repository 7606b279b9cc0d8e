//! Command line: `run` (default), `compare`, `simulate`, `validate`, `sweep`, `check`, ...
//! Nothing numeric happens here.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::cost::ledger::CostBreakdown;
use crate::output;
use crate::run::{compare_scenario, run_scenario, RunOptions, Summary};
use crate::scenario::Scenario;
use crate::solve::Method;
use crate::units;
use crate::units::{format_quantity, Dimension};

/// Fluid models of peer-assisted content delivery.
///
/// With no command, runs `compare` on the built-in default scenario (a video that goes viral
/// on a small publisher's site).
#[derive(Debug, Parser)]
#[command(name = "peerfluid", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: `compare` on the built-in scenario).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: write timeseries.csv and summary.json, print a summary.
    Run(RunArgs),
    /// Simulate a file scenario's swarm as an exact Markov chain with whole peers (Gillespie):
    /// write timeseries.csv (means over replicates, `.sd` columns) and summary.json.
    Simulate(SimulateArgs),
    /// Measure how fast the stochastic mean approaches the fluid solution as the scale N grows:
    /// a table, validation.csv, validation.json, a figure and the fitted log-log slopes.
    Validate(ValidateArgs),
    /// Run a scenario and price it as client-server, CDN, peer-assisted and hybrid delivery:
    /// adds costs.csv and the `costs` of summary.json, prints a table.
    Compare(RunArgs),
    /// The fluid Shapley value of a scenario's game or of a canonical game, beside the exact
    /// finite-N values (convergence table) and the core check.
    Shapley(ShapleyArgs),
    /// Sweep scenario keys over many values (`[sweep]` in the file, or a sweep file with
    /// `base`): one row per point in sweep.csv, streamed in point order.
    Sweep(SweepArgs),
    /// Join the shards of a sweep folder (from `sweep --shard K/N`) into sweep.csv, after
    /// checking that every shard is there, complete, and from the same spec.
    Merge {
        /// The folder the shards were written to.
        dir: PathBuf,
        /// Do not draw the figures.
        #[arg(long)]
        no_plots: bool,
    },
    /// Redraw the figures and index.html of a results folder (run, compare or sweep) from
    /// its CSV and JSON files.
    Plot {
        /// Results folder.
        dir: PathBuf,
    },
    /// Validate scenario and sweep files without running them.
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Arguments of `run`.
#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// Scenario file (TOML); the built-in default when omitted.
    pub file: Option<PathBuf>,
    /// Output folder (default: results/NAME, NAME being the scenario name).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Output intervals of the time series (rows = points + 1).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Integration method.
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    pub method: MethodArg,
    /// Do not draw the figures (SVG and PNG).
    #[arg(long)]
    pub no_plots: bool,
    /// The stochastic check at real scale.
    #[command(flatten)]
    pub check: CheckArgs,
}

/// `--check-stochastic` of `run` and `compare`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also simulate the swarm at its real scale (whole peers, the exact stochastic twin) and
    /// print fluid vs stochastic server bytes, server share and download time (file swarms).
    #[arg(long)]
    pub check_stochastic: bool,
    /// Replicates of the stochastic check.
    #[arg(long, default_value_t = crate::validity::DEFAULT_REPLICATES, requires = "check_stochastic")]
    pub replicates: usize,
    /// Base seed of the stochastic check.
    #[arg(long, default_value_t = 1, requires = "check_stochastic")]
    pub seed: u64,
}

impl Default for CheckArgs {
    fn default() -> Self {
        Self {
            check_stochastic: false,
            replicates: crate::validity::DEFAULT_REPLICATES,
            seed: 1,
        }
    }
}

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML) with `content.kind = "file"`.
    pub file: PathBuf,
    /// N: arrival rates and the server are multiplied by N; populations are reported / N.
    #[arg(long, default_value_t = 1000.0)]
    pub scale: f64,
    /// Independent replicates (run in parallel; mean and standard deviation reported).
    #[arg(long, default_value_t = 10)]
    pub replicates: usize,
    /// Base seed; replicate r gets a seed derived from (seed, r).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output intervals of the time series (the fluid run's grid; rows = points + 1).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Output folder (default: results/NAME-sim).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
}

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML) with `content.kind = "file"`.
    pub file: PathBuf,
    /// Scales N to simulate, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100.0, 1000.0, 10000.0, 100000.0, 1000000.0])]
    pub scales: Vec<f64>,
    /// Replicates per scale.
    #[arg(long, default_value_t = 10)]
    pub replicates: usize,
    /// Base seed (the same for every scale).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output intervals (the fluid run's grid).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Output folder (default: results/NAME-validate).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Do not draw the figure.
    #[arg(long)]
    pub no_plots: bool,
}

/// Arguments of `sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Sweep file (TOML): a scenario with `[sweep]`, or `base = "scenario.toml"` and `[sweep]`.
    pub file: PathBuf,
    /// Output folder (default: results/NAME-sweep, NAME being the scenario name).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Run only the K-th of N parts (0-based; points i with i mod N = K), e.g.
    /// `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`; join with `peerfluid merge`.
    #[arg(long, value_parser = crate::sweep::Shard::parse)]
    pub shard: Option<crate::sweep::Shard>,
    /// Finish a sweep that was stopped (killed) in the same folder.
    #[arg(long)]
    pub resume: bool,
    /// Run even when the sweep has more points than the limit (10^6).
    #[arg(long)]
    pub yes: bool,
    /// Do not draw the figures.
    #[arg(long)]
    pub no_plots: bool,
}

/// Arguments of `shapley`.
#[derive(Debug, clap::Args)]
pub struct ShapleyArgs {
    /// Scenario file (TOML): its own game (resource = GB of upload capacity per download,
    /// Ω = the origin's cost per download). Omit for a canonical game.
    #[arg(conflicts_with_all = ["omega", "xbar", "classes", "providers"])]
    pub file: Option<PathBuf>,
    /// Several providers sharing one peer population (Cho & Yi): each `a:D:p` saves
    /// a·D·min(R/D, 1)^p when peers give it resource R, e.g. `--providers 1:2:1,2:1:1.5`.
    #[arg(long, value_delimiter = ',', value_parser = parse_provider, conflicts_with_all = ["omega", "xbar", "classes"], requires = "resource")]
    pub providers: Option<Vec<crate::incentive::multi::Provider>>,
    /// With `--providers`: the peers' total resource R.
    #[arg(long, requires = "providers")]
    pub resource: Option<f64>,
    /// Canonical cost per user (literature §2.1 with a = d = 1).
    #[arg(long, value_parser = parse_shape)]
    pub omega: Option<crate::incentive::game::Shape>,
    /// Mean peer resource per user x̄ (one class).
    #[arg(long, conflicts_with = "classes", allow_negative_numbers = true)]
    pub xbar: Option<f64>,
    /// Classes as resource:share pairs, e.g. `--classes 4:0.25,1:0.75`.
    #[arg(long, value_delimiter = ',', value_parser = parse_class)]
    pub classes: Option<Vec<(f64, f64)>>,
    /// Population sizes N for the exact values.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000])]
    pub n: Vec<usize>,
    /// Seed of the sampled estimator (used where exact enumeration is too large).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> Result<crate::incentive::game::Shape, String> {
    s.parse()
}

fn parse_provider(s: &str) -> Result<crate::incentive::multi::Provider, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [a, d, p] = parts.as_slice() else {
        return Err(format!(
            "'{s}': expected a:D:p (savings per unit, demand, exponent ≥ 1), e.g. 1:2:1"
        ));
    };
    let num = |v: &str, what: &str| -> Result<f64, String> {
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{s}': {what} '{v}' is not a number"))
    };
    Ok(crate::incentive::multi::Provider {
        a: num(a, "a")?,
        demand: num(d, "D")?,
        exponent: num(p, "p")?,
    })
}

fn parse_class(s: &str) -> Result<(f64, f64), String> {
    let (r, share) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected resource:share, e.g. 4:0.25"))?;
    let num = |v: &str, what: &str| -> Result<f64, String> {
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': {what} '{v}' is not a number"))?;
        if !(x.is_finite() && x >= 0.0) {
            return Err(format!("'{s}': {what} must be finite and ≥ 0 (got {v})"));
        }
        Ok(x)
    };
    let r = num(r, "resource")?;
    let share = num(share, "share")?;
    if share <= 0.0 || share > 1.0 {
        return Err(format!("'{s}': share must be in (0, 1] (got {share})"));
    }
    Ok((r, share))
}

/// `--method`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum MethodArg {
    /// Exact for file swarms (Rosenbrock if a nonlinear regime is too stiff for Taylor
    /// series), Dopri5 for models without regimes.
    #[default]
    Auto,
    /// Matrix exponentials between regime switches, Taylor series of order 24 where several
    /// peer classes share the upload.
    Exact,
    /// Adaptive Dormand–Prince 5(4).
    Dopri5,
    /// Linearly implicit RODAS4 with the analytic Jacobian (file swarms).
    Rosenbrock,
}

/// Run the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // The main job: the built-in default scenario, simulated and priced.
        None => run_cmd(
            RunArgs {
                points: 500,
                ..RunArgs::default()
            },
            true,
        ),
        Some(Command::Run(args)) => run_cmd(args, false),
        Some(Command::Compare(args)) => run_cmd(args, true),
        Some(Command::Simulate(args)) => with_threads(args.threads, || simulate_cmd(&args)),
        Some(Command::Validate(args)) => with_threads(args.threads, || validate_cmd(&args)),
        Some(Command::Shapley(args)) => shapley_cmd(&args),
        Some(Command::Check { files }) => check_cmd(&files),
        Some(Command::Plot { dir }) => plot_cmd(&dir),
        Some(Command::Sweep(args)) => sweep_cmd(&args),
        Some(Command::Merge { dir, no_plots }) => merge_cmd(&dir, !no_plots),
    }
}

fn sweep_cmd(args: &SweepArgs) -> anyhow::Result<()> {
    use crate::sweep::{run_sweep, SweepOptions, SweepSpec, DEFAULT_LIMIT};
    let spec = SweepSpec::from_path(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sweep", spec.base.name)));
    let keys: Vec<&str> = spec.parameters.iter().map(|p| p.key.as_str()).collect();
    let this = args.shard.map_or(spec.points, |s| s.rows(spec.points));
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "sweep '{}': {} points ({} over {}), evaluate = {}{}; spec {}",
        spec.base.name,
        spec.points,
        spec.mode.label(),
        keys.join(" × "),
        spec.evaluate.label(),
        args.shard.map_or(String::new(), |s| format!(
            "; shard {}/{} runs {this} of them",
            s.index, s.count
        )),
        spec.hash_hex()
    )?;
    stdout.flush()?;
    let opts = SweepOptions {
        out: out.clone(),
        threads: args.threads.map(|t| t as usize),
        shard: args.shard,
        resume: args.resume,
        yes: args.yes,
        limit: DEFAULT_LIMIT,
        plots: !args.no_plots,
        progress: true,
    };
    let report =
        run_sweep(&spec, &opts).with_context(|| format!("sweep of {}", args.file.display()))?;
    if report.computed == 0 && report.resumed_from == report.rows && report.rows > 0 {
        writeln!(stdout, "already complete: {} rows", report.rows)?;
    } else {
        writeln!(
            stdout,
            "{} rows ({} computed now{}) in {:.2} s: {:.0} points/s",
            report.rows,
            report.computed,
            if report.resumed_from > 0 {
                format!(", {} from the earlier run", report.resumed_from)
            } else {
                String::new()
            },
            report.seconds,
            report.computed as f64 / report.seconds.max(1e-9)
        )?;
    }
    writeln!(stdout, "results:")?;
    for p in &report.files {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

/// Run `f` on a rayon pool of `threads` workers (the global pool when `None`).
fn with_threads(
    threads: Option<u32>,
    f: impl FnOnce() -> anyhow::Result<()> + Send,
) -> anyhow::Result<()> {
    match threads {
        None => f(),
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build()
            .context("starting the worker threads")?
            .install(f),
    }
}

fn simulate_cmd(args: &SimulateArgs) -> anyhow::Result<()> {
    use crate::stochastic::{simulate, FluidReference, SimSettings};
    let mut settings = SimSettings::new(args.scale, args.replicates, args.seed)?;
    settings.progress = true;
    let scenario = Scenario::from_path(&args.file)?;
    let (fluid, swarm) = crate::run::fluid_for_simulation(&scenario, args.points as usize)?;
    let reference = FluidReference::from_record(&fluid)?;
    let sim = simulate(&swarm, &reference.t, &settings)
        .with_context(|| format!("simulating '{}'", scenario.name))?;
    let (columns, rows) = sim.timeseries();
    let summary = sim.summary(&scenario.name, &scenario.source, reference.download_time);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sim", scenario.name)));
    let written = output::write_simulation(&dir, &columns, &rows, &summary)
        .with_context(|| format!("writing results of '{}'", scenario.name))?;
    let mut stdout = std::io::stdout().lock();
    let e = &summary.events;
    writeln!(
        stdout,
        "scenario '{}': {} replicates at N = {} over {:.6e} s ({}): {} events ({:.4e} per replicate) in {:.3} s on {} threads, {:.3e} events/s",
        summary.scenario,
        summary.replicates,
        summary.scale,
        summary.horizon_s,
        summary.arrival_profile,
        e.total,
        e.per_replicate,
        summary.timing.wall_s,
        summary.timing.threads,
        summary.timing.events_per_s
    )?;
    writeln!(
        stdout,
        "  download time (Little over the horizon): {:.6} s ± {:.3e} (sd over replicates); fluid {}",
        summary.download_time_s.mean,
        summary.download_time_s.sd,
        summary
            .fluid_download_time_s
            .map_or("–".to_string(), |v| format!("{v:.6} s"))
    )?;
    writeln!(
        stdout,
        "  per N: arrived {:.6}, completed {:.6}, aborted {:.6}, leechers at the end {:.6} ± {:.3e}",
        summary.arrived.mean,
        summary.completed.mean,
        summary.aborted.mean,
        summary.leechers_at_end.mean,
        summary.leechers_at_end.sd
    )?;
    writeln!(stdout, "results:")?;
    for p in &written {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

fn validate_cmd(args: &ValidateArgs) -> anyhow::Result<()> {
    use crate::stochastic::{validate, FluidReference};
    let scenario = Scenario::from_path(&args.file)?;
    let (fluid, swarm) = crate::run::fluid_for_simulation(&scenario, args.points as usize)?;
    let reference = FluidReference::from_record(&fluid)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "scenario '{}': stochastic mean of {} replicates vs the fluid solution over {:.6e} s (relative errors; spread = sd over replicates)",
        scenario.name,
        args.replicates,
        reference.t.last().copied().unwrap_or(0.0)
    )?;
    writeln!(
        stdout,
        "{:>10} {:>12} {:>9} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "N", "events", "wall s", "pop err", "pop sd", "T err", "T sd", "server err", "server sd"
    )?;
    stdout.flush()?;
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3e}"));
    let v = validate(
        &swarm,
        &reference,
        &args.scales,
        args.replicates,
        args.seed,
        true,
        |r| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{:>10} {:>12} {:>9.3} {:>11.3e} {:>11.3e} {:>11} {:>11} {:>11} {:>11}",
                r.scale,
                r.events,
                r.wall_s,
                r.population_error,
                r.population_spread,
                opt(r.download_time_error),
                opt(r.download_time_spread),
                opt(r.server_bytes_error),
                opt(r.server_bytes_spread)
            );
            let _ = out.flush();
        },
    )
    .with_context(|| format!("validating '{}'", scenario.name))?;
    let slope = |s: Option<f64>| s.map_or("–".to_string(), |x| format!("{x:.3}"));
    writeln!(
        stdout,
        "log-log slope against N (Kurtz: about -0.5): population error {}, population spread {}, download time error {}, server bytes error {}",
        slope(v.slope_population_error),
        slope(v.slope_population_spread),
        slope(v.slope_download_time_error),
        slope(v.slope_server_bytes_error)
    )?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-validate", scenario.name)));
    let written = output::write_validation(&dir, &v, !args.no_plots)
        .with_context(|| format!("writing the validation of '{}'", scenario.name))?;
    writeln!(stdout, "results:")?;
    for p in &written {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

fn merge_cmd(dir: &Path, plots: bool) -> anyhow::Result<()> {
    let report = crate::sweep::merge(dir, plots)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "merged {} shards: {} rows",
        report.shards, report.rows
    )?;
    for p in &report.files {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

fn plot_cmd(dir: &Path) -> anyhow::Result<()> {
    let written = output::redraw::redraw(dir)
        .with_context(|| format!("redrawing the figures of {}", dir.display()))?;
    let mut stdout = std::io::stdout().lock();
    for p in &written {
        writeln!(stdout, "{}", p.display())?;
    }
    Ok(())
}

fn load(file: Option<&Path>) -> anyhow::Result<Scenario> {
    Ok(match file {
        Some(p) => Scenario::from_path(p)?,
        None => Scenario::builtin_default()?,
    })
}

fn run_cmd(args: RunArgs, compare: bool) -> anyhow::Result<()> {
    let scenario = load(args.file.as_deref())?;
    let opts = RunOptions {
        points: args.points as usize,
        method: match args.method {
            MethodArg::Auto => Method::Auto,
            MethodArg::Exact => Method::Exact,
            MethodArg::Dopri5 => Method::Dopri5,
            MethodArg::Rosenbrock => Method::Rosenbrock,
        },
        ..RunOptions::default()
    };
    let mut record = if compare {
        compare_scenario(&scenario, &opts)?
    } else {
        run_scenario(&scenario, &opts)?
    };
    attach_checks(&scenario, &mut record, &args.check)?;
    let dir = args
        .out
        .unwrap_or_else(|| Path::new("results").join(&scenario.name));
    let written = output::write_run(&dir, &record, !args.no_plots)
        .with_context(|| format!("writing results of '{}'", scenario.name))?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &record.summary)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", human_summary(&record.summary))?;
        if let Some(costs) = &record.summary.costs {
            write!(stdout, "{}", cost_table(&record.summary, costs))?;
        }
        if let Some(classes) = &record.summary.peer_classes {
            writeln!(stdout, "  peers per class (p2p and hybrid), per month:")?;
            for c in classes {
                writeln!(
                    stdout,
                    "    {:<10} upload {:>12.1} GB, {:>10.1} peer-hours: income ${:.2} - energy ${:.2} - upload value ${:.2} = net ${:.2}",
                    c.name, c.upload_gb, c.peer_hours, c.income_usd, c.energy_usd, c.upload_value_usd, c.net_usd
                )?;
            }
        }
        if let Some(inc) = &record.summary.incentive {
            write!(stdout, "{}", incentive_text(inc))?;
        }
        write!(stdout, "{}", checks_text(&record.summary))?;
        writeln!(stdout, "results:")?;
        for p in &written {
            writeln!(stdout, "  {}", p.display())?;
        }
    }
    Ok(())
}

/// The validity guard, and the stochastic check when asked for, into the summary.
fn attach_checks(
    s: &Scenario,
    record: &mut crate::run::RunRecord,
    check: &CheckArgs,
) -> anyhow::Result<()> {
    record.summary.validity = Some(crate::validity::assess(s, record));
    if check.check_stochastic {
        let c = crate::validity::check_stochastic(s, record, check.replicates, check.seed)
            .with_context(|| format!("--check-stochastic of '{}'", s.name))?;
        record.summary.stochastic_check = Some(c);
    }
    Ok(())
}

/// The "fluid model validity" line(s) and the "fluid vs stochastic" block of `run`/`compare`.
pub fn checks_text(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(v) = &s.validity {
        if !v.assessed {
            out.push_str("fluid model validity: not assessed (the rules cover file swarms)\n");
        } else if v.holds {
            let _ = writeln!(
                out,
                "fluid model validity: holds ({:.0} peers online, {}; at least {:.0} needed)",
                v.mean_peers,
                v.basis,
                crate::validity::MIN_PEERS
            );
        } else {
            out.push_str("fluid model validity: in doubt\n");
            for w in &v.warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
    }
    if let Some(c) = &s.stochastic_check {
        out.push_str(&stochastic_text(c));
    }
    out
}

/// The "fluid vs stochastic at real scale" block.
fn stochastic_text(c: &crate::validity::StochasticCheck) -> String {
    use crate::validity::FluidVsStochastic;
    use std::fmt::Write as _;
    use Dimension::{DataSize, Time};
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fluid vs stochastic at real scale (whole peers, N = 1; {} replicates, seed {}, {} events):",
        c.replicates, c.seed, c.events
    );
    let _ = writeln!(
        out,
        "  {:<16} {:>12} {:>26} {:>11}",
        "", "fluid", "stochastic (mean ± sd)", "difference"
    );
    let dash = || "–".to_string();
    let mut row = |name: &str, q: &FluidVsStochastic, f: &dyn Fn(f64) -> String, diff: String| {
        let stoch = if q.stochastic.mean.is_finite() {
            format!("{} ± {}", f(q.stochastic.mean), f(q.stochastic.sd))
        } else {
            dash()
        };
        let fluid = q.fluid.map_or_else(dash, f);
        let _ = writeln!(out, "  {name:<16} {fluid:>12} {stoch:>26} {diff:>11}");
    };
    let relative = |q: &FluidVsStochastic| {
        q.relative_difference
            .map_or_else(dash, |d| format!("{:+.1} %", 100.0 * d))
    };
    row(
        "server bytes",
        &c.server_bytes,
        &|v| format_quantity(v, DataSize),
        relative(&c.server_bytes),
    );
    row(
        "server share",
        &c.server_share,
        &|v| format!("{:.1} %", 100.0 * v),
        c.server_share
            .difference
            .map_or_else(dash, |d| format!("{:+.1} pts", 100.0 * d)),
    );
    row(
        "download time",
        &c.download_time_s,
        &|v| format_quantity(v, Time),
        relative(&c.download_time_s),
    );
    if c.replicates_without_downloads > 0 {
        let _ = writeln!(
            out,
            "  ({} replicates had no arrivals or delivered nothing: left out of share and download time)",
            c.replicates_without_downloads
        );
    }
    out
}

/// `shapley --providers`: the Cho–Yi values of several providers sharing one peer population.
fn providers_cmd(
    list: &[crate::incentive::multi::Provider],
    resource: f64,
    args: &ShapleyArgs,
) -> anyhow::Result<()> {
    use crate::incentive::multi::{exact_identical_peers, fluid_values, Market};
    let market = Market::new(list.to_vec(), resource)?;
    let fluid = fluid_values(&market);
    let exact: Vec<(usize, Result<_, String>)> = args
        .n
        .iter()
        .map(|&n| {
            (
                n,
                exact_identical_peers(&market, n).map_err(|e| e.to_string()),
            )
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let exact_json: Vec<serde_json::Value> = exact
            .iter()
            .map(|(n, r)| match r {
                Ok(x) => serde_json::json!({"peers": n, "values": x}),
                Err(e) => serde_json::json!({"peers": n, "error": e}),
            })
            .collect();
        let doc = serde_json::json!({
            "providers": list,
            "resource": resource,
            "fluid": fluid,
            "exact": exact_json,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} providers sharing peers with resource R = {resource} (Cho & Yi; savings a·D·min(R/D, 1)^p)",
        list.len()
    )?;
    writeln!(
        out,
        "  provider          a          D          p   fluid value   standalone   would rather separate"
    )?;
    for (i, p) in list.iter().enumerate() {
        writeln!(
            out,
            "  {:>8} {:>10.4} {:>10.4} {:>10.4} {:>13.6} {:>12.6}   {}",
            i + 1,
            p.a,
            p.demand,
            p.exponent,
            fluid.phi[i],
            fluid.standalone[i],
            if fluid.prefers_separate[i] {
                "yes"
            } else {
                "no"
            }
        )?;
    }
    writeln!(
        out,
        "  peers get {:.6} of the grand coalition's {:.6}",
        fluid.peers_total, fluid.grand_value
    )?;
    if fluid.blocked {
        let who: Vec<String> = fluid
            .blocking_providers
            .iter()
            .map(|i| (i + 1).to_string())
            .collect();
        writeln!(
            out,
            "  NOT in the core: providers {{{}}} with {:.1} % of the peers would get {:.6} more on their own",
            who.join(", "),
            100.0 * fluid.blocking_peer_fraction,
            -fluid.blocking_slack
        )?;
    } else {
        writeln!(
            out,
            "  in the core: no coalition of providers and peers gets more on its own (smallest slack {:.3e})",
            fluid.blocking_slack
        )?;
    }
    for (n, r) in &exact {
        match r {
            Ok(x) => {
                let vals: Vec<String> = x.per_provider.iter().map(|v| format!("{v:.6}")).collect();
                writeln!(
                    out,
                    "  exact, {n} identical peers: providers [{}], peers {:.6}",
                    vals.join(", "),
                    x.peers_total
                )?;
            }
            Err(e) => writeln!(out, "  exact, {n} identical peers: {e}")?,
        }
    }
    Ok(())
}

fn shapley_cmd(args: &ShapleyArgs) -> anyhow::Result<()> {
    if let (Some(list), Some(resource)) = (&args.providers, args.resource) {
        return providers_cmd(list, resource, args);
    }
    use crate::incentive::equilibrium::{Market, ScenarioGame};
    use crate::incentive::game::{Shape, SumGame};
    use crate::incentive::table::shapley_table;
    const MAX_RESOURCE: f64 = 1e12;
    let table = if let Some(path) = &args.file {
        let s = Scenario::from_path(path)?;
        let market = Market::new(&s)?;
        let game = ScenarioGame { market: &market };
        let shares: Vec<f64> = s.classes.iter().map(|c| c.share).collect();
        shapley_table(
            &game,
            &format!("scenario '{}' (resource: GB of upload capacity per download; Ω: origin $ per download)", s.name),
            &market.capacity_gb,
            &shares,
            &args.n,
            args.seed,
        )?
    } else {
        let shape = args.omega.unwrap_or(Shape::Linear);
        let (resource, shares): (Vec<f64>, Vec<f64>) = match (&args.classes, args.xbar) {
            (Some(list), _) => {
                let sum: f64 = list.iter().map(|c| c.1).sum();
                if (sum - 1.0).abs() > 1e-6 {
                    anyhow::bail!("--classes: shares must sum to 1 (got {sum})");
                }
                if let Some(c) = list.iter().find(|c| c.0 > MAX_RESOURCE) {
                    anyhow::bail!("--classes: resource {} is too large (allowed 0 to {MAX_RESOURCE:e})", c.0);
                }
                list.iter().copied().unzip()
            }
            (None, Some(x)) => {
                if !(x.is_finite() && (0.0..=MAX_RESOURCE).contains(&x)) {
                    anyhow::bail!("--xbar must be in [0, {MAX_RESOURCE:e}] (got {x:e})");
                }
                (vec![x], vec![1.0])
            }
            (None, None) => anyhow::bail!(
                "give a scenario FILE, or a canonical game: --omega linear|exponential|concave with --xbar X or --classes r:share,..."
            ),
        };
        let game = SumGame::new(shape, 1.0, 1.0, resource.len())?;
        shapley_table(
            &game,
            &format!("Ω {shape} (a = d = 1)"),
            &resource,
            &shares,
            &args.n,
            args.seed,
        )?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&table)?);
        return Ok(());
    }
    println!("game: {}", table.game);
    let xs: Vec<String> = table.xbar.iter().map(|x| format!("{x:.6}")).collect();
    println!(
        "x̄ per class: [{}]; savings per user {:.6}",
        xs.join(", "),
        table.savings_per_user
    );
    let prices: Vec<String> = table
        .price_per_unit
        .iter()
        .map(|p| format!("{p:.6}"))
        .collect();
    println!(
        "fluid Shapley: provider share per user {:.6}, peers per user {:.6}, price per unit [{}]",
        table.provider_share_per_user,
        table.peers_per_user,
        prices.join(", ")
    );
    println!(
        "core: {} (min slack per user {:.6} at class fractions {:?})",
        if table.core.in_core {
            "in the core"
        } else {
            "NOT in the core"
        },
        table.core.min_slack_per_user,
        table.core.blocking_fractions
    );
    println!(
        "{:>9}  {:<8} {:>16} {:>12}  price per unit",
        "N", "method", "provider/N", "rel. error"
    );
    for row in &table.exact {
        let p: Vec<String> = row
            .price_per_unit
            .iter()
            .map(|p| format!("{p:.6}"))
            .collect();
        let ci = if row.provider_half_width_95 > 0.0 {
            format!(" ±{:.1e}", row.provider_half_width_95)
        } else {
            String::new()
        };
        println!(
            "{:>9}  {:<8} {:>16} {:>12}  [{}]",
            row.n,
            row.method,
            format!("{:.9}{ci}", row.provider_share_per_user),
            row.provider_rel_error
                .map_or("–".to_string(), |e| format!("{e:.3e}")),
            p.join(", ")
        );
    }
    Ok(())
}

fn check_cmd(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        let is_sweep = std::fs::read_to_string(f).is_ok_and(|t| crate::sweep::spec::is_sweep(&t));
        let checked = if is_sweep {
            crate::sweep::SweepSpec::from_path(f).map(|s| {
                format!(
                    "sweep of '{}', {} points ({})",
                    s.base.name,
                    s.points,
                    s.mode.label()
                )
            })
        } else {
            Scenario::from_path(f).map(|s| s.name)
        };
        match checked {
            Ok(what) => println!("ok: {} ({what})", f.display()),
            Err(e) => {
                eprintln!("Error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} scenario files are invalid", files.len());
    }
    Ok(())
}

/// The short human summary printed by `run`.
pub fn human_summary(s: &Summary) -> String {
    use Dimension::*;
    if let Some(w) = &s.wireless {
        return wireless_summary(s, w);
    }
    let mut out = String::new();
    let t = |v: f64| format_quantity(v, Time);
    let bps = |v: f64| format_quantity(v, BitRate);
    let gb = |v: f64| format_quantity(v, DataSize);
    out.push_str(&format!(
        "scenario '{}': {}\n",
        s.scenario,
        s.description.lines().next().unwrap_or("")
    ));
    out.push_str(&format!(
        "  simulated {} ({}), arrivals {}, solver {} ({} steps, {} regime switches)\n",
        t(s.horizon_s),
        s.horizon_basis,
        s.arrival_profile,
        s.solver.method,
        s.solver.steps,
        s.solver.regime_switches
    ));
    if let Some(v) = &s.video {
        out.push_str(&format!(
            "  {} stream at {}, watched {} on average; viewers upload {} on average ({} mode)\n",
            v.kind,
            bps(v.bitrate_bps),
            t(v.watch_time_s),
            bps(v.mean_upload_bps),
            v.mode
        ));
        out.push_str(&format!(
            "  viewers: {:.1} at the reference arrival rate (λT), peak {:.1}; at the peak the server sends {} (client-server: {})\n",
            v.steady_viewers,
            v.peak_viewers,
            bps(v.server_rate_at_peak_bps),
            bps(v.client_server_rate_at_peak_bps)
        ));
        if let Some(m) = v.max_sustainable_rate_at_peak_bps {
            out.push_str(&format!(
                "  largest sustainable rate at the peak: {}; short of the bitrate for {}\n",
                bps(m),
                t(v.short_of_rate_s)
            ));
        }
        if let Some(p) = v.universal_streaming_probability {
            out.push_str(&format!(
                "  probability that every viewer streams at the bitrate (Poisson audience, steady mean): {p:.6}\n"
            ));
        }
        if v.titles > 1 {
            out.push_str(&format!(
                "  catalogue: {} titles (Zipf), {} in surplus\n",
                v.titles, v.titles_in_surplus
            ));
        }
    }
    if let Some(p) = &s.push {
        let opt_t = |v: Option<f64>| v.map_or_else(|| "- (no server)".to_string(), t);
        out.push_str(&format!(
            "  push to {} devices: client-server {}, peer-assisted {} (Kumar & Ross minimum distribution times)\n",
            p.devices,
            opt_t(p.client_server_time_s),
            opt_t(p.p2p_time_s)
        ));
        if let (Some(d), Some(cs), Some(pp)) = (
            p.deadline_s,
            p.min_server_client_server_bps,
            p.min_server_p2p_bps,
        ) {
            out.push_str(&format!(
                "    deadline {}: server needed {} alone (${:.2}/month), {} with peers (${:.2}/month)\n",
                t(d),
                bps(cs),
                p.server_cost_client_server_usd.unwrap_or(0.0),
                bps(pp),
                p.server_cost_p2p_usd.unwrap_or(0.0)
            ));
        }
    }
    if let Some(l) = &s.locality {
        out.push_str(&format!(
            "  ISP locality (steady state at {}/s; the scenario's rule: {}):\n",
            crate::output::plot::fmt_sig(l.arrival_rate_per_s),
            l.selected
        ));
        for st in &l.selections {
            let per_isp: Vec<String> = st
                .rows
                .iter()
                .map(|r| format!("{} {}", r.name, t(r.download_time_s)))
                .collect();
            out.push_str(&format!(
                "    {:<34} inter-ISP {:>5.1} % of bytes, transit ${:>10.2}/month; download time {}\n",
                st.selection.label(),
                100.0 * st.totals.inter_isp_share,
                st.totals.transit_usd_month,
                per_isp.join(", ")
            ));
        }
        for u in &l.unavailable {
            out.push_str(&format!("    {u}\n"));
        }
    }
    if let Some(ss) = &s.steady_state {
        out.push_str(&format!(
            "  steady state ({}): {:.4} leechers, {:.4} seeds, download time {}, {}\n",
            ss.basis,
            ss.leechers,
            ss.seeds,
            t(ss.download_time_s),
            ss.regime
        ));
        out.push_str(&format!(
            "    server {} + peers {}; server carries {:.1} % of downloads\n",
            bps(ss.server_rate_bps),
            bps(ss.peer_rate_bps),
            100.0 * ss.server_share
        ));
        if s.classes.len() > 1 {
            for c in &s.classes {
                if let (Some(x), Some(y), Some(dt)) =
                    (c.steady_leechers, c.steady_seeds, c.download_time_s)
                {
                    out.push_str(&format!(
                        "    {} ({:.0} % of arrivals): {x:.4} leechers, {y:.4} seeds, download time {}\n",
                        c.name,
                        100.0 * c.share,
                        t(dt)
                    ));
                }
            }
        }
        if ss.reached == Some(false) {
            out.push_str("  warning: the run ended before reaching this steady state (see steady_state.reached)\n");
        }
    } else if s.video.is_none() {
        out.push_str("  no steady state at the reference arrival rate\n");
    }
    let (done, who) = if s.video.is_some() {
        ("views ended", "viewers")
    } else {
        ("downloads completed", "leechers")
    };
    out.push_str(&format!(
        "  over the horizon: {:.1} {done}, {:.1} aborted; server sent {}, peers {} ({:.1} % from peers)\n",
        s.downloads.completed,
        s.downloads.aborted,
        gb(s.bytes.server),
        gb(s.bytes.peers),
        100.0 * s.bytes.peer_share
    ));
    out.push_str(&format!(
        "  peak: {:.1} {who} at t = {}; server up to {}\n",
        s.peak.leechers,
        t(s.peak.leechers_at_s),
        bps(s.peak.server_rate_bps)
    ));
    out
}

/// The human summary of a wireless run (`run` and `compare` print the same).
fn wireless_summary(s: &Summary, w: &crate::wireless::WirelessReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario '{}': {}",
        s.scenario,
        s.description.lines().next().unwrap_or("")
    );
    let _ = writeln!(
        out,
        "  {:.0} users; {:.1} % host a femtocell ({:.1} % may, {:.1} % of them do; hosts paid: {}); femtocells carry {:.1} % of {:.0} GB/month",
        w.users,
        100.0 * w.hosts,
        100.0 * w.hosts_potential,
        100.0 * w.participation,
        w.mechanism,
        100.0 * w.offload_share,
        w.demand_gb
    );
    let _ = writeln!(
        out,
        "  busy hour: {:.1} Mbit/s asked, {:.1} Mbit/s left to the macro network: {} towers instead of {} ({} saved)",
        w.busy_demand_mbps, w.busy_macro_mbps, w.towers, w.towers_macro_only, w.towers_saved
    );
    let _ = writeln!(
        out,
        "  energy per GB carried: macro towers {:.4} kWh/GB, femtocells {} (models/energy.md)",
        w.macro_kwh_per_gb,
        w.femtocell_kwh_per_gb
            .map_or_else(|| "- (no hosts)".to_string(), |v| format!("{v:.4} kWh/GB"))
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>8} {:>13} {:>13} {:>13} {:>14} {:>13} {:>13} {:>10} {:>11} {:>11}",
        "per month",
        "towers",
        "towers $",
        "devices $",
        "payments $",
        "operator $",
        "hosts net $",
        "social $",
        "net save",
        "kWh",
        "kg CO2"
    );
    for r in &w.costs {
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:>13.2} {:>13.2} {:>13.2} {:>14.2} {:>13.2} {:>13.2} {:>9.1}% {:>11.0} {:>11.0}",
            r.architecture,
            r.towers,
            r.towers_usd,
            r.devices_usd,
            r.payments_usd,
            r.operator_usd,
            r.hosts_usd,
            r.social_usd,
            100.0 * r.net_saving,
            r.energy.total_kwh,
            r.energy.co2_kg
        );
    }
    let sh = &w.shapley;
    let _ = writeln!(
        out,
        "  fluid Shapley split of ${:.2}/month saved: operator ${:.2}, hosts ${:.2} (${:.4} per host)",
        sh.savings_usd, sh.operator_usd, sh.hosts_usd, sh.per_host_usd
    );
    let g = &w.give_away_answer;
    let _ = writeln!(
        out,
        "  give-away: a femtocell costs ${:.4}/month; at this adoption a host saves ${:.4} in towers on average (marginal ${:.4}): {} (fluid towers); with whole towers it {}",
        g.device_usd,
        g.average_tower_saving_usd,
        g.marginal_tower_saving_usd,
        if g.pays_at_scenario_adoption { "it pays for itself" } else { "it does not pay for itself" },
        if g.pays_with_whole_towers { "pays too" } else { "does not pay" }
    );
    let _ = writeln!(
        out,
        "    free femtocells, whole towers: first adoption with a profit {}; best adoption {:.0} % saves ${:.2}/month net of the femtocells",
        g.first_profitable_adoption
            .map_or_else(|| "none".to_string(), |h| format!("{:.0} %", 100.0 * h)),
        100.0 * g.best_adoption,
        g.best_saving_usd
    );
    if let Some(m) = &w.participation_market {
        let e = &m.reached.equilibrium;
        let _ = writeln!(
            out,
            "  hosts decide: {:.1} % of would-be hosts host (income ${:.4}/month, net before private cost ${:.4}); dynamics reach {:.6} (gap {:.1e})",
            100.0 * e.q, e.income_usd, e.benefit_usd, m.reached.q_dynamics, m.reached.gap
        );
        let b = &m.best_price;
        let _ = writeln!(
            out,
            "    operator's best price ${:.5}/GB carried: {:.1} % host, operator ${:.2}/month (${:.2} with no hosts)",
            b.price_usd_per_gb,
            100.0 * b.equilibrium.q,
            b.equilibrium.operator_usd,
            b.no_hosts_usd
        );
    }
    out
}

/// How the run was billed and the service behind every row, in words.
pub fn billing_lines(b: &crate::run::Billing) -> String {
    let basis = &b.basis;
    let sv = &b.service;
    let mut out = format!(
        "billing: {} ({}): {}\n",
        basis.rule, basis.rule_basis, basis.explanation
    );
    out.push_str(&format!(
        "service: every row delivers the same downloads: {:.1} % complete, mean download time {}; client-server origin provisioned at {} (max of the own server and {} × the peak); CDN prices: {}; p2p origin: {}\n",
        100.0 * sv.completed_share,
        units::format_quantity(sv.download_time_s, units::Dimension::Time),
        units::format_quantity(sv.client_server_origin_bps, units::Dimension::BitRate),
        sv.headroom,
        b.cdn_prices,
        b.p2p_origin
    ));
    if let Some(o) = &sv.own_server_alone {
        out.push_str(&format!(
            "  the scenario's own {} server alone (no peers) would complete {:.1} % of downloads (mean download time {}){}\n",
            units::format_quantity(sv.own_server_bps, units::Dimension::BitRate),
            100.0 * o.completed_share,
            units::format_quantity(o.download_time_s, units::Dimension::Time),
            if o.meets_demand {
                ""
            } else {
                ": it cannot meet this demand, so no saving is counted against it"
            }
        ));
    }
    out.push_str(&format!("costs per {}-day month:\n", basis.month_days));
    out
}

/// The architecture table printed by `compare`.
pub fn cost_table(
    s: &Summary,
    costs: &std::collections::BTreeMap<&'static str, CostBreakdown>,
) -> String {
    let mut out = String::new();
    if let Some(b) = &s.billing {
        out.push_str(&billing_lines(b));
    }
    out.push_str(&format!(
        "  {:<14} {:>14} {:>14} {:>12} {:>14} {:>16} {:>16} {:>12} {:>11}\n",
        "architecture",
        "provider $/mo",
        "peers net $/mo",
        "ISP GB/mo",
        "social $/mo",
        "vs CS gross/net",
        "vs CDN gross/net",
        "kWh/mo",
        "kg CO2/mo"
    ));
    for key in ["client_server", "cdn", "p2p", "hybrid"] {
        if let Some(r) = costs.get(key) {
            out.push_str(&format!(
                "  {:<14} {:>14.2} {:>14.2} {:>12.1} {:>14.2} {:>7.1}%/{:>6.1}% {:>7.1}%/{:>6.1}% {:>12.1} {:>11.1}\n",
                key,
                r.provider_usd,
                r.peers_usd,
                r.isp_uplink_gb,
                r.social_usd,
                100.0 * r.gross_saving,
                100.0 * r.net_saving,
                100.0 * r.gross_saving_vs_cdn,
                100.0 * r.net_saving_vs_cdn,
                r.energy.total_kwh,
                r.energy.co2_kg
            ));
        }
    }
    out
}

/// The incentive block of the text report.
fn incentive_text(inc: &crate::incentive::plan::IncentiveReport) -> String {
    use crate::incentive::equilibrium::Offer;
    use std::fmt::Write as _;
    let mut out = String::new();
    let offer = match inc.offer {
        Offer::PerByte { price } => format!("${price:.5}/GB uploaded"),
        Offer::Discount { amount } => format!("${amount:.4} per download"),
        Offer::Shapley => "the fluid Shapley value".to_string(),
    };
    let _ = writeln!(
        out,
        "incentive ({}): peers are offered {offer}; market at the {} {:.4}/s",
        inc.mechanism, inc.reference_rate_basis, inc.reference_rate_per_s
    );
    for c in &inc.classes {
        let _ = writeln!(
            out,
            "    {:<10} costs {:<9} participation {:>6.1} %, income ${:.5}/download, net before private cost ${:.5}",
            c.name,
            c.cost_distribution,
            100.0 * c.participation,
            c.income_usd_per_download,
            c.benefit_usd_per_download
        );
    }
    let eqs: Vec<String> = inc
        .equilibria
        .iter()
        .map(|e| {
            let q: Vec<String> = e.q.iter().map(|v| format!("{:.1} %", 100.0 * v)).collect();
            format!(
                "[{}] {}",
                q.join(", "),
                if e.stable { "stable" } else { "unstable" }
            )
        })
        .collect();
    let _ = writeln!(out, "  equilibria: {}", eqs.join("; "));
    if let (Some(q), Some(d)) = (&inc.integrated_participation, inc.integration_vs_root) {
        let q: Vec<String> = q.iter().map(|v| format!("{:.1} %", 100.0 * v)).collect();
        let _ = writeln!(
            out,
            "  best-response dynamics from nobody sharing end at [{}] (|Δ| {d:.1e} from the root)",
            q.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  provider per download: ${:.5} (nobody sharing ${:.5}): net saving {:.1} %",
        inc.provider_usd_per_download,
        inc.no_sharing_usd_per_download,
        100.0 * inc.provider_net_saving
    );
    if let Some(b) = &inc.best_payment {
        let q: Vec<String> = b
            .social_q
            .iter()
            .map(|v| format!("{:.1} %", 100.0 * v))
            .collect();
        let _ = writeln!(
            out,
            "  provider's best price ${:.5}/GB → provider ${:.5}/download; social cost ${:.5} vs optimum ${:.5} at [{}] (gap ${:.2e})",
            b.price_usd_per_gb,
            b.equilibrium.provider_usd,
            b.equilibrium.social_usd,
            b.social_optimum_usd,
            q.join(", "),
            b.gap_usd
        );
    }
    if let Some(sh) = &inc.shapley {
        let pays: Vec<String> = sh
            .payment_usd_per_download
            .iter()
            .zip(&sh.price_usd_per_gb_offered)
            .map(|(p, pi)| format!("${p:.5} (${pi:.5}/GB offered)"))
            .collect();
        let _ = writeln!(
            out,
            "  fluid Shapley (everyone sharing): provider ${:.5}, peers ${:.5} of ${:.5} saved per download; a sharer is paid {}",
            sh.provider_usd,
            sh.peers_usd,
            sh.savings_usd,
            pays.join(", ")
        );
    }
    out
}
