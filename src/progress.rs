//! Progress bars for long work (sweeps, stochastic replicates): one small module below every
//! stage, so that the stages that count their work need not import `output`.
//!
//! Everything here draws on stderr, and only when stderr is a terminal (indicatif's stderr
//! target is hidden otherwise); `show = false` (`--quiet`, library callers) draws nothing.

use std::time::Duration;

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A progress bar on stderr for long work (`unit`: what is counted, e.g. "points"), of which
/// `done` of `total` were done before (a resumed sweep), or a hidden one when `show` is false.
/// It shows `done + k / total unit`, and once the first piece of this run's work has arrived,
/// the rate ("75.0 k points/s", [`rate`]) and the time left; before that there is nothing to
/// estimate them from, so neither is shown.
///
/// The bar itself counts this run's work only (`total − done`), so that the rate and the time
/// left are not skewed by the work an earlier run did.
pub fn progress_bar(show: bool, total: u64, done: u64, unit: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let remaining = total.saturating_sub(done);
    let bar = ProgressBar::with_draw_target(Some(remaining), ProgressDrawTarget::stderr());
    let unit_owned = unit.to_string();
    let template = "{bar:40} {count}{rate}{eta}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        let style = style
            .with_key(
                "count",
                move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/{total} {unit_owned}", done + s.pos());
                },
            )
            .with_key("rate", rate_key(unit.to_string()))
            .with_key("eta", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&eta_text(s.pos(), s.eta()));
            });
        bar.set_style(style);
    }
    bar
}

fn rate_key(unit: String) -> impl Fn(&ProgressState, &mut dyn std::fmt::Write) + Clone {
    move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        if s.pos() > 0 {
            let _ = write!(w, "  {}", rate(s.per_sec(), &unit));
        }
    }
}

/// "  ETA 2 minutes" once `pos` > 0 (the first tick), else nothing.
fn eta_text(pos: u64, eta: Duration) -> String {
    if pos == 0 {
        String::new()
    } else {
        format!("  ETA {}", HumanDuration(eta))
    }
}

/// A spinner on stderr with `message` and the time elapsed, for work that cannot be counted
/// (validating every point of a large sweep before any is run), or a hidden one when `show` is
/// false. Stop it with `finish_and_clear`.
pub fn spinner(show: bool, message: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        s.set_style(style);
    }
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(120));
    s
}

/// A rate a person reads at a glance: three significant figures at most, with a k, M or G
/// prefix above a thousand: "75.0 k points/s", "512 points/s", "2.50 replicates/s".
pub fn rate(per_sec: f64, unit: &str) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return format!("– {unit}/s");
    }
    let (x, prefix) = match per_sec {
        r if r >= 1e9 => (r / 1e9, "G "),
        r if r >= 1e6 => (r / 1e6, "M "),
        r if r >= 1e3 => (r / 1e3, "k "),
        r => (r, ""),
    };
    let digits = if x >= 100.0 {
        0
    } else if x >= 10.0 || !prefix.is_empty() {
        1
    } else {
        2
    };
    format!("{x:.digits$} {prefix}{unit}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_at_a_glance() {
        assert_eq!(rate(75_000.0, "points"), "75.0 k points/s");
        assert_eq!(rate(1_234_567.0, "points"), "1.2 M points/s");
        assert_eq!(rate(512.4, "points"), "512 points/s");
        assert_eq!(rate(42.0, "points"), "42.0 points/s");
        assert_eq!(rate(2.5, "replicates"), "2.50 replicates/s");
        assert_eq!(rate(3e9, "events"), "3.0 G events/s");
        assert_eq!(rate(f64::INFINITY, "points"), "– points/s");
    }

    #[test]
    fn no_eta_before_the_first_tick() {
        assert_eq!(eta_text(0, Duration::from_secs(3600)), "");
        assert_eq!(eta_text(1, Duration::from_secs(120)), "  ETA 2 minutes");
    }

    #[test]
    fn hidden_when_not_shown() {
        assert!(progress_bar(false, 10, 0, "points").is_hidden());
        assert!(spinner(false, "validating".into()).is_hidden());
    }
}
