//! The command line: `run`, `check`, the default scenario, and the no-partial-output promise.

use std::path::Path;

use assert_cmd::Command;

fn peerfluid() -> Command {
    Command::cargo_bin("peerfluid").expect("binary builds")
}

fn scenario(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_arguments_runs_the_builtin_default_and_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid().current_dir(dir.path()).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("scenario 'viral-video'"), "{stdout}");
    assert!(
        stdout.contains("results/viral-video/timeseries.csv"),
        "{stdout}"
    );
    assert!(dir
        .path()
        .join("results/viral-video/summary.json")
        .is_file());
}

#[test]
fn run_writes_timeseries_and_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["run", "--points", "50", "--no-plots", "--out"])
        .arg(dir.path())
        .arg(scenario("dsl-fibre.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let csv = std::fs::read_to_string(dir.path().join("timeseries.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert!(
        header.starts_with("t,leechers,seeds,server_rate,peer_rate,"),
        "{header}"
    );
    assert!(
        header.contains("leechers.dsl") && header.contains("seeds.fibre"),
        "{header}"
    );
    // Issue 21: `--points 50` is a minimum: the 51 uniform times, and more where the swarm
    // fills from empty.
    let t: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    let h = *t.last().expect("rows");
    for i in 0..=50 {
        let ti = h * f64::from(i) / 50.0;
        assert!(
            t.iter().any(|x| (x - ti).abs() <= 1e-9 * h),
            "t = {ti} kept"
        );
    }
    assert!(t.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert!(
        t.len() > 51,
        "rows added where the state moves: {}",
        t.len()
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("json"),
    )
    .expect("valid JSON");
    for key in ["leechers", "seeds", "download_time_s", "regime"] {
        assert!(
            json["steady_state"][key] != serde_json::Value::Null,
            "steady_state.{key}"
        );
    }
    for (a, b) in [
        ("bytes", "server"),
        ("bytes", "peers"),
        ("downloads", "completed"),
        ("downloads", "aborted"),
    ] {
        assert!(json[a][b].is_number(), "{a}.{b}");
    }
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.iter().any(|n| n == "index.html"), "{names:?}");
    assert!(names.iter().any(|n| n == "columns.json"), "{names:?}");
}

#[test]
fn json_flag_prints_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["run", "--json", "--out"])
        .arg(dir.path())
        .arg(scenario("upload-limited.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["steady_state"]["regime"], "upload-limited");
}

#[test]
fn check_accepts_every_shipped_scenario() {
    let mut cmd = peerfluid();
    cmd.arg("check");
    for e in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).expect("dir")
    {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            cmd.arg(p);
        }
    }
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn check_reports_file_line_and_key_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"1/s\"\n[swarm]\nefficiency = 1.5\n[peers]\nupload = \"1 Mbps\"\ndownload = \"2 Mbps\"\n",
    )
    .expect("write");
    let out = peerfluid().arg("check").arg(&bad).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("bad.toml:7:14: `swarm.efficiency` must be in [0, 1] (got 1.5)"),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = peerfluid()
        .args(["run", "no/such/file.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with("Error: no/such/file.toml: cannot read the file:"),
        "{err}"
    );
}

#[test]
fn a_failed_run_leaves_no_partial_output() {
    // 1. The model fails (no steady state and no horizon): nothing is written.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("grows.toml");
    std::fs::write(
        &bad,
        "name = \"grows\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"1/s\"\n[peers]\nupload = 0\ndownload = \"2 Mbps\"\n",
    )
    .expect("write");
    let out_dir = dir.path().join("out");
    let out = peerfluid()
        .args(["run", "--out"])
        .arg(&out_dir)
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("no steady state"),
        "{}",
        stderr_of(&out)
    );
    assert!(!out_dir.exists());

    // 2. The second file cannot be put in place (a folder is in the way): the first one is
    //    rolled back and no temporary file remains.
    let out_dir = dir.path().join("blocked");
    std::fs::create_dir_all(out_dir.join("summary.json")).expect("mkdir");
    let out = peerfluid()
        .args(["run", "--out"])
        .arg(&out_dir)
        .arg(scenario("upload-limited.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("summary.json"),
        "{}",
        stderr_of(&out)
    );
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["summary.json".to_string()],
        "only the blocking folder remains"
    );
}

