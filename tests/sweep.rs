//! Sweeps: expansion, determinism across threads, resume after a kill, shard + merge.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use peerfluid::sweep::spec::{Evaluate, Mode};
use peerfluid::sweep::{merge, run_sweep, Shard, SweepOptions, SweepSpec};

/// The ADSL swarm of the Qiu–Srikant tests: λ, θ, c, μ, η, γ and a server, in files/s
/// (file = 1 MB here so that the costs are not all zero).
const BASE: &str = r#"
name = "sweep-base"
description = "test base"
[content]
size = "100 MB"
[demand]
arrival_rate = "0.1/s"
profile = "constant"
[swarm]
efficiency = 0.9
abort_rate = "0.001/s"
seed_residence = "5 min"
[peers]
upload = "1 Mbps"
download = "8 Mbps"
[server]
capacity = "10 Mbps"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A sweep file beside BASE.
fn sweep_file(dir: &Path, sweep: &str) -> PathBuf {
    write(dir, "base.toml", BASE);
    write(
        dir,
        "sweep.toml",
        &format!("base = \"base.toml\"\n[sweep]\n{sweep}"),
    )
}

fn spec(dir: &Path, sweep: &str) -> SweepSpec {
    SweepSpec::from_path(&sweep_file(dir, sweep)).unwrap_or_else(|e| panic!("{e}"))
}

fn spec_error(sweep: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    match SweepSpec::from_path(&sweep_file(dir.path(), sweep)) {
        Ok(_) => panic!("expected an error for\n{sweep}"),
        Err(e) => e.to_string(),
    }
}

fn opts(out: PathBuf, threads: usize) -> SweepOptions {
    SweepOptions {
        out,
        threads: Some(threads),
        shard: None,
        resume: false,
        yes: false,
        limit: 1_000_000,
        plots: false,
        progress: false,
    }
}

fn values(s: &SweepSpec, i: u64) -> Vec<f64> {
    s.point(i).iter().map(|v| v.number).collect()
}

const GRID_2X3: &str = r#"
[[sweep.parameter]]
key = "demand.arrival_rate"
values = ["0.05/s", "6/min"]
[[sweep.parameter]]
key = "swarm.seed_residence"
from = "0 s"
to = "10 min"
steps = 3
"#;

#[test]
fn grid_varies_the_last_parameter_fastest_in_base_units() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path(), GRID_2X3);
    assert_eq!(s.mode, Mode::Grid);
    assert_eq!(s.points, 6);
    assert_eq!(s.evaluate, Evaluate::Steady);
    let all: Vec<Vec<f64>> = (0..6).map(|i| values(&s, i)).collect();
    assert_eq!(
        all,
        vec![
            vec![0.05, 0.0],
            vec![0.05, 300.0],
            vec![0.05, 600.0],
            vec![0.1, 0.0],
            vec![0.1, 300.0],
            vec![0.1, 600.0],
        ]
    );
    // The point's scenario holds the values.
    let (_, sc) = s.scenario(5).unwrap();
    assert!((sc.demand.arrival.reference_rate().0 - 0.1).abs() < 1e-15);
}

#[test]
fn log_scale_is_geometric_with_exact_ends_and_zip_pairs_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        r#"
mode = "zip"
[[sweep.parameter]]
key = "demand.arrival_rate"
from = "0.001/s"
to = "10/s"
steps = 5
scale = "log"
[[sweep.parameter]]
key = "content.size"
values = ["1 MB", "10 MB", "100 MB", "1 GB", "1.5 GB"]
"#,
    );
    assert_eq!(s.points, 5);
    let rates: Vec<f64> = (0..5).map(|i| values(&s, i)[0]).collect();
    assert_eq!(rates[0], 0.001);
    assert_eq!(rates[4], 10.0);
    for (i, r) in rates.iter().enumerate() {
        let expected = 10f64.powi(i as i32 - 3);
        assert!((r / expected - 1.0).abs() < 1e-12, "{r} vs {expected}");
    }
    assert_eq!(values(&s, 3), vec![rates[3], 1e9]);
}

