//! ISP locality through scenario files (issue 6 part 4): `[[isp]]`, `[locality]`, the report
//! in `run`/`compare`, and the P4P fibre/DSL preset.

use peerfluid::run::{run_scenario, RunOptions};
use peerfluid::scenario::Scenario;

use crate::util::{error_of, scenario};

/// LOC-2eq of literature §6.2 as a scenario: λ = (1, 1)/s, μ = 0.02 files/s, c = 0.1
/// files/s, η = 1, θ = 0, γ = 0.05 (file of 1 byte: rates in bit/s are 8 × files/s).
fn loc2(locality: &str) -> String {
    format!(
        r#"
name = "loc2"
[content]
size = 1
[demand]
arrival_rate = 2
[swarm]
efficiency = 1.0
seed_residence = "20 s"
[[peers.class]]
name = "a-homes"
share = 0.5
upload = 0.16
download = 0.8
[[peers.class]]
name = "b-homes"
share = 0.5
upload = 0.16
download = 0.8
[[isp]]
name = "isp-a"
class = "a-homes"
transit = "10 $/Mbps/month"
[[isp]]
name = "isp-b"
class = "b-homes"
{locality}
"#
    )
}

/// x = 30, y = 20 per ISP under every rule; inter-ISP share 50 % random, 0 % locality-optimal
/// and strict (literature §6.2 LOC-2eq, rel 1e-6).
#[test]
fn loc_2eq_through_a_scenario_file() {
    let s = scenario(&loc2(
        "[locality]\nselection = \"fraction\"\nfraction = 0.5",
    ));
    let rec = run_scenario(&s, &RunOptions::default()).unwrap();
    let l = rec.summary.locality.as_ref().expect("locality report");
    assert_eq!(l.selected, "locality-fraction (beta = 0.5)");
    let labels: Vec<String> = l.selections.iter().map(|x| x.selection.label()).collect();
    assert_eq!(
        labels,
        [
            "random",
            "locality-optimal",
            "locality-fraction (beta = 0.5)",
            "strict-locality"
        ]
    );
    let share = [0.5, 0.0, 0.25, 0.0];
    for (st, want) in l.selections.iter().zip(share) {
        assert!(
            (st.totals.inter_isp_share - want).abs() < 1e-6,
            "{}",
            st.selection.label()
        );
        for row in &st.rows {
            assert!((row.leechers - 30.0).abs() < 30.0 * 1e-6, "{row:?}");
            assert!((row.seeds - 20.0).abs() < 20.0 * 1e-6, "{row:?}");
        }
    }
    // The ISP without its own transit price pays the scenario's default (pricing.transit).
    assert!(l.selections[0].rows[1].transit_usd_month > 0.0);
}

#[test]
fn isp_keys_are_validated() {
    let e = error_of(&loc2("").replace("class = \"b-homes\"", "class = \"c-homes\""));
    assert!(
        e.contains("`isp.class` \"c-homes\" is not a peer class (classes: a-homes, b-homes)"),
        "{e}"
    );
    let e = error_of(&loc2("").replace("class = \"b-homes\"", "class = \"a-homes\""));
    assert!(e.contains("already in ISP \"isp-a\""), "{e}");
    let e = error_of(&loc2("").replace(
        "name = \"isp-b\"\nclass = \"b-homes\"",
        "name = \"isp-a\"\nclass = \"b-homes\"",
    ));
    assert!(e.contains("used twice"), "{e}");
    let e = error_of(&loc2("[locality]\nselection = \"nearest\""));
    assert!(
        e.contains(
            "`locality.selection` must be \"random\", \"optimal\", \"fraction\" or \"strict\""
        ),
        "{e}"
    );
    let e = error_of(&loc2("[locality]\nselection = \"fraction\""));
    assert!(e.contains("`locality.fraction` is missing"), "{e}");
    let e = error_of(&loc2(
        "[locality]\nselection = \"fraction\"\nfraction = 1.5",
    ));
    assert!(
        e.contains("`locality.fraction` must be in [0, 1] (got 1.5)"),
        "{e}"
    );
    let e = error_of(&loc2("[locality]\nselection = \"strict\"\nfraction = 0.5"));
    assert!(e.contains("applies to selection \"fraction\" only"), "{e}");
    let e = error_of(&loc2("").replace(
        "upload = 0.16\ndownload = 0.8\n[[isp]]",
        "upload = 0.16\ndownload = 0.8\nabort_rate = \"1/h\"\n[[isp]]",
    ));
    assert!(
        e.contains("overrides `abort_rate` or `seed_residence`"),
        "{e}"
    );
    let cut = loc2("");
    let without_b = cut.replace("[[isp]]\nname = \"isp-b\"\nclass = \"b-homes\"\n", "");
    let e = error_of(&without_b);
    assert!(e.contains("peer class \"b-homes\" is in no ISP"), "{e}");
    let plain = "name = \"p\"\n[content]\nsize = 1\n[demand]\narrival_rate = 1\n[peers]\nupload = 1\ndownload = 1\n[locality]\nselection = \"strict\"\n";
    let e = error_of(plain);
    assert!(e.contains("`[locality]` needs the ISPs"), "{e}");
}

