//! Every file in scenarios/ parses, validates, runs, and conserves peers.

use peerfluid::run::{run_scenario, RunOptions};
use peerfluid::scenario::Scenario;

#[test]
fn every_scenario_file_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(
            text.starts_with("# Question:"),
            "{}: header comment must say what question it answers",
            path.display()
        );
        let s = Scenario::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        let rec = run_scenario(
            &s,
            &RunOptions {
                points: 100,
                ..RunOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let d = &rec.summary.downloads;
        assert!(
            d.conservation_residual < 1e-8,
            "{}: residual {}",
            path.display(),
            d.conservation_residual
        );
        assert!(rec.rows.iter().all(|r| r.iter().all(|v| v.is_finite())));
        // Issue 21: columns.json gives every column of timeseries.csv a unit and a meaning.
        let kind = peerfluid::output::columns::series_of(&rec);
        for c in peerfluid::output::columns::timeseries(&rec.columns, kind) {
            assert!(
                c.description != "not documented" && !c.unit.is_empty(),
                "{}: column {c:?}",
                path.display()
            );
        }
        count += 1;
    }
    assert!(count >= 4, "at least four scenarios (got {count})");
}

#[test]
fn the_required_kinds_are_present() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let load = |n: &str| Scenario::from_path(&dir.join(n)).unwrap_or_else(|e| panic!("{e}"));
    let regime = |n: &str| {
        let rec = run_scenario(&load(n), &RunOptions::default()).expect("runs");
        rec.summary.steady_state.expect("steady").regime
    };
    assert_eq!(regime("download-limited.toml"), "download-limited");
    assert_eq!(regime("upload-limited.toml"), "upload-limited");
    assert_eq!(
        load("viral-video.toml").demand.arrival.kind(),
        "flash-crowd"
    );
    assert_eq!(load("dsl-fibre.toml").classes.len(), 2);
}