#[test]
fn latin_hypercube_puts_one_sample_in_every_stratum_of_every_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50u64;
    let s = spec(
        dir.path(),
        &format!(
            r#"
mode = "lhs"
samples = {n}
seed = 42
[[sweep.parameter]]
key = "swarm.efficiency"
from = 0.2
to = 0.7
[[sweep.parameter]]
key = "demand.arrival_rate"
from = "0.01/s"
to = "1/s"
scale = "log"
"#
        ),
    );
    assert_eq!(s.points, n);
    let mut seen = vec![vec![false; n as usize]; 2];
    for i in 0..n {
        let v = values(&s, i);
        let u0 = (v[0] - 0.2) / 0.5;
        let u1 = (v[1] / 0.01).ln() / 100f64.ln();
        for (j, u) in [u0, u1].into_iter().enumerate() {
            assert!((0.0..1.0).contains(&u), "{u}");
            let k = (u * n as f64).floor() as usize;
            assert!(!seen[j][k], "parameter {j}: stratum {k} twice");
            seen[j][k] = true;
        }
    }
    // Deterministic: the same spec gives the same points; another seed others.
    let text = std::fs::read_to_string(dir.path().join("sweep.toml")).unwrap();
    let body = text.split("[sweep]\n").nth(1).unwrap().to_string();
    let again = spec(dir.path(), &body);
    assert_eq!(values(&s, 7), values(&again, 7));
    let other = spec(dir.path(), &body.replace("seed = 42", "seed = 43"));
    assert_ne!(values(&s, 7), values(&other, 7));
}

#[test]
fn random_draws_stay_in_range_and_do_not_depend_on_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        r#"
mode = "random"
samples = 1000
seed = 3
[[sweep.parameter]]
key = "swarm.efficiency"
from = 0.1
to = 0.9
"#,
    );
    let forward: Vec<f64> = (0..1000).map(|i| values(&s, i)[0]).collect();
    let backward: Vec<f64> = (0..1000).rev().map(|i| values(&s, i)[0]).collect();
    assert!(forward.iter().all(|v| (0.1..=0.9).contains(v)));
    assert!(forward
        .iter()
        .zip(backward.iter().rev())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // Mean of U(0.1, 0.9) over 1000 draws: sd = 0.8 / sqrt(12 * 1000) ≈ 0.0073; 5 sd.
    let mean = forward.iter().sum::<f64>() / 1000.0;
    assert!((mean - 0.5).abs() < 5.0 * 0.0074, "{mean}");
}

#[test]
fn bad_specs_name_the_line_the_key_and_the_range() {
    let e = spec_error("[[sweep.parameter]]\nkey = \"demand.arival_rate\"\nvalues = [1, 2]\n");
    assert!(
        e.contains("sweep.toml:4:7") && e.contains("arival_rate"),
        "{e}"
    );

    let e = spec_error("[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nvalues = [0.5, 1.5]\n");
    assert!(
        e.contains("sweep.toml:4:7")
            && e.contains("value 2")
            && e.contains("efficiency")
            && e.contains("[0, 1]"),
        "{e}"
    );

    let e = spec_error("[[sweep.parameter]]\nkey = \"demand.profile\"\nvalues = [1]\n");
    assert!(
        e.contains("not a numeric key") && e.contains("constant"),
        "{e}"
    );

    let e = spec_error("mode = \"zip\"\n[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nvalues = [0.5, 0.6]\n[[sweep.parameter]]\nkey = \"content.size\"\nvalues = [\"1 GB\"]\n");
    assert!(
        e.contains("same number of values") && e.contains("sweep.toml:7:1"),
        "{e}"
    );

    let e = spec_error(
        "mode = \"lhs\"\n[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nfrom = 0.1\nto = 0.5\n",
    );
    assert!(e.contains("samples") && e.contains("missing"), "{e}");

    let e =
        spec_error("[[sweep.parameter]]\nkey = \"swarm.seed_residence\"\nvalues = [\"2 Mbps\"]\n");
    assert!(
        e.contains("seed_residence") && e.contains("duration"),
        "{e}"
    );

    let e = spec_error(
        "mode = \"fast\"\n[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nvalues = [0.5]\n",
    );
    assert!(
        e.contains("sweep.toml:3:8") && e.contains("\"grid\""),
        "{e}"
    );

    let e = spec_error("[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nfrom = 0\nto = 1\nsteps = 3\nscale = \"log\"\n");
    assert!(e.contains("log") && e.contains("> 0"), "{e}");
}

