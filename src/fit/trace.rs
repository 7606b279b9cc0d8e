//! A measured swarm trace (`peerfluid fit --trace FILE`): CSV with a header naming the
//! columns, one row per sample time.
//!
//! | column | unit | required | meaning |
//! |---|---|---|---|
//! | `t` | s | yes | time from the first arrival, strictly increasing, ≥ 0 |
//! | `leechers` | peers | yes | downloaders online at t |
//! | `seeds` | peers | yes | peers online with the whole file at t (the origin not counted) |
//! | `arrivals` | peers | no | arrivals up to t (a running count, non-decreasing) |
//! | `completions` (or `completed`) | peers | no | completed downloads up to t (running count) |
//! | `aborts` (or `aborted`) | peers | no | aborted downloads up to t (running count) |
//!
//! Other columns are ignored (so `simulate`'s `timeseries.csv`, whose `completed` and
//! `aborted` are running counts, reads as a trace).

use crate::error::FitError;

/// Fewest rows a trace must have.
pub const MIN_ROWS: usize = 5;

/// A measured trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Where it was read from (for messages).
    pub file: String,
    /// Sample times, s.
    pub t: Vec<f64>,
    /// Leechers online.
    pub leechers: Vec<f64>,
    /// Seeds online.
    pub seeds: Vec<f64>,
    /// Arrivals so far (running count), when the trace has them.
    pub arrivals: Option<Vec<f64>>,
    /// Completions so far, when given.
    pub completions: Option<Vec<f64>>,
    /// Aborts so far, when given.
    pub aborts: Option<Vec<f64>>,
}

impl Trace {
    /// Read a trace file.
    ///
    /// # Errors
    ///
    /// [`FitError::Trace`] naming the file, the line, the column and the value.
    pub fn from_path(path: &std::path::Path) -> Result<Self, FitError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FitError::Unreadable {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::from_text(&text, &file)
    }