/// The output contract of issue 2: these columns and keys are what later issues build on.
/// A change here must be deliberate (and noted in results/README.md).
#[test]
fn output_columns_and_keys_are_pinned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["run", "--points", "4", "--out"])
        .arg(dir.path())
        .arg(scenario("dsl-fibre.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let csv = std::fs::read_to_string(dir.path().join("timeseries.csv")).expect("csv");
    assert_eq!(
        csv.lines().next().expect("header"),
        "t,leechers,seeds,server_rate,peer_rate,arrival_rate,completed,aborted,\
         leechers.dsl,leechers.fibre,seeds.dsl,seeds.fibre,download_rate.dsl,download_rate.fibre"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("json"),
    )
    .expect("valid JSON");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let mut top = keys(&json);
    top.sort();
    assert_eq!(
        top,
        [
            "arrival_profile",
            "bytes",
            "classes",
            "description",
            "downloads",
            "horizon_basis",
            "horizon_s",
            // Issue 21: the keys the scenario file set, for the report's inputs table.
            "inputs",
            "model",
            "peak",
            "scenario",
            "solver",
            "source",
            "steady_state",
            "validity",
            "version"
        ]
    );
    let mut ss = keys(&json["steady_state"]);
    ss.sort();
    assert_eq!(
        ss,
        [
            "arrival_rate_per_s",
            "basis",
            "completed_download_time_s",
            "completion_ratio",
            "count",
            "download_time_s",
            "leechers",
            "peer_rate_bps",
            "reached",
            "regime",
            "seeds",
            "server_rate_bps",
            "server_share",
            "settling_time_s",
            "slowest_rate_per_s"
        ]
    );
}

#[test]
fn compare_writes_costs_and_prints_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["compare", "--points", "50", "--out"])
        .arg(dir.path())
        .arg(scenario("download-limited.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("architecture") && stdout.contains("hybrid"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("costs.csv")).expect("costs.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "architecture,provider_usd,transit_usd,egress_usd,capacity_usd,cdn_usd,payments_usd,\
         tracker_usd,peers_cost_usd,peers_income_usd,peers_usd,social_usd,origin_gb,isp_uplink_gb,\
         coordination_gb,gross_saving,net_saving,gross_saving_vs_cdn,net_saving_vs_cdn,energy.origin_kwh,\
         energy.cdn_kwh,energy.network_kwh,energy.peers_kwh,energy.macro_kwh,\
         energy.femtocells_kwh,energy.total_kwh,energy.co2_kg"
    );
    let archs: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(archs, ["client_server", "cdn", "p2p", "hybrid"]);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("json"),
    )
    .expect("valid JSON");
    for arch in ["client_server", "cdn", "p2p", "hybrid"] {
        for key in [
            "provider_usd",
            "peers_usd",
            "social_usd",
            "gross_saving",
            "net_saving",
        ] {
            assert!(json["costs"][arch][key].is_number(), "costs.{arch}.{key}");
        }
    }
    assert!(json["billing"]["rule"].is_string());
    assert!(json["billing"]["factor"].is_number());
    assert!(json["billing"]["service"]["client_server_origin_bps"].is_number());
}

/// PNG width and height from the IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn figures_are_drawn_with_titles_and_axis_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["compare", "--points", "100", "--out"])
        .arg(dir.path())
        .arg(scenario("upload-limited.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    for name in ["populations", "rates", "costs"] {
        let png = std::fs::read(dir.path().join(format!("{name}.png"))).expect("png");
        assert_eq!(png_size(&png), (1200, 800), "{name}.png");
        // A blank 1200x800 PNG compresses to a few hundred bytes; a drawn figure does not.
        assert!(
            png.len() > 20_000,
            "{name}.png looks blank ({} bytes)",
            png.len()
        );
        let svg = std::fs::read_to_string(dir.path().join(format!("{name}.svg"))).expect("svg");
        assert!(svg.contains("upload-limited:"), "{name}.svg has its title");
    }
    let svg = std::fs::read_to_string(dir.path().join("populations.svg")).expect("svg");
    assert!(
        svg.contains("time (hours)") && svg.contains("peers in the swarm"),
        "axis label and title"
    );
    let svg = std::fs::read_to_string(dir.path().join("costs.svg")).expect("svg");
    assert!(svg.contains("US dollars per month") && svg.contains("hybrid") && svg.contains("net "));
}

