//! JSON exporter: `summary.json` (keys documented in `results/README.md`).

use std::path::Path;

use serde::Serialize;

use super::Staged;
use crate::error::OutputError;

/// Stage a pretty-printed JSON document.
pub fn stage_summary<T: Serialize>(path: &Path, value: &T) -> Result<Staged, OutputError> {
    Staged::write(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(|source| OutputError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::io::Write::write_all(w, b"\n").map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}