/// The shipped P4P preset: locality-optimal cuts inter-ISP bytes below random; strict
/// locality removes them but slows the DSL ISP's downloads and speeds up the fibre ISP's
/// (`models/locality.md`: 0.469 → 0.240 s fibre, 5.51 s → 112 s DSL).
#[test]
fn the_p4p_preset_shows_when_locality_slows_a_small_isp() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/p4p-fibre-dsl.toml");
    let s = Scenario::from_path(&path).unwrap();
    let rec = run_scenario(&s, &RunOptions::default()).unwrap();
    let l = rec.summary.locality.as_ref().unwrap();
    let by = |label: &str| {
        l.selections
            .iter()
            .find(|x| x.selection.label() == label)
            .unwrap()
    };
    let (random, optimal, strict) = (by("random"), by("locality-optimal"), by("strict-locality"));
    assert!((random.totals.inter_isp_share - 0.5).abs() < 1e-9);
    assert!(optimal.totals.inter_isp_share < random.totals.inter_isp_share);
    assert!(strict.totals.inter_isp_share.abs() < 1e-12);
    let time = |st: &peerfluid::model::locality::LocalitySteady, isp: &str| {
        st.rows
            .iter()
            .find(|r| r.name == isp)
            .unwrap()
            .download_time_s
    };
    assert!(time(strict, "dsl-isp") > 10.0 * time(random, "dsl-isp"));
    assert!(time(strict, "fibre-isp") < time(random, "fibre-isp"));
    assert!((time(random, "fibre-isp") - 0.4691).abs() < 1e-3);
}

/// Peers who decide not to share upload nothing in the ISP report too: with sharing costs no
/// payment covers (mechanism none), nobody shares, so no bytes cross ISPs under any rule and
/// the ISPs' transit bill is 0 (the report uses the plan's participation, as the run does).
#[test]
fn the_locality_report_uses_who_actually_shares() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/p4p-fibre-dsl.toml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "[[isp]]\nname = \"fibre-isp\"",
        "[peers.cost]\ndistribution = \"uniform\"\nmin = \"$1\"\nmax = \"$2\"\n\n[server]\ncapacity = \"100 Mbps\"\n\n[[isp]]\nname = \"fibre-isp\"",
    );
    let s = scenario(&text);
    let rec = run_scenario(&s, &RunOptions::default()).unwrap();
    assert!(
        rec.plan.participation.iter().all(|q| *q < 1e-9),
        "{:?}",
        rec.plan.participation
    );
    let l = rec.summary.locality.as_ref().unwrap();
    for st in &l.selections {
        assert!(
            st.totals.inter_isp_rate.abs() < 1e-12,
            "{}",
            st.selection.label()
        );
        assert!(st.totals.transit_usd_month.abs() < 1e-9);
        assert!(st.totals.upload_rate.abs() < 1e-12);
    }
}

