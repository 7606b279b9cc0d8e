//! The stochastic twin against the fluid model (issue 7): Kurtz's law of large numbers on a
//! Qiu–Srikant case, the N^(−1/2) convergence rate, determinism across thread counts, and
//! the file-only error. Unit tests of the chain itself (M/M/∞ Poisson law, thinned flash
//! crowd) are in `src/stochastic.rs`.

use peerfluid::run::fluid_for_simulation;
use peerfluid::scenario::Scenario;
use peerfluid::stochastic::{compare, simulate, validate, FluidReference, SimSettings};

use crate::util::scenario;

/// QS-B of models/swarm.md (λ = 1, θ = 0.001, c = 0.1, μ = 0.02, η = 1, γ = 0.05, s = 0) over
/// a fixed horizon. The fluid path is upload-limited from the empty start (0.02 y < 0.08 x all
/// along), so the rates are linear in the state wherever the chain stays near it, and the
/// chain's mean follows the fluid ODE up to the rare moments (a few peers, early on) when the
/// min switches: the difference is essentially sampling noise.
fn qs_b(horizon: f64) -> Scenario {
    scenario(&format!(
        "name = \"qs-b\"\nhorizon = {horizon:?}\n\
         [content]\nsize = 1\n\
         [demand]\narrival_rate = 1.0\n\
         [swarm]\nefficiency = 1.0\nabort_rate = 0.001\nseed_residence = 20.0\n\
         [peers]\nupload = 0.16\ndownload = 0.8\n\
         [server]\ncapacity = 0.0\n"
    ))
}

/// Two classes sharing by max-min water-filling, with a server (the chain's general path),
/// and a flash crowd (thinned arrivals).
fn two_classes(profile: &str) -> Scenario {
    scenario(&format!(
        "name = \"two\"\nhorizon = 300.0\n\
         [content]\nsize = 1\n\
         [demand]\narrival_rate = 1.0\n{profile}\n\
         [swarm]\nefficiency = 0.9\nabort_rate = 0.002\nseed_residence = 25.0\n\
         [[peers.class]]\nname = \"dsl\"\nshare = 0.6\nupload = 0.08\ndownload = 0.4\n\
         [[peers.class]]\nname = \"fibre\"\nshare = 0.4\nupload = 0.8\ndownload = 2.0\n\
         [server]\ncapacity = 0.4\n"
    ))
}

/// Kurtz: X/N → x. Tolerance: 5 standard errors of the replicate mean, with the SE from the
/// replicates' own spread pooled (RMS) over the grid: `population_error ≤ 5 ·
/// population_spread / √R`; the same for the Little download time. Also an absolute bound of
/// 1 % (the expected error at N = 2000 with 4 replicates is ~0.1 %).
#[test]
fn stochastic_mean_matches_the_fluid_solution_qs_b() {
    let s = qs_b(300.0);
    let (rec, swarm) = fluid_for_simulation(&s, 30).expect("fluid run");
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let r = 4;
    let sim = simulate(
        &swarm,
        &fluid.t,
        &SimSettings::new(2000.0, r, 42).expect("valid"),
    )
    .expect("simulates");
    let row = compare(&sim, &fluid).expect("same grid");
    let se = row.population_spread / (r as f64).sqrt();
    eprintln!("{row:?}");
    assert!(
        row.population_error <= 5.0 * se && row.population_error < 0.01,
        "population error {:.3e} vs 5 SE = {:.3e}",
        row.population_error,
        5.0 * se
    );
    let (e, sd) = (
        row.download_time_error.expect("arrivals"),
        row.download_time_spread.expect("arrivals"),
    );
    assert!(
        e <= 5.0 * sd / (r as f64).sqrt() && e < 0.01,
        "T error {e:.3e}, sd {sd:.3e}"
    );
}

/// The general K-class path with a server and thinned flash-crowd arrivals: same 5-SE and 1 %
/// tolerances against the Dopri5 fluid solution. The water level makes rates nonlinear here,
/// so the chain's mean carries an O(1/N) bias (~5e-4 at N = 2000), well inside both bounds.
#[test]
fn two_class_flash_crowd_matches_the_fluid_solution() {
    let s = two_classes("profile = \"flash-crowd\"\ndecay_time = 100.0");
    let (rec, swarm) = fluid_for_simulation(&s, 30).expect("fluid run");
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let r = 4;
    let sim = simulate(
        &swarm,
        &fluid.t,
        &SimSettings::new(2000.0, r, 5).expect("valid"),
    )
    .expect("simulates");
    let row = compare(&sim, &fluid).expect("same grid");
    let se = row.population_spread / (r as f64).sqrt();
    eprintln!("{row:?}");
    assert!(
        row.population_error <= 5.0 * se && row.population_error < 0.01,
        "population error {:.3e} vs 5 SE = {:.3e}",
        row.population_error,
        5.0 * se
    );
    assert!(
        sim.events().rejected_candidates > 0,
        "arrivals were thinned"
    );
}

