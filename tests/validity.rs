//! The validity guard (issue 16, "A validity guard"): with a handful of peers the fluid model
//! prints confident but wrong numbers. Regression tests for the issue's two reproductions,
//! the default scenario (no warning), and the `--check-stochastic` command line. Unit tests of
//! the rules are in `src/run/validity.rs`; the numbers are in `models/stochastic.md`.

use assert_cmd::Command;
use peerfluid::run::validity::{assess, MIN_PEERS};
use peerfluid::run::{compare_scenario, RunOptions, RunRecord};
use peerfluid::scenario::Scenario;
use peerfluid::stochastic::check_stochastic;

use crate::util::{scenario, shipped, shipped_with};

/// Issue 16, first reproduction: `scenarios/upload-limited.toml` at 1 arrival per hour with
/// seeds staying an hour: about one peer online.
fn upload_limited_one_an_hour() -> String {
    shipped_with(
        "upload-limited.toml",
        &[
            ("arrival_rate = \"0.1/s\"", "arrival_rate = \"1/h\""),
            ("seed_residence = \"0 s\"", "seed_residence = \"1 h\""),
        ],
    )
}

fn compare(s: &Scenario) -> RunRecord {
    compare_scenario(s, &RunOptions::default()).expect("runs")
}

fn server_share(rec: &RunRecord) -> f64 {
    let b = &rec.summary.bytes;
    b.server / (b.server + b.peers)
}

/// Issue 16, first reproduction (1 arrival an hour, seeds stay an hour): the guard fires,
/// naming the population (1.06 peers in steady state) and the threshold.
#[test]
fn issue_16_one_arrival_an_hour_is_flagged() {
    let s = scenario(&upload_limited_one_an_hour());
    let rec = compare(&s);
    let v = assess(&s, &rec);
    assert!(!v.holds, "{v:?}");
    assert_eq!(v.warnings.len(), 1, "{v:?}");
    assert!((v.mean_peers - 1.06).abs() < 0.01, "{v:?}");
    assert!(
        v.warnings[0].contains("averages 1.06 peers online (leechers and seeds, steady state), below the 30 the model needs"),
        "{}",
        v.warnings[0]
    );
}

/// Issue 16: the stochastic twin at real scale (whole peers) has the server send ~91 % of the
/// bytes where the fluid model says 34 %. Measured with seed 1 and 200 replicates: fluid
/// 0.342, stochastic 0.907 (sd over replicates 0.018, so a standard error of 0.0013). The
/// margin of 0.5 leaves 0.065 = 50 standard errors: a change of seeds or of the chain's use
/// of random numbers cannot cross it, only a change of the law.
#[test]
fn issue_16_at_real_scale_the_server_sends_most_of_the_bytes() {
    let s = scenario(&upload_limited_one_an_hour());
    let rec = compare(&s);
    let fluid = server_share(&rec);
    assert!((fluid - 0.342).abs() < 0.005, "fluid share {fluid}");
    let c = check_stochastic(&s, &rec, 200, 1).expect("a quick check");
    assert_eq!((c.scale, c.replicates, c.seed), (1.0, 200, 1));
    let share = c.server_share;
    assert!(
        (share.fluid.expect("bytes") - fluid).abs() < 1e-12,
        "{share:?}"
    );
    assert!(
        share.stochastic.mean > fluid + 0.5,
        "stochastic {:?} vs fluid {fluid}",
        share.stochastic
    );
    // So the server's bytes (the provider's cost driver) are underestimated almost threefold
    // (measured +172 %, standard error of the mean 2 %).
    let rel = c.server_bytes.relative_difference.expect("fluid bytes > 0");
    assert!(rel > 1.0, "{:?}", c.server_bytes);
}