#[test]
fn a_combination_that_breaks_a_rule_is_reported_before_any_row() {
    // Each class share alone is fine; together they do not sum to 1.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "two.toml",
        r#"
name = "two"
[content]
size = "100 MB"
[demand]
arrival_rate = "0.1/s"
[swarm]
efficiency = 0.9
abort_rate = "0.001/s"
seed_residence = "5 min"
[[peers.class]]
name = "dsl"
share = 0.5
upload = "1 Mbps"
download = "8 Mbps"
[[peers.class]]
name = "fibre"
share = 0.5
upload = "20 Mbps"
download = "100 Mbps"
[sweep]
mode = "zip"
[[sweep.parameter]]
key = "peers.class.dsl.share"
values = [0.5, 0.6]
[[sweep.parameter]]
key = "peers.class.fibre.share"
values = [0.5, 0.5]
"#,
    );
    let s = SweepSpec::from_path(&dir.path().join("two.toml")).unwrap();
    let out = dir.path().join("out");
    let e = run_sweep(&s, &opts(out.clone(), 2))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "sweep point 1 (peers.class.dsl.share = 6e-1, peers.class.fibre.share = 5e-1)"
        ) && e.contains("share"),
        "{e}"
    );
    assert!(!out.exists(), "nothing is written when a point is invalid");
}

#[test]
fn one_thread_and_two_threads_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        r#"
[[sweep.parameter]]
key = "demand.arrival_rate"
from = "0.001/s"
to = "10/s"
steps = 40
scale = "log"
[[sweep.parameter]]
key = "swarm.seed_residence"
from = "0 s"
to = "1 h"
steps = 30
"#,
    );
    let a = run_sweep(&s, &opts(dir.path().join("a"), 1)).unwrap();
    let b = run_sweep(&s, &opts(dir.path().join("b"), 2)).unwrap();
    assert_eq!((a.rows, b.rows), (1200, 1200));
    let fa = std::fs::read(dir.path().join("a/sweep.csv")).unwrap();
    let fb = std::fs::read(dir.path().join("b/sweep.csv")).unwrap();
    assert_eq!(fa, fb);
    let text = String::from_utf8(fa).unwrap();
    assert_eq!(text.lines().count(), 1201);
    assert!(text
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(3) == Some("ok")));
    assert!(!dir.path().join("a/sweep.csv.partial").exists());
}

/// The Qiu–Srikant steady state (literature §1.1), written out here independently.
fn qs(
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: f64,
    s: f64,
) -> (f64, f64, &'static str) {
    let x = lambda / (theta + c);
    let y = c * x / gamma;
    if c * x <= mu * (eta * x + y) + s {
        return (x, y, "download-limited");
    }
    let x = (lambda * (1.0 - mu / gamma) - s) / (theta * (1.0 - mu / gamma) + mu * eta);
    (x, (lambda - theta * x) / gamma, "upload-limited")
}