/// Issue 4: `peerfluid shapley` on a canonical game (literature §2.6 SHAP-lin-2 and
/// SHAP-finiteN, rel 1e-9) and on a scenario's own game.
#[test]
fn shapley_prints_the_convergence_table_as_json() {
    let out = peerfluid()
        .args([
            "shapley",
            "--omega",
            "linear",
            "--xbar",
            "2",
            "--n",
            "10,100,1000",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    assert!(rel(v["provider_share_per_user"].as_f64().unwrap(), 0.75) < 1e-9);
    assert!(rel(v["price_per_unit"][0].as_f64().unwrap(), 0.125) < 1e-9);
    let expect = [
        0.727_272_727_272_727_3,
        0.747_524_752_475_247_5,
        0.749_750_249_750_249_7,
    ];
    for (row, e) in v["exact"].as_array().unwrap().iter().zip(expect) {
        assert!(
            rel(row["provider_share_per_user"].as_f64().unwrap(), e) < 1e-9,
            "{row}"
        );
    }
    assert_eq!(v["core"]["in_core"], false);

    let out = peerfluid()
        .args(["shapley", "--n", "10,100"])
        .arg(scenario("paid-sharing.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fluid Shapley: provider share per user"),
        "{text}"
    );

    let out = peerfluid()
        .args(["shapley", "--omega", "linear", "--classes", "4:0.5,1:0.6"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("--classes: shares must sum to 1 (got 1.1)"));

    for (args, says) in [
        (
            vec!["--xbar", "2", "--n", "0"],
            "--n (population size N) = 0 is out of range: 1 to 10000000",
        ),
        (
            vec!["--xbar", "2", "--n", "100000000"],
            "out of range: 1 to 10000000",
        ),
        (vec!["--xbar", "1e300"], "--xbar must be in [0, 1e12]"),
        (vec!["--xbar", "-1"], "--xbar must be in [0, 1e12]"),
    ] {
        let out = peerfluid()
            .arg("shapley")
            .args(&args)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}

/// Issue 4: compare reports participation, payments and the provider's best price.
#[test]
fn compare_reports_the_incentive_equilibrium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["compare", "--no-plots", "--points", "50", "--out"])
        .arg(dir.path())
        .arg(scenario("paid-sharing.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("incentive (equilibrium)") && stdout.contains("participation"),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("json"),
    )
    .expect("valid JSON");
    let inc = &v["incentive"];
    let q = inc["classes"][0]["participation"].as_f64().unwrap();
    assert!(q > 0.0 && q < 1.0, "{q}");
    assert!(inc["best_payment"]["price_usd_per_gb"].as_f64().unwrap() > 0.0);
    assert!(inc["integration_vs_root"].as_f64().unwrap() < 1e-6);
    // The sharers and the non-sharers are separate classes of the run, and only sharers earn.
    let names: Vec<&str> = v["peer_classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["all", "all-out"]);
    assert!(v["peer_classes"][0]["income_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(v["peer_classes"][1]["income_usd"].as_f64().unwrap(), 0.0);
    // Payments in the p2p bill equal the sharers' income.
    let paid = v["costs"]["p2p"]["payments_usd"].as_f64().unwrap();
    let income = v["peer_classes"][0]["income_usd"].as_f64().unwrap();
    assert!(
        ((paid - income) / income).abs() < 1e-9,
        "{paid} vs {income}"
    );
}

/// `shapley --providers`: the Cho–Yi values of the library (literature §2.5), the core check
/// and the exact identical-peer values, as JSON; bad provider triples are refused with the
/// expected form.
#[test]
fn shapley_providers_prints_the_cho_yi_values() {
    use peerfluid::incentive::multi::{fluid_values, Market, Provider};
    let out = peerfluid()
        .args([
            "shapley",
            "--providers",
            "1:2:1,2:1:1.5",
            "--resource",
            "2",
            "--n",
            "10",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let market = Market::new(
        vec![
            Provider {
                a: 1.0,
                demand: 2.0,
                exponent: 1.0,
            },
            Provider {
                a: 2.0,
                demand: 1.0,
                exponent: 1.5,
            },
        ],
        2.0,
    )
    .unwrap();
    let fluid = fluid_values(&market);
    for (i, phi) in fluid.phi.iter().enumerate() {
        let got = doc["fluid"]["phi"][i].as_f64().unwrap();
        assert!(
            (got - phi).abs() <= 1e-12 * phi.abs().max(1.0),
            "{got} vs {phi}"
        );
    }
    assert_eq!(doc["fluid"]["blocked"], fluid.blocked);
    assert!(doc["exact"][0]["values"]["per_provider"][1].is_number());
    let out = peerfluid()
        .args(["shapley", "--providers", "1:2", "--resource", "2"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("expected a:D:p"),
        "{}",
        stderr_of(&out)
    );
    let out = peerfluid()
        .args(["shapley", "--providers", "1:2:1"])
        .output()
        .expect("runs");
    assert!(!out.status.success(), "--resource is required");
}

/// Issue 18, item 7: `check` named the table above the line at fault ("`server`: duplicate
/// key", "`server`: unknown field `foo`"); it names the duplicated or unknown table itself.
#[test]
fn issue18_7_check_names_the_duplicated_or_unknown_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(scenario("download-limited.toml")).expect("read");
    for (name, extra) in [
        ("dup.toml", "[content]\nsize = \"1 MB\"\n"),
        ("foo.toml", "[foo]\nbar = 1\n"),
    ] {
        std::fs::write(dir.path().join(name), format!("{base}{extra}")).expect("write");
    }
    let out = peerfluid()
        .current_dir(dir.path())
        .args(["check", "dup.toml", "foo.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "Error: dup.toml:24:2: duplicate table `[content]` (first at line 7)\n\
         Error: foo.toml:24:2: unknown table `[foo]`, expected one of `name`, `description`, \
         `horizon`, `content`, `demand`, `swarm`, `peers`, `server`, `pricing`, `incentive`, \
         `isp`, `locality`, `push`, `wireless`, `energy`, `coordination`\n\
         Error: 2 of 2 scenario files are invalid\n"
    );
}

/// Issue 18, item 9: an OS error was printed twice ("…: Not a directory (os error 20): Not a
/// directory (os error 20)"): once in the output error's message, once as its source.
#[test]
fn issue18_9_an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("file"), "").expect("write");
    let out_dir = dir.path().join("file").join("sub");
    let sweep = dir.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "base = {:?}\n[sweep]\n[[sweep.parameter]]\nkey = \"server.capacity\"\nvalues = [\"1 Mbps\"]\n",
            scenario("download-limited.toml").display().to_string()
        ),
    )
    .expect("write");
    let run = scenario("download-limited.toml");
    for (args, context) in [
        (
            vec!["run".as_ref(), "--no-plots".as_ref(), run.as_os_str()],
            "Error: writing results of 'download-limited': ".to_string(),
        ),
        (
            vec!["sweep".as_ref(), sweep.as_os_str()],
            format!("Error: sweep of {}: ", sweep.display()),
        ),
    ] {
        let out = peerfluid()
            .args(args)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        let want = format!("{context}{}: ", out_dir.display());
        assert!(err.starts_with(&want), "{err}");
        assert_eq!(err.matches("(os error").count(), 1, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Issue 18, item 9: a 200 kB bad value was echoed whole three times; `check` prints it once,
/// cut to 60 characters and its length.
#[test]
fn issue18_9_check_cuts_a_long_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(scenario("download-limited.toml")).expect("read");
    let long = "x".repeat(200_000);
    let text = base.replace("upload = \"10 Mbps\"", &format!("upload = \"{long} Mbps\""));
    std::fs::write(dir.path().join("long.toml"), text).expect("write");
    let out = peerfluid()
        .current_dir(dir.path())
        .args(["check", "long.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "Error: long.toml:19:10: `peers.upload`: \"{}… (200005 bytes)\" does not start with a \
             number; expected a bandwidth such as \"2 Mbps\"\n\
             Error: 1 of 1 scenario files are invalid\n",
            &long[..60]
        )
    );
}

/// Issue 19 §4: a new user runs the coordination preset with `compare` and sees every design,
/// the billed one starred, and where their costs cross; `summary.json` carries the same.
#[test]
fn issue19_4_compare_shows_the_coordination_designs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["compare", "--no-plots", "--out"])
        .arg(dir.path())
        .arg(scenario("coordination.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "coordination (`coordination.kind = \"tracker\"` is billed in p2p and hybrid)",
        "  * tracker            50.00",
        "    dht                 0.00",
        "    flood               0.00",
        "dht and tracker cost the same at 16× this swarm",
        "flood and tracker cost the same at 4.18× this swarm",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("json"),
    )
    .expect("valid JSON");
    let c = &json["coordination"];
    assert_eq!(c["kind"], "tracker");
    let kinds: Vec<&str> = c["designs"]
        .as_array()
        .expect("designs")
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["tracker", "dht", "flood"]);
    assert_eq!(c["designs"][0]["servers"], 1.0);
    assert!(c["designs"][1]["hops"].as_f64().unwrap() > 5.0);
    assert_eq!(json["costs"]["p2p"]["tracker_usd"], 50.0);
    assert!(json["costs"]["p2p"]["coordination_gb"].as_f64().unwrap() > 3.0);
}

/// The columns.json of a results folder: it describes every CSV file there, with the names of
/// its header in order, each with a unit (or an empty one for text) and a meaning.
fn assert_columns_describe_the_csv_files(dir: &Path) {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("columns.json")).expect("columns.json"),
    )
    .expect("valid JSON");
    let described = doc.as_object().expect("an object");
    let mut csv_files: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    csv_files.sort();
    let mut keys: Vec<String> = described.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, csv_files, "{}", dir.display());
    for (file, columns) in described {
        let text = std::fs::read_to_string(dir.join(file)).expect("csv");
        let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
        let columns = columns.as_array().expect("an array");
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, header, "{file}");
        for c in columns {
            let description = c["description"].as_str().expect("description");
            assert!(
                !description.is_empty() && description != "not documented",
                "{file}: {c}"
            );
            assert!(c["unit"].is_string(), "{file}: {c}");
        }
    }
}

fn unit_of(dir: &Path, file: &str, column: &str) -> String {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("columns.json")).expect("json"))
            .expect("valid JSON");
    doc[file]
        .as_array()
        .expect("file described")
        .iter()
        .find(|c| c["name"] == column)
        .unwrap_or_else(|| panic!("{file}: no column {column}"))["unit"]
        .as_str()
        .expect("unit")
        .to_string()
}