/// Issue 16, second reproduction: `scenarios/p4p-fibre-dsl.toml` has ~0.6 leechers and no
/// origin, yet its fluid swarm delivers. Both rules fire; at real scale downloads take six
/// times longer (measured 17.7 s ± 6.2 s sd over 200 replicates vs the fluid's 2.85 s; the
/// standard error of the mean, 0.44 s, is far inside the 3× asserted).
#[test]
fn issue_16_p4p_without_an_origin_is_flagged_twice() {
    let s = Scenario::from_path(&shipped("p4p-fibre-dsl.toml")).expect("valid");
    let rec = compare(&s);
    let v = assess(&s, &rec);
    assert!(!v.holds, "{v:?}");
    assert_eq!(v.warnings.len(), 2, "{v:?}");
    assert!(v.mean_peers < 1.0, "{v:?}");
    assert!(
        v.warnings[0]
            .starts_with("Too few peers for the fluid model: the swarm averages 0.60 peers"),
        "{}",
        v.warnings[0]
    );
    assert!(
        v.warnings[1].starts_with(
            "No source for the first copy: there is no origin server (capacity 0) and fewer \
             than 1 seed online on average (0.00), yet the fluid model completes"
        ),
        "{}",
        v.warnings[1]
    );
    let c = check_stochastic(&s, &rec, 200, 1).expect("a quick check");
    let t = c.download_time_s;
    assert!(
        t.stochastic.mean > 3.0 * t.fluid.expect("arrivals"),
        "{t:?}"
    );
}

/// The default scenario (viral-video, 252 peers on average over its horizon) holds.
#[test]
fn the_default_scenario_holds() {
    let s = Scenario::builtin_default().expect("valid");
    let rec = compare(&s);
    let v = assess(&s, &rec);
    assert!(v.holds && v.assessed && v.warnings.is_empty(), "{v:?}");
    assert!(v.mean_peers > MIN_PEERS, "{v:?}");
    assert_eq!(v.basis, "time average while the swarm is active");
}

fn peerfluid() -> Command {
    Command::cargo_bin("peerfluid").expect("binary builds")
}

/// `compare --check-stochastic` prints the validity warning and the side-by-side block after
/// the cost table, and writes both to summary.json.
#[test]
fn compare_check_stochastic_prints_the_block_and_writes_the_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("one-an-hour.toml");
    std::fs::write(&file, upload_limited_one_an_hour()).expect("write");
    let out = peerfluid()
        .args([
            "compare",
            "--no-plots",
            "--points",
            "100",
            "--check-stochastic",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table = stdout.find("costs per").expect("cost table");
    let validity = stdout
        .find("fluid model validity: in doubt\n  - Too few peers")
        .expect("warning");
    let block = stdout
        .find("fluid vs stochastic at real scale (whole peers, N = 1; 200 replicates, seed 1,")
        .expect("block");
    assert!(table < validity && validity < block, "{stdout}");
    for row in ["  server bytes ", "  server share ", "  download time "] {
        assert!(stdout[block..].contains(row), "{stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).expect("summary"),
    )
    .expect("JSON");
    assert_eq!(json["validity"]["holds"], false);
    assert_eq!(json["validity"]["basis"], "steady state");
    let c = &json["stochastic_check"];
    assert_eq!(c["replicates"], 200);
    assert_eq!(c["seed"], 1);
    let fluid = c["server_share"]["fluid"].as_f64().expect("number");
    let stoch = c["server_share"]["stochastic"]["mean"]
        .as_f64()
        .expect("number");
    assert!(stoch > fluid + 0.5, "{c}");
    for key in ["server_bytes", "server_share", "download_time_s"] {
        let mut keys: Vec<&String> = c[key].as_object().expect("object").keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["difference", "fluid", "relative_difference", "stochastic"],
            "{key}"
        );
    }
}

/// Without the flag: the validity line and key, no stochastic check; `--replicates` alone is
/// a usage error; a live scenario is refused with the simulator's message.
#[test]
fn run_prints_validity_and_the_check_flags_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["run", "--no-plots", "--points", "50", "--out"])
        .arg(dir.path())
        .arg(shipped("viral-video.toml"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fluid model validity: holds (286 peers online, time average while the swarm is active; at least 30 needed)"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("JSON");
    assert_eq!(json["validity"]["holds"], true);
    assert!(json.get("stochastic_check").is_none(), "{json}");

    let out = peerfluid()
        .args(["compare", "--replicates", "5"])
        .arg(shipped("viral-video.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--check-stochastic"), "{stderr}");

    let out = peerfluid()
        .args(["compare", "--no-plots", "--check-stochastic", "--out"])
        .arg(dir.path().join("live"))
        .arg(shipped("live-tv.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: --check-stochastic of 'live-tv': scenario 'live-tv': the stochastic simulator \
         covers file swarms only (content.kind = \"file\"), not live\n"
    );
}
