//! Figures with plotters, drawn from the same records that go to CSV: SVG and PNG at
//! 1200 × 800, with DejaVu Sans embedded (registered once), so no system font or library is
//! needed at build or run time. Like every output, each file is staged under a temporary name
//! and renamed with the rest of the run.
//!
//! * `populations`: leechers and seeds per class over time;
//! * `rates`: server and peer upload rates and the arrival rate over time;
//! * `costs` (after `compare`): each architecture's monthly bill, stacked by part, with the
//!   net saving against client-server written above each bar.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Staged;
use crate::error::OutputError;
use crate::run::RunRecord;

/// Figure size in pixels.
pub const SIZE: (u32, u32) = (1200, 800);
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static FONT_READY: OnceLock<Result<(), String>> = OnceLock::new();

fn ensure_font() -> Result<(), String> {
    FONT_READY
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
        })
        .clone()
}

/// One line of a line chart.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

/// A line chart.
struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    lines: Vec<Line>,
}

/// One stacked bar: label, parts (legend name, value), note above the bar.
struct Bar {
    label: String,
    parts: Vec<(&'static str, f64)>,
    note: String,
}

/// A stacked bar chart.
struct BarChart {
    title: String,
    y_label: String,
    bars: Vec<Bar>,
}

fn colour(i: usize) -> RGBColor {
    // Colour-blind-safe (Okabe–Ito).
    const C: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(240, 228, 66),
        RGBColor(0, 0, 0),
    ];
    C[i % C.len()]
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &LineChart,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let pts = || c.lines.iter().flat_map(|l| l.points.iter());
    let x1 = pts()
        .map(|p| p.0)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let y1 = pts().map(|p| p.1).fold(0.0, f64::max).max(1e-12) * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT, 30))
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(100)
        .build_cartesian_2d(0.0..x1, 0.0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    for (i, l) in c.lines.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(
                l.points.iter().copied(),
                col.stroke_width(3),
            ))
            .map_err(e)?
            .label(&l.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 18))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &BarChart,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let n = c.bars.len().max(1) as f64;
    let top = c
        .bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.1.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1e-12)
        * 1.18;
    let labels: Vec<String> = c.bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT, 30))
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..n, 0.0..top)
        .map_err(e)?;
    let label_of = |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * c.bars.len() + 1)
        .x_label_formatter(&label_of)
        .y_desc(&c.y_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    // Parts that are zero in every bar stay out of the legend.
    let mut names: Vec<&'static str> = Vec::new();
    for b in &c.bars {
        for (name, v) in &b.parts {
            if *v > 0.0 && !names.contains(name) {
                names.push(name);
            }
        }
    }
    for (k, name) in names.iter().enumerate() {
        let col = colour(k);
        let rects: Vec<Rectangle<(f64, f64)>> = c
            .bars
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let below: f64 = b
                    .parts
                    .iter()
                    .take_while(|p| p.0 != *name)
                    .map(|p| p.1.max(0.0))
                    .sum();
                let v = b.parts.iter().find(|p| p.0 == *name)?.1.max(0.0);
                (v > 0.0).then(|| {
                    Rectangle::new(
                        [(i as f64 + 0.2, below), (i as f64 + 0.8, below + v)],
                        col.filled(),
                    )
                })
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(e)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], col.filled()));
    }
    let notes = c.bars.iter().enumerate().map(|(i, b)| {
        let total: f64 = b.parts.iter().map(|p| p.1.max(0.0)).sum();
        Text::new(
            b.note.clone(),
            (i as f64 + 0.22, total + top * 0.03),
            (FONT, 18),
        )
    });
    chart.draw_series(notes).map_err(e)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 18))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// A figure to draw on any backend.
enum Figure<'a> {
    Lines(&'a LineChart),
    Bars(&'a BarChart),
}

impl Figure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        match self {
            Self::Lines(c) => draw_lines(root, c),
            Self::Bars(c) => draw_bars(root, c),
        }
    }
}