#[test]
fn steady_rows_hold_the_qiu_srikant_steady_state_and_consistent_bills() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        r#"
[[sweep.parameter]]
key = "demand.arrival_rate"
values = ["0.001/s", "0.1/s", "2/s"]
"#,
    );
    run_sweep(&s, &opts(dir.path().join("o"), 2)).unwrap();
    let mut r = csv::Reader::from_path(dir.path().join("o/sweep.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let file_bits = 8e8;
    let (mu, c, srv) = (1e6 / file_bits, 8e6 / file_bits, 1e7 / file_bits);
    let mut regimes = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let f = |n: &str| rec[col(n)].parse::<f64>().unwrap();
        let lambda = f("demand.arrival_rate");
        let (x, y, regime) = qs(lambda, 0.001, c, mu, 0.9, 1.0 / 300.0, srv);
        // Tolerance: rel 1e-9 (closed form against closed form; rounding only).
        assert!(
            (f("leechers") / x - 1.0).abs() < 1e-9,
            "{lambda}: {} vs {x}",
            f("leechers")
        );
        assert!((f("seeds") / y - 1.0).abs() < 1e-9);
        // Little's law.
        assert!((f("download_time_s") - x / lambda).abs() < 1e-9 * x / lambda);
        // Bytes: server + peers = completions × file; completions = λ − θ x̄ at the steady state.
        let served = f("server_rate_bps") + f("peer_rate_bps");
        assert!((served / ((lambda - 0.001 * x) * file_bits) - 1.0).abs() < 1e-9);
        // CDN: the default cloudfront-us table on a month of the served volume (GB of 2^30).
        let gb = served / 8.0 * 30.0 * 86_400.0 / 1_073_741_824.0;
        let cdn = peerfluid::cost::tiers::TierTable::cloudfront_us().cost(gb);
        assert!((f("cdn.provider_usd") / cdn - 1.0).abs() < 1e-12);
        // Net saving of p2p = 1 − p2p / client-server.
        let ns = 1.0 - f("p2p.provider_usd") / f("client_server.provider_usd");
        assert!((f("p2p.net_saving") - ns).abs() < 1e-12);
        assert_eq!(&rec[col("regime")], regime);
        regimes.push(regime);
    }
    // The values span both regimes.
    assert_eq!(
        regimes,
        ["download-limited", "upload-limited", "upload-limited"]
    );
}

#[test]
fn run_points_equal_compare_of_the_same_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let base = BASE.replace(
        "profile = \"constant\"",
        "profile = \"flash-crowd\"\ndecay_time = \"1 h\"",
    );
    write(dir.path(), "fc.toml", &base);
    let sweep = write(
        dir.path(),
        "s.toml",
        "base = \"fc.toml\"\n[sweep]\n[[sweep.parameter]]\nkey = \"swarm.seed_residence\"\nvalues = [\"0 s\", \"20 min\"]\n",
    );
    let s = SweepSpec::from_path(&sweep).unwrap();
    assert_eq!(s.evaluate, Evaluate::Run);
    run_sweep(&s, &opts(dir.path().join("o"), 1)).unwrap();
    let text = std::fs::read_to_string(dir.path().join("o/sweep.csv")).unwrap();
    let row: Vec<&str> = text.lines().nth(2).unwrap().split(',').collect();
    let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let at = |n: &str| {
        row[head.iter().position(|h| *h == n).unwrap()]
            .parse::<f64>()
            .unwrap()
    };
    let sc = peerfluid::scenario::Scenario::from_toml(
        &base.replace("seed_residence = \"5 min\"", "seed_residence = \"20 min\""),
        "fc.toml",
        None,
    )
    .unwrap();
    let rec =
        peerfluid::run::compare_scenario(&sc, &peerfluid::run::RunOptions::default()).unwrap();
    let costs = rec.summary.costs.unwrap();
    // A row solves with one output interval (`eval::ROW_POINTS`), `compare` with 500: the same
    // steps, so the same numbers to rounding (issue 17: "the same numbers as run to 1e-12").
    const ROW_RTOL: f64 = 1e-12;
    approx::assert_relative_eq!(
        at("p2p.provider_usd"),
        costs["p2p"].provider_usd,
        max_relative = ROW_RTOL
    );
    approx::assert_relative_eq!(
        at("hybrid.net_saving"),
        costs["hybrid"].net_saving,
        max_relative = ROW_RTOL
    );
    approx::assert_relative_eq!(
        at("peer_share"),
        rec.summary.bytes.peer_share,
        max_relative = ROW_RTOL
    );
}