/// A small sweep file beside a copy of `download-limited.toml`.
fn small_sweep(dir: &Path) -> std::path::PathBuf {
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "base = {:?}\n[sweep]\n[[sweep.parameter]]\nkey = \"server.capacity\"\nvalues = [\"1 Mbps\", \"2 Mbps\", \"5 Mbps\"]\n",
            scenario("download-limited.toml").display().to_string()
        ),
    )
    .expect("write");
    sweep
}

/// Issue 21: `peerfluid ... | head` panicked with a backtrace (`failed printing to stdout:
/// Broken pipe`). With stdout a pipe whose reader is already gone, every command stops quietly
/// with status 0, as ripgrep does.
#[test]
fn issue21_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = assert_cmd::cargo::cargo_bin!("peerfluid");
    let run = scenario("dsl-fibre.toml");
    let out = dir.path().join("run");
    let commands: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "shapley".into(),
            "--omega".into(),
            "linear".into(),
            "--xbar".into(),
            "1".into(),
        ],
        vec!["check".into(), run.clone().into()],
        vec!["completions".into(), "bash".into()],
        vec!["man".into()],
        vec!["--help".into()],
        vec![
            "run".into(),
            "--no-plots".into(),
            "--points".into(),
            "20".into(),
            "-o".into(),
            out.into(),
            run.into(),
        ],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let done = std::process::Command::new(bin)
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("runs");
        let err = stderr_of(&done);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
        assert_eq!(done.status.code(), Some(0), "{args:?}");
    }
}