/// Stage `<name>.svg` and `<name>.png` of a figure in `dir`.
fn stage_both(dir: &Path, name: &str, fig: Figure) -> Result<Vec<Staged>, OutputError> {
    let fail = |path: &Path, reason: String| OutputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(reason),
    };
    let svg_path = dir.join(format!("{name}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        fig.draw(&root).map_err(|r| fail(&svg_path, r))?;
    }
    let svg_staged = Staged::write(&svg_path, |w| {
        std::io::Write::write_all(w, svg.as_bytes()).map_err(|source| OutputError::Io {
            path: svg_path.clone(),
            source,
        })
    })?;
    let png_path = dir.join(format!("{name}.png"));
    let png_staged = Staged::render(&png_path, |tmp| {
        let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
        fig.draw(&root).map_err(|r| fail(&png_path, r))
    })?;
    Ok(vec![svg_staged, png_staged])
}

/// Seconds → a readable time unit for an axis spanning `horizon`.
fn time_unit(horizon: f64) -> (f64, &'static str) {
    if horizon <= 2.0 * 3600.0 {
        (60.0, "minutes")
    } else if horizon <= 3.0 * 86_400.0 {
        (3600.0, "hours")
    } else {
        (86_400.0, "days")
    }
}

/// Stage the figures of a run (and of `compare`, when the record holds costs).
pub fn stage_plots(dir: &Path, rec: &RunRecord) -> Result<Vec<Staged>, OutputError> {
    ensure_font().map_err(|reason| OutputError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(reason),
    })?;
    let col = |name: &str| rec.columns.iter().position(|c| c == name);
    let horizon = rec.rows.last().map_or(1.0, |r| r[0]);
    let (div, unit) = time_unit(horizon);
    let series = |i: usize, scale: f64| -> Vec<(f64, f64)> {
        rec.rows
            .iter()
            .map(|r| (r[0] / div, r[i] * scale))
            .collect()
    };
    let scenario = &rec.summary.scenario;

    let mut pop = Vec::new();
    for c in &rec.summary.classes {
        for (kind, label) in [("leechers", "leechers"), ("seeds", "seeds")] {
            if let Some(i) = col(&format!("{kind}.{}", c.name)) {
                let name = if rec.summary.classes.len() == 1 {
                    label.to_string()
                } else {
                    format!("{label} ({})", c.name)
                };
                pop.push(Line {
                    name,
                    points: series(i, 1.0),
                });
            }
        }
    }
    let populations = LineChart {
        title: format!("{scenario}: peers in the swarm"),
        x_label: format!("time ({unit})"),
        y_label: "peers".into(),
        lines: pop,
    };
    let peak_rate = rec.rows.iter().map(|r| r[3].max(r[4])).fold(0.0, f64::max);
    let (rscale, runit) = if peak_rate >= 1e9 {
        (1e-9, "Gbit/s")
    } else {
        (1e-6, "Mbit/s")
    };
    let mut rate_lines = Vec::new();
    for (name, label) in [
        ("server_rate", "server upload"),
        ("peer_rate", "peers' upload"),
    ] {
        if let Some(i) = col(name) {
            rate_lines.push(Line {
                name: label.into(),
                points: series(i, rscale),
            });
        }
    }
    let rates = LineChart {
        title: format!("{scenario}: who delivers the bytes"),
        x_label: format!("time ({unit})"),
        y_label: format!("upload rate ({runit})"),
        lines: rate_lines,
    };
    let mut staged = stage_both(dir, "populations", Figure::Lines(&populations))?;
    staged.extend(stage_both(dir, "rates", Figure::Lines(&rates))?);

    if let Some(costs) = &rec.summary.costs {
        let bars: Vec<Bar> = ["client_server", "cdn", "p2p", "hybrid"]
            .iter()
            .filter_map(|k| costs.get(k))
            .map(|r| Bar {
                label: r.architecture.replace('_', "-"),
                parts: vec![
                    ("transit", r.transit_usd),
                    ("egress", r.egress_usd),
                    ("capacity", r.capacity_usd),
                    ("CDN", r.cdn_usd),
                    ("paid to peers", r.payments_usd),
                    ("tracker", r.tracker_usd),
                ],
                note: format!("net {:+.1} %", 100.0 * r.net_saving),
            })
            .collect();
        let chart = BarChart {
            title: format!("{scenario}: provider's cost per month (net saving vs client-server)"),
            y_label: "US dollars per month".into(),
            bars,
        };
        staged.extend(stage_both(dir, "costs", Figure::Bars(&chart))?);
    }
    Ok(staged)
}