/// The grid used by the resume and shard tests (run evaluation: slow enough to be killed).
fn slow_sweep(dir: &Path) -> PathBuf {
    let base = BASE.replace(
        "profile = \"constant\"",
        "profile = \"flash-crowd\"\ndecay_time = \"1 h\"",
    );
    write(dir, "fc.toml", &base);
    write(
        dir,
        "slow.toml",
        r#"base = "fc.toml"
[sweep]
[[sweep.parameter]]
key = "swarm.seed_residence"
from = "0 s"
to = "1 h"
steps = 40
[[sweep.parameter]]
key = "demand.decay_time"
from = "10 min"
to = "3 h"
steps = 20
"#,
    )
}

#[test]
fn a_torn_partial_file_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        GRID_2X3.replace("steps = 3", "steps = 300").as_str(),
    );
    run_sweep(&s, &opts(dir.path().join("full"), 2)).unwrap();
    let full = std::fs::read(dir.path().join("full/sweep.csv")).unwrap();

    // A run killed mid-write: manifest of the start, a prefix of the rows cut inside a line.
    let out = dir.path().join("cut");
    run_sweep(&s, &opts(out.clone(), 2)).unwrap();
    std::fs::remove_file(out.join("sweep.csv")).unwrap();
    let cut = full.len() * 2 / 3 + 17;
    std::fs::write(out.join("sweep.csv.partial"), &full[..cut]).unwrap();

    let e = run_sweep(&s, &opts(out.clone(), 2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unfinished sweep") && e.contains("--resume"),
        "{e}"
    );
    let mut o = opts(out.clone(), 1);
    o.resume = true;
    let rep = run_sweep(&s, &o).unwrap();
    assert!(rep.resumed_from > 0 && rep.computed > 0 && rep.rows == 600);
    assert_eq!(std::fs::read(out.join("sweep.csv")).unwrap(), full);
    // Resuming a complete sweep computes nothing.
    let again = run_sweep(&s, &o).unwrap();
    assert_eq!(again.computed, 0);
}

#[test]
fn a_sweep_killed_with_sigkill_finishes_with_resume_without_losing_or_repeating_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = slow_sweep(dir.path());
    let bin = assert_cmd::cargo::cargo_bin!("peerfluid");
    let reference = dir.path().join("ref");
    let ok = StdCommand::new(bin)
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--no-plots",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let expected = std::fs::read(reference.join("sweep.csv")).unwrap();

    let out = dir.path().join("killed");
    let mut child = StdCommand::new(bin)
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--no-plots",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some rows are on disk, then kill -9.
    let partial = out.join("sweep.csv.partial");
    let t0 = Instant::now();
    loop {
        let rows = std::fs::read(&partial).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
        if rows > 20 || t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        partial.exists(),
        "the kill came after the end: make the sweep longer"
    );
    assert!(!out.join("sweep.csv").exists());

    let resumed = StdCommand::new(bin)
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--no-plots",
            "--resume",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let got = std::fs::read(out.join("sweep.csv")).unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "resumed file differs from the uninterrupted run"
    );
    let text = String::from_utf8(got).unwrap();
    let points: Vec<u64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(points, (0..800).collect::<Vec<u64>>());
}

