//! Output times that follow the dynamics (issue 21): the uniform grid of `--points` is a
//! minimum, and where the state moves a lot between two of its outputs (a flash crowd's rise,
//! the end of a server burst, a regime switch) rows are added in between.
//!
//! How: the run's uniform solve gives rows at t = i·H/N. For each interval, the largest change
//! of a key series (leechers, seeds, server and peers' upload, per-class populations) as a share
//! of that series' largest value says how many sub-intervals it needs for one row per
//! [`REFINE_STEP`] of change, rounded up to a level of [`REFINE_LEVELS`]. Each level is one more
//! uniform solve, `L` times finer, from t = 0 to the end of the last interval that needs it
//! (every method outputs on a uniform grid; the solve is exact at each of its outputs), and
//! only its outputs inside the intervals of that level are kept. Every number of the summary,
//! the bills and the peaks comes from the uniform solve or from their own grids: the added rows
//! are for reading (`timeseries.csv`, the figures).

use crate::error::SolveError;
use crate::model::swarm::Swarm;
use crate::scenario::Scenario;
use crate::solve::{self, SolverSettings};

/// A row per this share of a series' largest value, where the state moves (1 %: a full swing
/// drawn with 100 segments).
pub const REFINE_STEP: f64 = 0.01;
/// Sub-intervals per uniform interval an interval may get: the smallest level that brings its
/// change under [`REFINE_STEP`] per row, else the finest.
pub const REFINE_LEVELS: [usize; 3] = [4, 16, 64];
/// Most outputs of one refining solve (it runs from t = 0 at the finer spacing): a level that
/// would need more is made coarser, and dropped when under 2 sub-intervals.
pub const REFINE_MAX_OUTPUTS: usize = 8192;

/// The sub-intervals interval `i` of `rows` needs (1: none): its largest change of a column of
/// `keys` over that column's largest magnitude, in [`REFINE_STEP`]s, rounded up to a level.
fn needs(rows: &[Vec<f64>], keys: &[usize], scales: &[f64], i: usize) -> usize {
    let change = keys
        .iter()
        .zip(scales)
        .filter(|(_, s)| **s > 0.0)
        .map(|(&c, s)| (rows[i + 1][c] - rows[i][c]).abs() / s)
        .fold(0.0, f64::max);
    if change.is_nan() || change <= REFINE_STEP {
        return 1;
    }
    let want = (change / REFINE_STEP).ceil();
    REFINE_LEVELS
        .iter()
        .copied()
        .find(|&l| l as f64 >= want)
        .unwrap_or(REFINE_LEVELS[REFINE_LEVELS.len() - 1])
}

/// Builds one time-series row from the time and the state.
pub type RowOf = dyn Fn(&Scenario, &Swarm, f64, &[f64]) -> Vec<f64>;

/// The rows to add to `rows` (the uniform solve of `settings`, one row per output, time in
/// column 0), each built by `row(t, state)`; not sorted, none at a time of `rows`.
pub fn dense_rows(
    s: &Scenario,
    model: &Swarm,
    settings: &SolverSettings,
    rows: &[Vec<f64>],
    row: &RowOf,
) -> Result<Vec<Vec<f64>>, SolveError> {
    let n = rows.len().saturating_sub(1);
    if n == 0 || n != settings.points {
        return Ok(Vec::new());
    }
    let k = model.k();
    // leechers, seeds, server_rate, peer_rate, then leechers.<class> and seeds.<class>
    // (`timeseries_columns`).
    let keys: Vec<usize> = (1..=4).chain(8..8 + 2 * k).collect();
    let scales: Vec<f64> = keys
        .iter()
        .map(|&c| rows.iter().map(|r| r[c].abs()).fold(0.0, f64::max))
        .collect();
    let level: Vec<usize> = (0..n).map(|i| needs(rows, &keys, &scales, i)).collect();
    let mut extra = Vec::new();
    for l in REFINE_LEVELS {
        let Some(last) = level.iter().rposition(|&v| v == l) else {
            continue;
        };
        let intervals = last + 1;
        let sub = l.min(REFINE_MAX_OUTPUTS / intervals);
        if sub < 2 {
            continue;
        }
        let mut fine = settings.clone();
        fine.points = intervals * sub;
        fine.t_end = rows[intervals][0];
        let traj = solve::integrate(model, &fine)?;
        for (j, (t, z)) in traj.t.iter().zip(traj.states()).enumerate() {
            if j % sub != 0 && level.get(j / sub) == Some(&l) {
                extra.push(row(s, model, *t, z));
            }
        }
    }
    Ok(extra)
}

/// `rows` and `extra` in time order (the uniform rows kept where two times agree to 1e-9 of
/// the horizon).
pub fn merge_rows(rows: Vec<Vec<f64>>, extra: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    if extra.is_empty() {
        return rows;
    }
    let horizon = rows
        .last()
        .map_or(1.0, |r| r[0].abs().max(f64::MIN_POSITIVE));
    let mut all: Vec<(bool, Vec<f64>)> = rows
        .into_iter()
        .map(|r| (false, r))
        .chain(extra.into_iter().map(|r| (true, r)))
        .collect();
    // Uniform rows first among equal times, so the duplicate dropped is the added one.
    all.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.0.cmp(&b.0)));
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(all.len());
    for (added, r) in all {
        let close = out
            .last()
            .is_some_and(|p| (r[0] - p[0]).abs() <= 1e-9 * horizon);
        if !(added && close) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_rows_are_sorted_and_keep_the_uniform_row_at_a_shared_time() {
        let rows = vec![vec![0.0, 1.0], vec![1.0, 2.0], vec![2.0, 3.0]];
        let extra = vec![
            vec![1.5, 9.0],
            vec![0.5, 8.0],
            vec![1.0 + 1e-12, 7.0],
            vec![0.25, 6.0],
        ];
        let m = merge_rows(rows, extra);
        let t: Vec<f64> = m.iter().map(|r| r[0]).collect();
        let want: [f64; 6] = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0];
        assert!(
            t.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{t:?}"
        );
        assert_eq!(m[3][1].to_bits(), 2f64.to_bits(), "the uniform row stays");
    }

    #[test]
    fn an_interval_needs_the_smallest_level_that_brings_its_change_under_the_step() {
        let rows = vec![
            vec![0.0, 0.0],
            vec![1.0, 0.005],
            vec![2.0, 0.035],
            vec![3.0, 1.0],
        ];
        let need = |i| needs(&rows, &[1], &[1.0], i);
        assert_eq!(need(0), 1, "0.5 % needs nothing");
        assert_eq!(need(1), 4, "3 % needs 3 rows: level 4");
        assert_eq!(need(2), 64, "96.5 % needs 97: the finest level");
    }
}
