//! A sweep in memory: the columns of `sweep.csv` as vectors, for callers that want numbers
//! rather than a folder (the Python bindings). The same points, the same check of every point
//! before any runs, and the same evaluation as [`run_sweep`](super::run_sweep), in point
//! order whatever the number of threads; no files, so no resume, shards or figures.

use rayon::prelude::*;

use super::eval;
use super::runner::{check_points, pool, threads_or_cores};
use super::spec::SweepSpec;
use crate::error::SweepError;

/// One output column of a [`SweepTable`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// `regime`: text, `None` where the point failed (an empty cell in the CSV).
    Text(Vec<Option<&'static str>>),
    /// A number per point, NaN where the CSV cell is empty.
    Numbers(Vec<f64>),
}

/// The columns of `sweep.csv`, in its order: `point`, one per parameter, `status`, then the
/// outputs ([`SweepSpec::outputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepTable {
    /// Column names, as in the CSV header (`point`, the keys, `status`, the outputs).
    pub names: Vec<String>,
    /// Point indices, 0-based.
    pub point: Vec<u64>,
    /// The values of each parameter, in base units (one vector per parameter).
    pub parameters: Vec<Vec<f64>>,
    /// `ok`, or `error: ` and why the point has no outputs.
    pub status: Vec<String>,
    /// The output columns.
    pub outputs: Vec<Column>,
}

/// Run every point of `spec` on `threads` workers (one per core when `None`) and keep the
/// rows in memory. Like `peerfluid sweep`, every point's scenario is validated first (the
/// lowest invalid point is the error, [`SweepError::Point`]), and more than `limit` points
/// are refused ([`SweepError::TooLarge`]).
///
/// ```
/// use peerfluid::sweep::{table, SweepSpec};
///
/// let text = format!(
///     "{}\n[sweep]\n[[sweep.parameter]]\nkey = \"demand.arrival_rate\"\nvalues = [\"1/s\", \"2/s\"]\n",
///     peerfluid::scenario::DEFAULT_SCENARIO
/// );
/// let spec = SweepSpec::from_text(text, "viral-video-rate.toml".as_ref())?;
/// let t = table(&spec, Some(2), 1000)?;
/// assert_eq!(t.parameters[0], [1.0, 2.0]);
/// assert!(t.status.iter().all(|s| s == "ok"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn table(
    spec: &SweepSpec,
    threads: Option<usize>,
    limit: u64,
) -> Result<SweepTable, SweepError> {
    if spec.points > limit {
        return Err(SweepError::TooLarge {
            points: spec.points,
            limit,
        });
    }
    let pool = pool(threads_or_cores(threads))?;
    let rows = pool.install(|| -> Result<Vec<_>, SweepError> {
        check_points(spec, spec.points)?;
        Ok((0..spec.points)
            .into_par_iter()
            .map(|i| eval::point(spec, i))
            .collect())
    })?;
    let n = rows.len();
    let kept = spec.kept_outputs();
    let mut names = vec!["point".to_string()];
    names.extend(spec.parameters.iter().map(|p| p.key.clone()));
    names.push("status".into());
    names.extend(spec.outputs().map(|(name, _, _)| name.to_string()));
    let mut parameters = vec![Vec::with_capacity(n); spec.parameters.len()];
    let mut status = Vec::with_capacity(n);
    let mut outputs: Vec<Column> = kept
        .iter()
        .map(|&k| match k {
            0 => Column::Text(Vec::with_capacity(n)),
            _ => Column::Numbers(Vec::with_capacity(n)),
        })
        .collect();
    for (values, result) in &rows {
        for (column, v) in parameters.iter_mut().zip(values) {
            column.push(v.number);
        }
        status.push(match result {
            Ok(_) => "ok".to_string(),
            Err(why) => format!("error: {why}"),
        });
        for (column, &k) in outputs.iter_mut().zip(kept) {
            let cell = result.as_ref().ok().map(|o| o.cell(k));
            match (column, cell) {
                (Column::Text(c), Some(Err(text))) => c.push(Some(text)),
                (Column::Text(c), _) => c.push(None),
                (Column::Numbers(c), Some(Ok(x))) => c.push(x),
                (Column::Numbers(c), _) => c.push(f64::NAN),
            }
        }
    }
    Ok(SweepTable {
        names,
        point: (0..spec.points).collect(),
        parameters,
        status,
        outputs,
    })
}
