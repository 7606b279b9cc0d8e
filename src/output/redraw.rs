//! `peerfluid plot DIR`: redraw the figures and `index.html` of a results folder from its
//! data files (a sweep folder from `sweep.csv` and `sweep.json`; a run or compare folder from
//! `timeseries.csv` and `summary.json`). The same data gives the same files, byte for byte.

use std::path::{Path, PathBuf};

use super::{commit_all, html, plot, sweep_plot};
use crate::error::OutputError;

/// Redraw every figure of the results folder `dir` and its `index.html`; returns the files
/// written.
pub fn redraw(dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    if !dir.is_dir() {
        return Err(OutputError::NotResults {
            path: dir.to_path_buf(),
            reason: "no such folder".into(),
        });
    }
    let _lock = super::lock::DirLock::acquire(dir)?;
    if dir.join("sweep.json").is_file() {
        return commit_all(sweep_plot::stage_sweep_plots(dir)?);
    }
    if dir.join("summary.json").is_file() && dir.join("timeseries.csv").is_file() {
        let figures = plot::RunFigures::read(dir)?;
        if figures.summary.get("replicates").is_some() {
            return Err(OutputError::NotResults {
                path: dir.to_path_buf(),
                reason: "a `simulate` folder: its means and spreads have no figures to redraw \
                         (`validate` draws the comparison with the fluid)"
                    .into(),
            });
        }
        let mut staged = plot::stage_plots(dir, &figures)?;
        staged.push(html::stage_index(dir, &html::run_page(&figures, true))?);
        return commit_all(staged);
    }
    Err(OutputError::NotResults {
        path: dir.to_path_buf(),
        reason: "no sweep.json (a sweep) nor summary.json and timeseries.csv (a run or \
                 compare): nothing to redraw"
            .into(),
    })
}