#[test]
fn shards_merged_equal_one_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        GRID_2X3.replace("steps = 3", "steps = 50").as_str(),
    );
    run_sweep(&s, &opts(dir.path().join("one"), 2)).unwrap();
    let out = dir.path().join("sharded");
    for k in [2u64, 0] {
        let mut o = opts(out.clone(), 1);
        o.shard = Some(Shard { index: k, count: 3 });
        run_sweep(&s, &o).unwrap();
    }
    // Shard 1 is missing.
    let e = merge(&out, false).unwrap_err().to_string();
    assert!(e.contains("shard(s) 1 of 3 missing"), "{e}");
    let mut o = opts(out.clone(), 2);
    o.shard = Some(Shard { index: 1, count: 3 });
    run_sweep(&s, &o).unwrap();
    let rep = merge(&out, false).unwrap();
    assert_eq!((rep.shards, rep.rows), (3, 100));
    assert_eq!(
        std::fs::read(out.join("sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("one/sweep.csv")).unwrap()
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(m["rows"], 100);
    assert_eq!(m["complete"], true);
    assert!(m["shard"].is_null());
}

#[test]
fn merge_refuses_shards_of_different_specs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mixed");
    let a = spec(dir.path(), GRID_2X3);
    let mut o = opts(out.clone(), 1);
    o.shard = Some(Shard { index: 0, count: 2 });
    run_sweep(&a, &o).unwrap();
    let b = spec(dir.path(), &GRID_2X3.replace("10 min", "20 min"));
    o.shard = Some(Shard { index: 1, count: 2 });
    run_sweep(&b, &o).unwrap();
    let e = merge(&out, false).unwrap_err().to_string();
    assert!(e.contains("different sweeps"), "{e}");
}

#[test]
fn cli_prints_the_size_first_and_stops_above_the_limit_without_yes() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(
        dir.path(),
        "mode = \"random\"\nsamples = 2000000\n[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nfrom = 0.1\nto = 0.9\n",
    );
    let out = Command::new(assert_cmd::cargo::cargo_bin!("peerfluid"))
        .args(["sweep", file.to_str().unwrap(), "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("2000000 points"), "{stdout}");
    assert!(
        stderr.contains("--yes") && stderr.contains("1000000"),
        "{stderr}"
    );
    assert!(!dir.path().join("o").exists());
}

#[test]
fn cli_sweep_writes_csv_manifest_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path(), GRID_2X3);
    let out = dir.path().join("o");
    Command::new(assert_cmd::cargo::cargo_bin!("peerfluid"))
        .args(["sweep", file.to_str().unwrap(), "--out"])
        .arg(&out)
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(m["points"], 6);
    assert_eq!(m["mode"], "grid");
    assert_eq!(m["parameters"][1]["unit"], "s");
    assert_eq!(m["parameters"][0]["values"][1], 0.1);
    assert_eq!(m["spec_hash"].as_str().unwrap().len(), 16);
    assert!(out.join("sweep.csv").exists());
}

#[test]
fn shard_flag_is_checked() {
    assert_eq!(
        Shard::parse("3/16").unwrap(),
        Shard {
            index: 3,
            count: 16
        }
    );
    // Issue 23: the refusal names the range and why a Slurm array would give such an id.
    let e = Shard::parse("16/16").unwrap_err();
    assert!(
        e.starts_with("--shard 16/16: K must be 0 to 15 (0-based)") && e.contains("--shard-base 1"),
        "{e}"
    );
    assert!(Shard::parse("1-4").is_err());
    let s = Shard { index: 2, count: 3 };
    assert_eq!((s.rows(10), s.point(2)), (3, 8));
    assert_eq!(Shard { index: 5, count: 8 }.rows(3), 0);
}

#[test]
fn every_shipped_sweep_validates_and_its_first_points_evaluate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("# Question:"),
            "{}: header must say what it answers",
            p.display()
        );
        let s = SweepSpec::from_path(&p).unwrap_or_else(|e| panic!("{e}"));
        for i in [0, s.points / 2, s.points - 1] {
            let mut line = String::new();
            peerfluid::sweep::eval::row(&s, i, &mut line);
            assert!(
                line.split(',').nth(s.parameters.len() + 1) == Some("ok"),
                "{}: {line}",
                p.display()
            );
        }
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn a_scenario_with_a_sweep_still_runs_as_a_scenario_and_check_knows_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let own = write(
        dir.path(),
        "own.toml",
        &format!(
            "{BASE}{}",
            "[sweep]\n[[sweep.parameter]]\nkey = \"swarm.efficiency\"\nvalues = [0.5]\n"
        ),
    );
    assert!(peerfluid::scenario::Scenario::from_path(&own).is_ok());
    let file = sweep_file(dir.path(), GRID_2X3);
    let out = Command::new(assert_cmd::cargo::cargo_bin!("peerfluid"))
        .args(["check"])
        .arg(&file)
        .arg(&own)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("6 points (grid)") && stdout.contains("1 points (grid)"),
        "{stdout}"
    );
}

