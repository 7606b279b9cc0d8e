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

/// Stage `costs.csv`: one row per architecture, the fields of `CostBreakdown` as columns
/// (nested fields dotted: `energy.total_kwh`).
pub fn stage_costs(
    path: &Path,
    rows: &[crate::cost::ledger::CostBreakdown],
) -> Result<Staged, OutputError> {
    stage_rows(path, rows)
}

/// Stage a CSV of serialisable rows: one column per field, nested objects flattened with
/// dotted names (`energy.co2_kg`), in field order; every row must have the same fields.
pub fn stage_rows<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<Staged, OutputError> {
    let mut flat: Vec<Vec<(String, String)>> = Vec::with_capacity(rows.len());
    for r in rows {
        let v = serde_json::to_value(r).map_err(|e| OutputError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        let mut cells = Vec::new();
        flatten("", &v, &mut cells);
        flat.push(cells);
    }
    Staged::write(path, |w| {
        let err = |source| OutputError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut out = ::csv::Writer::from_writer(w);
        if let Some(first) = flat.first() {
            out.write_record(first.iter().map(|(k, _)| k))
                .map_err(err)?;
        }
        for cells in &flat {
            out.write_record(cells.iter().map(|(_, v)| v))
                .map_err(err)?;
        }
        out.flush().map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), String::new())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
