//! Progress bars for long work (sweeps, stochastic replicates): one small module below every
//! stage, so that the stages that count their work need not import `output`.

/// A progress bar with rate and ETA on stderr for long work (`unit`: what is counted), or a
/// hidden one when `show` is false; indicatif draws nothing when stderr is not a terminal.
pub fn progress_bar(show: bool, total: u64, done: u64, unit: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_position(done);
    bar
}