/// `e` without the temporary folder's path, so that messages are asserted whole.
fn relative(e: &impl std::fmt::Display, dir: &Path) -> String {
    e.to_string().replace(&format!("{}/", dir.display()), "")
}

/// Issue 18, item 7: a swept key that the scenario does not give, under `[demand]`, was
/// reported as "`content`: unknown field `foo`": the key is put into the table with the span of
/// its `[demand]` header, and the header line was named after the table above it.
#[test]
fn issue18_7_an_unknown_demand_key_of_a_sweep_is_named_with_demand() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(
        dir.path(),
        "[[sweep.parameter]]\nkey = \"demand.foo\"\nvalues = [1, 2]\n",
    );
    assert_eq!(
        relative(&SweepSpec::from_path(&path).unwrap_err(), dir.path()),
        "sweep.toml:4:7: `demand.foo` value 1 (1e0): base.toml:6:1: `demand.foo`: unknown field `foo`, expected one of `arrival_rate`, `profile`, `decay_time`, `peak_to_mean`, `period`, `peak_time`, `file`"
    );
}

/// Issue 18, item 7: TOML errors of a sweep file and of its base scenario name the file,
/// line:column and the table (the base's were reported with no line, the sweep's as
/// "[sweep]: …" whatever table they were in).
#[test]
fn issue18_7_toml_errors_of_a_sweep_and_its_base_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let param = "[[sweep.parameter]]\nkey = \"demand.arrival_rate\"\nvalue = [1]\n";
    let path = sweep_file(dir.path(), param);
    assert_eq!(
        relative(&SweepSpec::from_path(&path).unwrap_err(), dir.path()),
        "sweep.toml:5:1: `sweep.parameter.value`: unknown field `value`, expected one of `key`, `values`, `from`, `to`, `steps`, `scale`"
    );
    let param = "[[sweep.parameter]]\nkey = \"demand.arrival_rate\"\nvalues = [1]\n";
    let path = sweep_file(dir.path(), param);
    write(
        dir.path(),
        "base.toml",
        &format!("{BASE}[demand]\narrival_rate = \"1/s\"\n"),
    );
    assert_eq!(
        relative(&SweepSpec::from_path(&path).unwrap_err(), dir.path()),
        "base.toml:18:2: duplicate table `[demand]` (first at line 6)"
    );
}

/// Issue 18, item 9: an invalid point's scenario message was printed twice by `{:#}` (in the
/// point's message and again as its source).
#[test]
fn issue18_9_an_invalid_point_prints_the_scenario_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "shares.toml",
        &BASE.replace(
            "upload = \"1 Mbps\"\ndownload = \"8 Mbps\"\n",
            "[[peers.class]]\nname = \"dsl\"\nshare = 0.5\nupload = \"1 Mbps\"\ndownload = \"8 Mbps\"\n\
             [[peers.class]]\nname = \"fibre\"\nshare = 0.5\nupload = \"20 Mbps\"\ndownload = \"100 Mbps\"\n\
             [sweep]\nmode = \"zip\"\n\
             [[sweep.parameter]]\nkey = \"peers.class.dsl.share\"\nvalues = [0.5, 0.6]\n",
        ),
    );
    let s = SweepSpec::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
    let e = run_sweep(&s, &opts(dir.path().join("out"), 1)).unwrap_err();
    let shown = relative(&format_args!("{:#}", anyhow::Error::from(e)), dir.path());
    assert_eq!(
        shown,
        "sweep point 1 (peers.class.dsl.share = 6e-1): shares.toml:13:1: `peers.class[*].share` must sum to 1 (±0.000001) (got 1.1: dsl 0.6 + fibre 0.5)"
    );
}