/// Issue 21: an unknown top-level table `[foo]` after `[demand]` was reported as "`demand`:
/// unknown field `foo`"; `run` and `sweep` name the table itself, at its line and column.
#[test]
fn issue21_an_unknown_table_is_named_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "name = \"x\"\n[content]\nsize = \"1 MB\"\n[demand]\narrival_rate = \"1/s\"\n\
                [foo]\nbar = 1\n[peers]\nupload = \"1 Mbps\"\ndownload = \"2 Mbps\"\n";
    std::fs::write(dir.path().join("foo.toml"), text).expect("write");
    std::fs::write(
        dir.path().join("sweep.toml"),
        format!(
            "{text}[sweep]\n[[sweep.parameter]]\nkey = \"demand.arrival_rate\"\nvalues = [1, 2]\n"
        ),
    )
    .expect("write");
    let expected = "6:2: unknown table `[foo]`, expected one of `name`, `description`, \
         `horizon`, `content`, `demand`, `swarm`, `peers`, `server`, `pricing`, `incentive`, \
         `isp`, `locality`, `push`, `wireless`, `energy`, `coordination`\n";
    for (args, file) in [
        (["run", "foo.toml"], "foo.toml"),
        (["sweep", "sweep.toml"], "sweep.toml"),
    ] {
        let out = peerfluid()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr_of(&out), format!("Error: {file}:{expected}"));
    }
}

