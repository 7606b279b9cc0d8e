//! `index.html` of a results folder: its figures and a summary table.

use std::path::Path;

use super::Staged;
use crate::error::OutputError;

/// Stage `dir/index.html` for the files that are (or are about to be) in `dir`.
pub fn stage_index(dir: &Path) -> Result<Option<Staged>, OutputError> {
    let _ = dir;
    Ok(None)
}
