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