/// Issue 21: shell completions and a manual page, generated from the command line itself.
#[test]
fn issue21_completions_and_the_man_page() {
    for (shell, marker) in [
        ("bash", "_peerfluid()"),
        ("zsh", "#compdef peerfluid"),
        ("fish", "complete -c peerfluid"),
    ] {
        let out = peerfluid()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr_of(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("threads"),
            "{shell}: the sweep flags are completed"
        );
    }
    let out = peerfluid()
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    let out = peerfluid().arg("man").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH peerfluid 1"), "{page}");
    for command in ["compare", "sweep", "completions"] {
        assert!(page.contains(command), "{command} not in the man page");
    }
}

/// Issue 21: the top-level help says what no command does and gives examples; each command's
/// help has examples; help is wrapped to the terminal's width (`COLUMNS` when not a terminal).
#[test]
fn issue21_help_has_examples_and_fits_the_terminal() {
    let help = |args: &[&str], columns: &str| {
        let out = peerfluid()
            .args(args)
            .env("COLUMNS", columns)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&["--help"], "100");
    assert!(
        top.contains("With no command, peerfluid runs `compare` on the built-in scenario"),
        "{top}"
    );
    assert!(top.contains("Examples:\n  peerfluid "), "{top}");
    assert!(top.contains("-q, --quiet"), "{top}");
    let short = help(&["-h"], "100");
    assert!(short.contains("With no command"), "{short}");
    for command in [
        "run", "compare", "simulate", "validate", "shapley", "sweep", "check",
    ] {
        let text = help(&[command, "--help"], "100");
        assert!(
            text.contains(&format!("Examples:\n  peerfluid {command}")),
            "{command}: {text}"
        );
    }
    let sweep = help(&["sweep", "--help"], "100");
    assert!(sweep.contains("-o, --out <OUT>"), "{sweep}");
    assert!(sweep.contains("-j, --threads <THREADS>"), "{sweep}");
    let widest = |text: &str| text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest(&help(&["sweep", "--help"], "100")) > 60);
    let narrow = help(&["sweep", "--help"], "60");
    assert!(widest(&narrow) <= 60, "{narrow}");
}

/// Issue 21: `check --json` gives file, line, column, key and message per error (and the files
/// that are fine), and still exits 1 when a file is invalid.
#[test]
fn issue21_check_json_lists_each_error_with_its_place_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"1/s\"\n[swarm]\nefficiency = 1.5\n[peers]\nupload = \"1 Mbps\"\ndownload = \"2 Mbps\"\n",
    )
    .expect("write");
    let good = scenario("dsl-fibre.toml");
    let out = peerfluid()
        .arg("check")
        .arg("--json")
        .arg(&good)
        .arg(&bad)
        .arg(dir.path().join("missing.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "Error: 2 of 3 scenario files are invalid\n"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["ok"][0]["file"], good.display().to_string());
    assert_eq!(json["ok"][0]["what"], "dsl-fibre");
    let e = &json["errors"][0];
    assert_eq!(e["file"], bad.display().to_string());
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(7), Some(14))
    );
    assert_eq!(e["key"], "swarm.efficiency");
    assert_eq!(
        e["message"],
        "`swarm.efficiency` must be in [0, 1] (got 1.5)"
    );
    let missing = &json["errors"][1];
    assert_eq!(missing["line"], serde_json::Value::Null);
    assert!(
        missing["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot read the file:")),
        "{missing}"
    );
}

