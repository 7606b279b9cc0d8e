//! CSV exporter: `timeseries.csv` (columns documented in `results/README.md`).

use std::path::Path;

use super::Staged;
use crate::error::OutputError;

/// Stage a CSV with a header row and one row per record; numbers in Rust's shortest
/// round-trip form (deterministic).
pub fn stage_timeseries(
    path: &Path,
    columns: &[String],
    rows: &[Vec<f64>],
) -> Result<Staged, OutputError> {
    Staged::write(path, |w| {
        let err = |source| OutputError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut out = ::csv::Writer::from_writer(w);
        out.write_record(columns).map_err(err)?;
        let mut cells = Vec::with_capacity(columns.len());
        for row in rows {
            cells.clear();
            cells.extend(row.iter().map(|v| format!("{v}")));
            out.write_record(&cells).map_err(err)?;
        }
        out.flush().map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Stage `costs.csv`: one row per architecture, the fields of `CostBreakdown` as columns.
pub fn stage_costs(
    path: &Path,
    rows: &[crate::cost::ledger::CostBreakdown],
) -> Result<Staged, OutputError> {
    Staged::write(path, |w| {
        let err = |source| OutputError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut out = ::csv::Writer::from_writer(w);
        for r in rows {
            out.serialize(r).map_err(err)?;
        }
        out.flush().map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}