/// Issue 19 §3: the shipped P4P congested-link preset through the command line. `compare`
/// writes `summary.json` with `locality.transit`; the numbers are the two-symmetric-ISP closed
/// form of `models/locality.md` (μ = 1.5 Mbit/s ÷ 168 Mbit per file, λ = 0.5/s per ISP,
/// L = 20 Mbit/s, upload-limited, seeds leave at once): locality-optimal T = 1/μ = 112 s,
/// random T = 2 (1 − L/(λF)) / μ = 2 (1 − 20/84) × 112 s = 170.67 s, speed-up 1 − 2L/(λF) =
/// 52.38 %; inter-ISP bytes 2 × 20 Mbit/s random, 0 locality-optimal; both links full under
/// random. Tolerance 1e-9 relative (the certified residual is 1e-11).
#[test]
fn the_congested_p4p_preset_speeds_up_with_locality_through_the_cli() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/p4p-congested.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("peerfluid")
        .unwrap()
        .args(["compare", path.to_str().unwrap(), "--no-plots", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "transit links, random -> locality-optimal: inter-ISP 40 Mbps -> 0 bps (100.0 % less)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("speed-up +52.4 %"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let t = &json["locality"]["transit"];
    let close = |got: &serde_json::Value, want: f64| {
        let g = got.as_f64().unwrap();
        assert!(
            (g - want).abs() <= 1e-9 * want.abs().max(1e-300),
            "{g} vs {want}"
        );
    };
    let (mu_t, share) = (112.0, 20.0 / 84.0);
    close(&t["mean_download_time_locality_s"], mu_t);
    close(
        &t["mean_download_time_random_s"],
        2.0 * (1.0 - share) * mu_t,
    );
    close(&t["speed_up"], 1.0 - 2.0 * share);
    let file_bits = json["locality"]["file_bits"].as_f64().unwrap();
    close(&t["inter_isp_rate_random"], 40e6 / file_bits);
    assert!(t["inter_isp_rate_locality"].as_f64().unwrap().abs() < 1e-15);
    close(&t["inter_isp_cut"], 1.0);
    for row in t["rows"].as_array().unwrap() {
        close(&row["speed_up"], 1.0 - 2.0 * share);
        assert_eq!(row["link_binds_random"], true);
        assert_eq!(row["link_binds_locality"], false);
        close(&row["utilisation_random"], 1.0);
    }
    // the random row carries each ISP's link load
    let random = &json["locality"]["selections"][0];
    assert_eq!(random["selection"]["kind"], "random");
    let link = &random["rows"][0]["link"];
    close(&link["capacity_mbps"], 20.0);
    close(&link["in_utilisation"], 1.0);
    assert_eq!(link["binds"], true);
}

/// Without the key the report has no links and no comparison (today's output); with a
/// capacity far above every cross flow the numbers are the same and the speed-up is 0.
#[test]
fn an_unlimited_or_idle_link_changes_nothing_through_a_scenario_file() {
    let plain = scenario(&loc2("[locality]\nselection = \"random\""));
    let idle = scenario(&loc2(
        "[locality]\nselection = \"random\"\ntransit_capacity = \"1 Tbps\"",
    ));
    assert_eq!(idle.isps[0].transit_capacity, Some(1e12));
    assert_eq!(plain.isps[0].transit_capacity, None);
    let a = run_scenario(&plain, &RunOptions::default()).unwrap();
    let b = run_scenario(&idle, &RunOptions::default()).unwrap();
    let (la, lb) = (
        a.summary.locality.as_ref().unwrap(),
        b.summary.locality.as_ref().unwrap(),
    );
    assert!(la.transit.is_none());
    let json = serde_json::to_string(la).unwrap();
    assert!(!json.contains("\"link\"") && !json.contains("\"transit\":"));
    let tc = lb.transit.as_ref().expect("a comparison with links");
    assert!(tc.speed_up.abs() <= 1e-12);
    for (sa, sb) in la.selections.iter().zip(&lb.selections) {
        for (ra, rb) in sa.rows.iter().zip(&sb.rows) {
            assert_eq!(ra.leechers.to_bits(), rb.leechers.to_bits());
            assert_eq!(
                ra.inter_isp_in_rate.to_bits(),
                rb.inter_isp_in_rate.to_bits()
            );
            assert!(!rb.link.as_ref().unwrap().binds);
        }
    }
}

/// A bad capacity names the file, line, key, value and allowed range; a per-ISP value
/// overrides the `[locality]` default.
#[test]
fn transit_capacity_is_validated_and_located() {
    let text = loc2("[locality]\ntransit_capacity = \"-5 Mbps\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("transit_capacity"))
        .unwrap()
        + 1;
    let e = error_of(&text);
    assert_eq!(
        e,
        format!(
            "bad.toml:{line}:20: `locality.transit_capacity` must be > 0 bps (got \"-5 Mbps\")"
        )
    );
    let e = error_of(&loc2("").replace(
        "class = \"b-homes\"",
        "class = \"b-homes\"\ntransit_capacity = 0",
    ));
    assert!(
        e.contains("`isp.transit_capacity` must be > 0 bps (got 0)"),
        "{e}"
    );
    let e = error_of(&loc2("").replace(
        "class = \"b-homes\"",
        "class = \"b-homes\"\ntransit_capacity = \"5 GB\"",
    ));
    assert!(e.contains("`isp.transit_capacity`"), "{e}");
    let s = scenario(&loc2("[locality]\ntransit_capacity = \"8 Mbps\"").replace(
        "class = \"b-homes\"",
        "class = \"b-homes\"\ntransit_capacity = \"2 Mbps\"",
    ));
    assert_eq!(s.isps[0].transit_capacity, Some(8e6));
    assert_eq!(s.isps[1].transit_capacity, Some(2e6));
}