/// Issue 21: `--json` on `sweep`, `simulate` and `validate` prints what the command did as
/// JSON (and nothing else) on stdout; `-o` and `-j` are `--out` and `--threads`.
#[test]
fn issue21_json_on_sweep_simulate_and_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sweep = small_sweep(dir.path());
    let out = peerfluid()
        .args(["sweep", "--json", "--no-plots", "-j", "1", "-o"])
        .arg(dir.path().join("sweep"))
        .arg(&sweep)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(
        (json["points"].as_u64(), json["rows"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(json["computed"], 3);
    assert!(json["points_per_s"].as_f64().is_some_and(|r| r > 0.0));
    assert_eq!(json["spec_hash"].as_str().map(str::len), Some(16));
    assert!(dir.path().join("sweep/sweep.csv").is_file());

    let out = peerfluid()
        .arg("simulate")
        .arg(scenario("upload-limited.toml"))
        .args([
            "--scale",
            "1",
            "--replicates",
            "2",
            "--points",
            "20",
            "--json",
            "-j",
            "1",
            "-o",
        ])
        .arg(dir.path().join("sim"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["replicate_seeds"].as_array().map(Vec::len), Some(2));
    assert!(dir.path().join("sim/timeseries.csv").is_file());

    let out = peerfluid()
        .arg("validate")
        .arg(scenario("upload-limited.toml"))
        .args([
            "--scales",
            "1,4",
            "--replicates",
            "2",
            "--points",
            "20",
            "--no-plots",
            "--json",
            "-o",
        ])
        .arg(dir.path().join("val"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(2));
    assert!(json.get("slope_population_error").is_some(), "{json}");
    assert!(dir.path().join("val/validation.csv").is_file());
}

/// Issue 21: `--quiet` prints nothing on stdout (the files are still written), and progress
/// bars stay off when stderr is not a terminal; without it, the sweep's rate is readable.
#[test]
fn issue21_quiet_and_progress_stay_out_of_the_way() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = peerfluid()
        .args(["-q", "compare", "--no-plots", "--points", "20", "-o"])
        .arg(dir.path().join("run"))
        .arg(scenario("dsl-fibre.toml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!((out.stdout.len(), out.stderr.len()), (0, 0));
    assert!(dir.path().join("run/costs.csv").is_file());
    let sweep = small_sweep(dir.path());
    let out = peerfluid()
        .args(["sweep", "--quiet", "--no-plots", "-o"])
        .arg(dir.path().join("quiet"))
        .arg(&sweep)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!((out.stdout.len(), out.stderr.len()), (0, 0));
    assert!(dir.path().join("quiet/sweep.csv").is_file());
    // Not quiet: stdout says what was done, at a rate a person reads; stderr (not a terminal
    // here) gets no progress bar and no spinner.
    let out = peerfluid()
        .args(["sweep", "--no-plots", "-o"])
        .arg(dir.path().join("loud"))
        .arg(&sweep)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("3 rows (3 computed now) in "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let rate = line.rsplit(": ").next().expect("rate");
    let number = rate.split(' ').next().expect("number");
    assert!(number.parse::<f64>().is_ok(), "{line}");
    assert!(
        rate.ends_with(" points/s") && number.len() <= 5,
        "at most three significant figures and a prefix: {line}"
    );
}

/// Issue 21: every results folder has a columns.json with the unit and meaning of each column
/// of each CSV file in it, in header order.
#[test]
fn issue21_every_results_folder_describes_its_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = |name: &str| dir.path().join(name);
    let ok = |out: std::process::Output| assert!(out.status.success(), "{}", stderr_of(&out));
    ok(peerfluid()
        .args(["-q", "run", "--no-plots", "--points", "20", "-o"])
        .arg(folder("run"))
        .arg(scenario("dsl-fibre.toml"))
        .output()
        .expect("runs"));
    ok(peerfluid()
        .args(["-q", "compare", "--no-plots", "--points", "20", "-o"])
        .arg(folder("compare"))
        .arg(scenario("live-tv.toml"))
        .output()
        .expect("runs"));
    ok(peerfluid()
        .args(["-q", "compare", "--no-plots", "--points", "20", "-o"])
        .arg(folder("wireless"))
        .arg(scenario("femtocell-offload.toml"))
        .output()
        .expect("runs"));
    ok(peerfluid()
        .args([
            "-q",
            "simulate",
            "--scale",
            "1",
            "--replicates",
            "2",
            "--points",
            "20",
            "-o",
        ])
        .arg(folder("sim"))
        .arg(scenario("upload-limited.toml"))
        .output()
        .expect("runs"));
    ok(peerfluid()
        .args([
            "-q",
            "validate",
            "--scales",
            "1,4",
            "--replicates",
            "2",
            "--points",
            "20",
        ])
        .args(["--no-plots", "-o"])
        .arg(folder("val"))
        .arg(scenario("upload-limited.toml"))
        .output()
        .expect("runs"));
    ok(peerfluid()
        .args(["-q", "sweep", "--no-plots", "-o"])
        .arg(folder("sweep"))
        .arg(small_sweep(dir.path()))
        .output()
        .expect("runs"));
    for name in ["run", "compare", "wireless", "sim", "val", "sweep"] {
        assert_columns_describe_the_csv_files(&folder(name));
    }
    assert_eq!(unit_of(&folder("run"), "timeseries.csv", "t"), "s");
    assert_eq!(
        unit_of(&folder("run"), "timeseries.csv", "seeds.fibre"),
        "peers"
    );
    assert_eq!(
        unit_of(&folder("run"), "timeseries.csv", "server_rate"),
        "bit/s"
    );
    assert_eq!(
        unit_of(&folder("compare"), "timeseries.csv", "viewers.dsl"),
        "viewers"
    );
    assert_eq!(
        unit_of(&folder("compare"), "costs.csv", "provider_usd"),
        "$/month"
    );
    assert_eq!(
        unit_of(&folder("wireless"), "adoption.csv", "towers"),
        "towers"
    );
    assert_eq!(
        unit_of(&folder("sim"), "timeseries.csv", "leechers.sd"),
        "peers"
    );
    assert_eq!(
        unit_of(&folder("val"), "validation.csv", "events"),
        "events"
    );
    assert_eq!(
        unit_of(&folder("sweep"), "sweep.csv", "server.capacity"),
        "bit/s"
    );
    assert_eq!(
        unit_of(&folder("sweep"), "sweep.csv", "cdn.kwh"),
        "kWh/month"
    );
}

/// Issue 21: a sweep writes no column its points can never fill: a file swarm without ISPs or
/// `[coordination]` has no wireless, locality or coordination columns; a wireless sweep has no
/// swarm or bill columns. The header is a function of the spec (resume and merge need it).
#[test]
fn issue21_a_sweep_drops_the_columns_its_kind_never_fills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = folder_header(&dir, "file", small_sweep(dir.path()));
    assert!(out.contains(",p2p.net_saving,"), "{out}");
    for absent in ["wireless.", "locality.", "coordination."] {
        assert!(!out.contains(absent), "{absent} in {out}");
    }
    let wireless = dir.path().join("w.toml");
    std::fs::write(
        &wireless,
        format!(
            "base = {:?}\n[sweep]\n[[sweep.parameter]]\nkey = \"wireless.hosts\"\nvalues = [0.1, 0.2]\n",
            scenario("femtocell-offload.toml").display().to_string()
        ),
    )
    .expect("write");
    let w = folder_header(&dir, "wireless", wireless);
    assert_eq!(
        w,
        "point,wireless.hosts,status,regime,peer_share,participation,payments_usd,peers_net_usd,\
         wireless.hosting_share,wireless.towers,wireless.towers_saved,wireless.operator_usd,\
         wireless.macro_only_usd,wireless.gross_saving,wireless.net_saving,wireless.kwh"
    );
    // Every row has as many cells as the header.
    let csv = std::fs::read_to_string(dir.path().join("wireless/sweep.csv")).expect("csv");
    for line in csv.lines().skip(1) {
        assert_eq!(line.split(',').count(), w.split(',').count(), "{line}");
        assert!(line.contains(",ok,wireless,"), "{line}");
    }
}

fn folder_header(dir: &tempfile::TempDir, name: &str, sweep: std::path::PathBuf) -> String {
    let out = peerfluid()
        .args(["-q", "sweep", "--no-plots", "-o"])
        .arg(dir.path().join(name))
        .arg(sweep)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let csv = std::fs::read_to_string(dir.path().join(name).join("sweep.csv")).expect("csv");
    csv.lines().next().expect("header").to_string()
}