    /// Parse trace text; `file` names it in messages.
    ///
    /// # Errors
    ///
    /// [`FitError::Trace`] naming the line, the column and the value.
    pub fn from_text(text: &str, file: &str) -> Result<Self, FitError> {
        let bad = |line: usize, reason: String| FitError::Trace {
            file: file.to_string(),
            line,
            reason,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| {
            bad(
                1,
                "the file is empty: a header `t,leechers,seeds` is needed".into(),
            )
        })?;
        let names: Vec<String> = header.split(',').map(|h| h.trim().to_string()).collect();
        let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
        let need = |name: &str| {
            find(&[name]).ok_or_else(|| {
                bad(
                    1,
                    format!(
                        "no column `{name}` in the header (found: {}); a trace needs `t`, `leechers` and `seeds`",
                        names.join(", ")
                    ),
                )
            })
        };
        let (it, il, is) = (need("t")?, need("leechers")?, need("seeds")?);
        let ia = find(&["arrivals"]);
        let ic = find(&["completions", "completed"]);
        let ib = find(&["aborts", "aborted"]);
        let mut tr = Self {
            file: file.to_string(),
            t: Vec::new(),
            leechers: Vec::new(),
            seeds: Vec::new(),
            arrivals: ia.map(|_| Vec::new()),
            completions: ic.map(|_| Vec::new()),
            aborts: ib.map(|_| Vec::new()),
        };
        for (i, line) in lines {
            let no = i + 1;
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |j: usize| -> Result<f64, FitError> {
                let raw = cells.get(j).copied().unwrap_or("");
                let v: f64 = raw.parse().map_err(|_| {
                    bad(
                        no,
                        format!("column `{}`: \"{raw}\" is not a number", names[j]),
                    )
                })?;
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(
                        no,
                        format!("column `{}`: {raw} must be finite and ≥ 0", names[j]),
                    ));
                }
                Ok(v)
            };
            let t = cell(it)?;
            if let Some(&prev) = tr.t.last() {
                if t <= prev {
                    return Err(bad(
                        no,
                        format!("column `t`: {t} s does not come after the previous row's {prev} s (times must increase)"),
                    ));
                }
            }
            tr.t.push(t);
            tr.leechers.push(cell(il)?);
            tr.seeds.push(cell(is)?);
            for (idx, col) in [
                (ia, &mut tr.arrivals),
                (ic, &mut tr.completions),
                (ib, &mut tr.aborts),
            ] {
                if let (Some(j), Some(v)) = (idx, col.as_mut()) {
                    let x = cell(j)?;
                    if let Some(&prev) = v.last() {
                        if x < prev {
                            return Err(bad(
                                no,
                                format!("column `{}`: {x} is below the previous row's {prev} (a running count never falls)", names[j]),
                            ));
                        }
                    }
                    v.push(x);
                }
            }
        }
        if tr.t.len() < MIN_ROWS {
            return Err(bad(
                text.lines().count().max(1),
                format!(
                    "{} rows of data; a fit needs at least {MIN_ROWS}",
                    tr.t.len()
                ),
            ));
        }
        Ok(tr)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether the trace has no rows (never true for a parsed trace).
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// The arrivals as a rate profile: each interval's count over its length, held constant
    /// through the interval (a ramp of 10⁻⁶ of the interval joins one step to the next), so
    /// that the profile's integral over every interval is the count to 10⁻⁶. `None` without
    /// an `arrivals` column. Arrivals before the first sample time are spread over [0, t₀]
    /// when t₀ > 0; arrivals counted at t₀ = 0 over the first interval.
    pub fn arrival_points(&self) -> Option<Vec<(f64, f64)>> {
        let a = self.arrivals.as_ref()?;
        // Segments (start, end, rate): [0, t₀] when t₀ > 0, then each sampling interval.
        let mut segments = Vec::with_capacity(a.len());
        if self.t[0] > 0.0 {
            segments.push((0.0, self.t[0], a[0] / self.t[0]));
        }
        for i in 1..self.t.len() {
            let (ta, tb) = (self.t[i - 1], self.t[i]);
            // Arrivals counted at t₀ = 0 (the first peers, present in the first sample) arrive
            // over the first interval: a rate cannot carry an instant's arrivals.
            let at_zero = if i == 1 && self.t[0] <= 0.0 {
                a[0]
            } else {
                0.0
            };
            segments.push((ta, tb, (a[i] - a[i - 1] + at_zero) / (tb - ta)));
        }
        let mut points = Vec::with_capacity(2 * segments.len() + 1);
        for (j, &(start, end, rate)) in segments.iter().enumerate() {
            let begin = if j == 0 {
                start
            } else {
                start + 1e-6 * (end - start)
            };
            points.push((begin, rate));
            points.push((end, rate));
        }
        let (start, end, _) = segments[segments.len() - 1];
        points.push((end + 1e-6 * (end - start), 0.0));
        Some(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_reads_by_column_name_and_names_bad_cells() {
        let tr = Trace::from_text(
            "t,seeds,leechers,extra,completed\n0,0,0,9,0\n1,0,1,9,0\n2,1,2,9,1\n3,1,2,9,2\n4,2,1,9,3\n",
            "a.csv",
        )
        .unwrap();
        assert_eq!(tr.leechers, vec![0.0, 1.0, 2.0, 2.0, 1.0]);
        assert_eq!(
            tr.completions.as_deref(),
            Some(&[0.0, 0.0, 1.0, 2.0, 3.0][..])
        );
        assert!(tr.arrivals.is_none());
        let e = Trace::from_text("t,leechers,seeds\n0,0,0\n1,x,0\n", "b.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.csv:3: column `leechers`: \"x\" is not a number"
        );
        let e = Trace::from_text("t,leechers\n0,0\n", "c.csv").unwrap_err();
        assert!(
            e.to_string().starts_with("c.csv:1: no column `seeds`"),
            "{e}"
        );
        let e = Trace::from_text("t,leechers,seeds\n0,0,0\n2,1,0\n1,1,0\n", "d.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("d.csv:4: column `t`: 1 s does not come after"),
            "{e}"
        );
        let e = Trace::from_text(
            "t,leechers,seeds,arrivals\n0,0,0,0\n1,1,0,2\n2,1,0,1\n",
            "e.csv",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("e.csv:4: column `arrivals`: 1 is below"),
            "{e}"
        );
        let e = Trace::from_text("t,leechers,seeds\n0,0,0\n1,1,0\n", "f.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("2 rows of data; a fit needs at least 5"),
            "{e}"
        );
    }

    /// The step profile carries each interval's arrivals: its integral over [t_{i-1}, t_i]
    /// is the count to the ramp's 10⁻⁶ of the interval.
    #[test]
    fn trace_arrivals_become_a_step_profile_with_the_same_counts() {
        let tr = Trace::from_text(
            "t,leechers,seeds,arrivals\n0,0,0,0\n1,1,0,1\n2,1,0,1\n3,2,0,4\n4,1,0,4\n",
            "a.csv",
        )
        .unwrap();
        let points = tr.arrival_points().unwrap();
        assert!(points.windows(2).all(|w| w[1].0 > w[0].0), "{points:?}");
        let profile = crate::model::ArrivalProfile::Trace { points };
        for (i, want) in [1.0, 0.0, 3.0, 0.0].iter().enumerate() {
            let got = profile.cumulative(i as f64 + 1.0) - profile.cumulative(i as f64);
            assert!((got - want).abs() < 1e-5, "interval {i}: {got} vs {want}");
        }
    }
}