/// Issue 19 §4: `[coordination]` keys are swept in place (a quantity and plain numbers), the
/// coordination columns follow each point's own scenario, and a value out of range is the
/// point's error. Each row equals `compare` of the same scenario.
#[test]
fn issue19_4_coordination_keys_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/coordination.toml");
    let base = std::fs::read_to_string(&preset).unwrap();
    write(dir.path(), "c.toml", &base);
    let sweep = write(
        dir.path(),
        "s.toml",
        "base = \"c.toml\"\n[sweep]\n\
         [[sweep.parameter]]\nkey = \"coordination.flood.ttl\"\nvalues = [2, 4, 6, 8]\n\
         [[sweep.parameter]]\nkey = \"coordination.tracker.interval\"\nvalues = [\"10 min\", \"1 h\"]\n",
    );
    let s = SweepSpec::from_path(&sweep).unwrap();
    run_sweep(&s, &opts(dir.path().join("o"), 1)).unwrap();
    let text = std::fs::read_to_string(dir.path().join("o/sweep.csv")).unwrap();
    let head: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let at = |r: &[&str], n: &str| -> f64 {
        r[head.iter().position(|h| *h == n).unwrap()]
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(rows.len(), 8);
    // Points 0, 2, 4, 6 have a 10-minute interval; the flood grows with its TTL until it
    // covers the overlay (≈ 1960 peers: TTL 8 reaches them all).
    let flood: Vec<f64> = (0..4)
        .map(|i| at(&rows[2 * i], "coordination.flood_gb"))
        .collect();
    let reach: Vec<f64> = (0..4)
        .map(|i| at(&rows[2 * i], "coordination.flood_reach"))
        .collect();
    assert!(flood.windows(2).all(|w| w[0] < w[1]), "{flood:?}");
    assert!(reach.windows(2).all(|w| w[0] <= w[1]), "{reach:?}");
    assert!(reach[0] < 0.01);
    approx::assert_relative_eq!(reach[3], 1.0);
    // A 1-hour interval instead of 10 minutes divides the periodic announces by 6, so the
    // peers' announce bytes fall; the bill (one server) does not.
    assert!(at(&rows[1], "coordination.tracker_gb") < at(&rows[0], "coordination.tracker_gb"));
    approx::assert_relative_eq!(at(&rows[0], "p2p.provider_usd"), 50.0);
    // Row 5 (TTL 6, 1 h) equals `compare` of that scenario.
    let sc = peerfluid::scenario::Scenario::from_toml(
        &base
            .replace("ttl = 7 ", "ttl = 6 ")
            .replace("interval = \"30 min\"", "interval = \"1 h\""),
        "c.toml",
        None,
    )
    .unwrap();
    let rec = peerfluid::run::compare_scenario(&sc, &peerfluid::run::RunOptions::default())
        .unwrap()
        .summary;
    let designs = &rec.coordination.as_ref().unwrap().designs;
    /// The sweep's steady point and `compare` bill the same steady month.
    const ROW_RTOL: f64 = 1e-12;
    for (i, name) in ["tracker", "dht", "flood"].iter().enumerate() {
        approx::assert_relative_eq!(
            at(&rows[5], &format!("coordination.{name}_usd")),
            designs[i].total_usd,
            max_relative = ROW_RTOL
        );
    }
    // An out-of-range TTL is the point's error, named with its range.
    let bad = write(
        dir.path(),
        "bad.toml",
        "base = \"c.toml\"\n[sweep]\n[[sweep.parameter]]\nkey = \"coordination.flood.ttl\"\nvalues = [7, 30]\n",
    );
    let err = SweepSpec::from_path(&bad)
        .expect_err("30 is out of range")
        .to_string();
    assert!(
        err.contains("`coordination.flood.ttl` must be in [1, 20] (got 30)"),
        "{err}"
    );
}