/// Kurtz's central limit theorem: fluctuations, and so the error of a mean of R replicates,
/// shrink as N^(−1/2). Fitted slope over N = 25, 100, 400, 1600 (8 replicates, seed 1) must
/// lie in [−0.7, −0.3] (issue 7); the spread's slope too.
#[test]
fn convergence_slope_is_about_minus_one_half() {
    let s = qs_b(200.0);
    let (rec, swarm) = fluid_for_simulation(&s, 20).expect("fluid run");
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let v = validate(
        &swarm,
        &fluid,
        &[25.0, 100.0, 400.0, 1600.0],
        8,
        1,
        false,
        |_| {},
    )
    .expect("validates");
    let err = v.slope_population_error.expect("four scales");
    let spread = v.slope_population_spread.expect("four scales");
    eprintln!("slopes: error {err}, spread {spread}");
    assert!((-0.7..=-0.3).contains(&err), "error slope {err}");
    assert!((-0.7..=-0.3).contains(&spread), "spread slope {spread}");
}

/// Same seed ⇒ the same bytes on 1 and 2 threads (timeseries.csv, and summary.json apart from
/// its `timing`), for the general path with thinning.
#[test]
fn same_seed_same_bytes_on_one_and_two_threads() {
    let s = two_classes("profile = \"flash-crowd\"\ndecay_time = 100.0");
    let (rec, swarm) = fluid_for_simulation(&s, 20).expect("fluid run");
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let settings = SimSettings::new(50.0, 6, 9).expect("valid");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let sim = pool.install(|| simulate(&swarm, &fluid.t, &settings).expect("simulates"));
        assert_eq!(sim.threads, threads);
        let dir = tempfile::tempdir().expect("tempdir");
        let (cols, rows) = sim.timeseries();
        let summary = sim.summary(&s.name, &s.source, fluid.download_time);
        peerfluid::output::write_simulation(dir.path(), &cols, &rows, &summary).expect("writes");
        let csv = std::fs::read(dir.path().join("timeseries.csv")).expect("csv");
        let json = std::fs::read_to_string(dir.path().join("summary.json")).expect("json");
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("parses");
        v.as_object_mut().expect("object").remove("timing");
        (csv, v)
    };
    let (csv1, json1) = run(1);
    let (csv2, json2) = run(2);
    assert!(
        csv1 == csv2,
        "timeseries.csv differs between 1 and 2 threads"
    );
    assert_eq!(json1, json2);
}

/// Live and VoD scenarios have no stochastic twin: a clear error, no panic.
#[test]
fn live_scenario_is_refused() {
    let s = Scenario::from_path(std::path::Path::new("scenarios/live-tv.toml")).expect("valid");
    let e = fluid_for_simulation(&s, 10).expect_err("not a file");
    assert!(
        format!("{e:#}").contains("covers file swarms only (content.kind = \"file\"), not live"),
        "{e:#}"
    );
}

fn peerfluid() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("peerfluid").expect("binary builds")
}

fn shipped(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// `simulate` writes the run's columns, then `.sd` columns, and a summary with its seeds.
#[test]
fn simulate_cli_writes_run_columns_and_spread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .current_dir(dir.path())
        .arg("simulate")
        .arg(shipped("upload-limited.toml"))
        .args(["--scale", "1", "--replicates", "2", "--points", "20"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = dir.path().join("results/upload-limited-sim");
    let csv = std::fs::read_to_string(base.join("timeseries.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert!(
        header.starts_with(
            "t,leechers,seeds,server_rate,peer_rate,arrival_rate,completed,aborted,\
             leechers.all,seeds.all,download_rate.all,leechers.sd,"
        ),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 22);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("summary.json")).expect("json"))
            .expect("parses");
    assert_eq!(summary["replicate_seeds"].as_array().map(Vec::len), Some(2));
    assert!(summary["events"]["total"].as_u64().is_some_and(|e| e > 0));
}

/// `validate` prints the table and slopes and writes validation.csv and .json.
#[test]
fn validate_cli_writes_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .current_dir(dir.path())
        .arg("validate")
        .arg(shipped("upload-limited.toml"))
        .args(["--scales", "1,4", "--replicates", "2", "--points", "20"])
        .arg("--no-plots")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("log-log slope against N"), "{stdout}");
    let base = dir.path().join("results/upload-limited-validate");
    let csv = std::fs::read_to_string(base.join("validation.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 3);
    assert!(base.join("validation.json").is_file());
}

/// User errors: a non-file scenario and a bad scale, one clear message each, no panic.
#[test]
fn simulate_cli_errors_are_clear() {
    let out = peerfluid()
        .arg("simulate")
        .arg(shipped("live-tv.toml"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("covers file swarms only"), "{err}");
    let out = peerfluid()
        .arg("simulate")
        .arg(shipped("upload-limited.toml"))
        .args(["--scale", "0"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "Error: --scale must be > 0 and ≤ 1e9 (got 0)");
}
