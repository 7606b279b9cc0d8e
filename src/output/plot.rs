//! Figures with plotters, SVG and PNG at 1200 × 800, with DejaVu Sans embedded (registered
//! once), so no system font or library is needed at build or run time. Like every output,
//! each file is staged under a temporary name and renamed with the rest of the run.
//!
//! Figures are drawn from the same data that goes to the files (`timeseries.csv`,
//! `summary.json`), so `peerfluid plot DIR` redraws them byte for byte from a results folder.
//!
//! * `populations`: leechers and seeds per class over time;
//! * `rates`: server and peer upload rates over time;
//! * `costs` (after `compare`): each architecture's monthly bill, stacked by part, with the
//!   net saving against client-server written above each bar;
//! * `stakeholders` (after `compare`): per architecture, the provider's bill, the peers' net
//!   cost and the social cost side by side, the social saving written above.
//!
//! The sweep figures (`sweep_plot`) use the chart types of this module.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use super::Staged;
use crate::error::OutputError;
use crate::run::RunRecord;

/// Figure size in pixels.
pub const SIZE: (u32, u32) = (1200, 800);
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static FONT_READY: OnceLock<Result<(), String>> = OnceLock::new();

/// Register the embedded font (once per process).
pub(crate) fn ensure_font(dir: &Path) -> Result<(), OutputError> {
    FONT_READY
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
        })
        .clone()
        .map_err(|reason| OutputError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(reason),
        })
}

/// The architectures in the order every table and figure shows them.
pub const ARCHITECTURES: [&str; 4] = ["client_server", "cdn", "p2p", "hybrid"];

/// A number with three significant digits, for tick labels and notes.
pub fn fmt_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e-4 -> 1e-4, 2.50e6 -> 2.5e6
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        };
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// A solid line.
    Solid,
    /// A dashed line.
    Dashed,
    /// Points only (scatter).
    Dots,
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend entry.
    pub name: String,
    /// (x, y) in axis units.
    pub points: Vec<(f64, f64)>,
    /// Index in the colour-blind-safe palette.
    pub colour: usize,
    /// Solid, dashed or dots.
    pub stroke: Stroke,
}

/// A line chart, optionally with a logarithmic x axis, a clamped y range, a vertical marker
/// and a secondary y axis.
#[derive(Debug, Clone, Default)]
pub struct LineChart {
    /// Caption.
    pub title: String,
    /// x axis label with its unit.
    pub x_label: String,
    /// y axis label with its unit.
    pub y_label: String,
    /// Lines on the primary axis.
    pub lines: Vec<Line>,
    /// Logarithmic x axis (points with x ≤ 0 are left out).
    pub x_log: bool,
    /// The x axis starts at 0 (time series).
    pub x_from_zero: bool,
    /// The y range is clamped to this. Values beyond are drawn in a grey band past the edge,
    /// marked "below …" / "above …" with the clamp value (issue 21: lines pinned on −100 % must
    /// stay readable).
    pub y_clamp: Option<(f64, f64)>,
    /// Mark every line with its own marker shape every few points (lines that lie on each
    /// other stay distinct).
    pub markers: bool,
    /// A vertical marker line at x with its legend text.
    pub marker: Option<(f64, String)>,
    /// Secondary y axis: label and lines.
    pub secondary: Option<(String, Vec<Line>)>,
    /// No legend (the panel beside it has it).
    pub no_legend: bool,
    /// A shaded x range with its label (the span a zoomed panel shows), in axis units.
    pub band: Option<(f64, f64, String)>,
}

/// One stacked bar: label, parts (legend name, value), note above the bar.
struct Bar {
    label: String,
    parts: Vec<(&'static str, f64)>,
    note: String,
}

/// A stacked bar chart.
pub(crate) struct BarChart {
    title: String,
    y_label: String,
    bars: Vec<Bar>,
}

/// Bars in groups (one group per label, one bar per series, values may be negative).
pub(crate) struct GroupedBars {
    title: String,
    y_label: String,
    groups: Vec<String>,
    series: Vec<&'static str>,
    /// values[group][series]
    values: Vec<Vec<f64>>,
    /// Note above each group.
    notes: Vec<String>,
}

/// A heatmap over two swept parameters with a colour bar; `None` cells (failed points) grey.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// Caption.
    pub title: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// Tick labels of the columns (one per x value).
    pub x_ticks: Vec<String>,
    /// Tick labels of the rows (one per y value).
    pub y_ticks: Vec<String>,
    /// `cells[ix][iy]`.
    pub cells: Vec<Vec<Option<f64>>>,
    /// Colour bar label.
    pub value_label: String,
    /// Values are clamped to ± this for colouring (the bar's ends read "≤" and "≥").
    pub limit: f64,
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
        RGBColor(0, 0, 0),
        RGBColor(240, 228, 66),
    ];
    C[i % C.len()]
}

/// Diverging map for v in [-1, 1]: vermillion (negative), near white (0), blue (positive).
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let (end, t) = if v < 0.0 {
        ((213.0, 94.0, 0.0), -v)
    } else {
        ((0.0, 114.0, 178.0), v)
    };
    let mid = (247.0, 247.0, 247.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(mid.0, end.0), mix(mid.1, end.1), mix(mid.2, end.2))
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Min and max of the finite values, or `None`.
fn extent(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.filter(|x| x.is_finite()).fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((a, b)) => Some((a.min(x), b.max(x))),
    })
}

/// A range with some room around the data; never empty.
fn padded(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let (lo, hi) = if from_zero {
        (lo.min(0.0), hi.max(0.0))
    } else {
        (lo, hi)
    };
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let pad = 0.06 * (hi - lo);
    (
        if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    )
}

fn draw_line_series<'a, DB: DrawingBackend + 'a, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    l: &Line,
    map: impl Fn(&(f64, f64)) -> Option<(f64, f64)>,
    markers: bool,
) -> DrawResult
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let col = colour(l.colour);
    let pts: Vec<(f64, f64)> = l.points.iter().filter_map(map).collect();
    let anno = match l.stroke {
        Stroke::Solid => chart
            .draw_series(LineSeries::new(pts, col.stroke_width(3)))
            .map_err(err)?,
        Stroke::Dashed => chart
            .draw_series(DashedLineSeries::new(pts, 12, 8, col.stroke_width(3)))
            .map_err(err)?,
        Stroke::Dots => chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, col.filled())))
            .map_err(err)?,
    };
    // One element type for every stroke: two dashes and a dot, the unused parts transparent.
    let (a, b, dot) = match l.stroke {
        Stroke::Solid => ((0, 12), (12, 24), false),
        Stroke::Dashed => ((0, 9), (15, 24), false),
        Stroke::Dots => ((12, 12), (12, 12), true),
    };
    let line = if dot {
        TRANSPARENT.stroke_width(0)
    } else {
        col.stroke_width(3)
    };
    let fill = if dot {
        col.filled()
    } else {
        TRANSPARENT.filled()
    };
    // With markers, the legend shows the line's own marker (as `draw_markers` draws it); one
    // element type for every case, the shapes not drawn left transparent.
    let shape = markers.then_some(l.colour % 4);
    let pick = |k: usize| {
        if shape == Some(k) {
            col.filled()
        } else {
            TRANSPARENT.filled()
        }
    };
    let (dot_fill, c0, c1, c3) = (
        if shape.is_some() {
            TRANSPARENT.filled()
        } else {
            fill
        },
        pick(0),
        pick(1),
        pick(3),
    );
    let cross = if shape == Some(2) {
        col.stroke_width(3)
    } else {
        TRANSPARENT.stroke_width(0)
    };
    anno.label(&l.name).legend(move |(x, y)| {
        EmptyElement::at((x, y))
            + PathElement::new(vec![(a.0, 0), (a.1, 0)], line)
            + PathElement::new(vec![(b.0, 0), (b.1, 0)], line)
            + Circle::new((12, 0), 4, dot_fill)
            + Circle::new((12, 0), 6, c0)
            + TriangleMarker::new((12, 0), 8, c1)
            + Cross::new((12, 0), 7, cross)
            + Rectangle::new([(7, -5), (17, 5)], c3)
    });
    Ok(())
}

/// A line's markers: its own shape (circle, triangle, cross, square by colour index) on about
/// a dozen of its points, the points shifted by the colour index so that markers of lines
/// lying on each other do not cover one another.
fn draw_markers<'a, DB: DrawingBackend + 'a, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    l: &Line,
    map: impl Fn(&(f64, f64)) -> Option<(f64, f64)>,
) -> DrawResult
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let col = colour(l.colour);
    let pts: Vec<(f64, f64)> = l.points.iter().filter_map(map).collect();
    let every = pts.len().div_ceil(12).max(1);
    let picked = pts
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| (i + l.colour * every / 4).is_multiple_of(every))
        .map(|(_, p)| p);
    let style = col.filled();
    let stroke = col.stroke_width(3);
    match l.colour % 4 {
        0 => chart.draw_series(picked.map(|p| Circle::new(p, 6, style))),
        1 => chart.draw_series(picked.map(|p| TriangleMarker::new(p, 8, style))),
        2 => chart.draw_series(picked.map(|p| Cross::new(p, 7, stroke))),
        _ => chart.draw_series(
            picked.map(|p| EmptyElement::at(p) + Rectangle::new([(-5, -5), (5, 5)], style)),
        ),
    }
    .map_err(err)?;
    Ok(())
}

fn series_labels<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 18))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    plot_lines(root, c)?;
    root.present().map_err(err)
}

/// The transient beside the whole run: `zoom` on the left, `whole` (with the zoomed span
/// shaded) on the right, under one title.
fn draw_zoomed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    zoom: &LineChart,
    whole: &LineChart,
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let titled = root
        .margin(12, 0, 0, 0)
        .titled(title, (FONT, 28))
        .map_err(err)?;
    let (left, right) = titled.split_horizontally(SIZE.0 / 2);
    plot_lines(&left, zoom)?;
    plot_lines(&right, whole)?;
    root.present().map_err(err)
}

/// A line chart drawn on `root` (not filled, not presented).
fn plot_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult {
    let tx = |x: f64| -> Option<f64> {
        if c.x_log {
            (x > 0.0).then(|| x.log10())
        } else {
            Some(x)
        }
    };
    // Values past a clamp are drawn in a band beyond it: 4 % of the clamped range past the
    // edge, inside a band of 8 %.
    let outside = |lo_side: bool| -> bool {
        c.y_clamp.is_some_and(|(lo, hi)| {
            c.lines
                .iter()
                .flat_map(|l| l.points.iter())
                .any(|p| p.1.is_finite() && if lo_side { p.1 < lo } else { p.1 > hi })
        })
    };
    let (below, above) = (outside(true), outside(false));
    let ty = |y: f64| match c.y_clamp {
        Some((lo, hi)) => {
            let w = hi - lo;
            if y < lo {
                lo - 0.04 * w
            } else if y > hi {
                hi + 0.04 * w
            } else {
                y
            }
        }
        None => y,
    };
    let map = |p: &(f64, f64)| -> Option<(f64, f64)> {
        (p.0.is_finite() && p.1.is_finite()).then_some(())?;
        Some((tx(p.0)?, ty(p.1)))
    };
    let all_lines = || {
        c.lines
            .iter()
            .chain(c.secondary.iter().flat_map(|s| s.1.iter()))
    };
    let xs = extent(
        all_lines()
            .flat_map(|l| l.points.iter())
            .filter_map(|p| tx(p.0))
            .chain(c.marker.iter().filter_map(|m| tx(m.0))),
    )
    .unwrap_or((0.0, 1.0));
    let (x0, x1) = if c.x_from_zero {
        (xs.0.min(0.0), xs.1.max(f64::MIN_POSITIVE))
    } else if xs.1 > xs.0 {
        xs
    } else {
        padded(xs.0, xs.1, false)
    };
    let ys = extent(
        c.lines
            .iter()
            .flat_map(|l| l.points.iter())
            .map(|p| ty(p.1)),
    )
    .unwrap_or((0.0, 1.0));
    let (mut y0, mut y1) = padded(ys.0, ys.1, true);
    // The bands past a clamp are 8 % of the clamped range wide.
    let bands = c.y_clamp.map(|(lo, hi)| {
        let w = hi - lo;
        ((lo - 0.08 * w, lo), (hi, hi + 0.08 * w))
    });
    if let Some(((b0, _), (_, b1))) = bands {
        if below {
            y0 = y0.min(b0);
        }
        if above {
            y1 = y1.max(b1);
        }
    }
    let log_label = |v: &f64| fmt_sig(10f64.powf(*v));
    // Tick positions are computed in floating point: a tick at "zero" can come out as 1e-17.
    let lin_label = |v: &f64| fmt_sig(if v.abs() < 1e-14 { 0.0 } else { *v });
    let x_fmt: &dyn Fn(&f64) -> String = if c.x_log { &log_label } else { &lin_label };
    let chart = ChartBuilder::on(root)
        .caption(&c.title, (FONT, 28))
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(100)
        .right_y_label_area_size(if c.secondary.is_some() { 100 } else { 0 })
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    // The secondary coordinates are set before the mesh is drawn: plotters hands the right
    // label area to them, so the primary labels stay on the left.
    let (s0, s1) = c
        .secondary
        .as_ref()
        .and_then(|(_, lines)| extent(lines.iter().flat_map(|l| l.points.iter()).map(|p| p.1)))
        .map_or((0.0, 1.0), |(a, b)| padded(a, b, true));
    let mut chart = chart.set_secondary_coord(x0..x1, s0..s1);
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&lin_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    if y0 < 0.0 && y1 > 0.0 {
        chart
            .draw_series(LineSeries::new(
                [(x0, 0.0), (x1, 0.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
    }
    if let Some((a, b, label)) = &c.band {
        if let (Some(a), Some(b)) = (tx(*a), tx(*b)) {
            let shade = RGBColor(255, 236, 179);
            chart
                .draw_series([Rectangle::new([(a, y0), (b, y1)], shade.filled())])
                .map_err(err)?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 7), (x + 18, y + 7)], shade.filled())
                });
        }
    }
    if let (Some(((b0, lo), (hi, b1))), Some((clo, chi))) = (bands, c.y_clamp) {
        let grey = RGBColor(225, 225, 225);
        for (show, a, b, text) in [
            (
                below,
                b0.max(y0),
                lo,
                format!("below {} (drawn in this band)", fmt_sig(clo)),
            ),
            (
                above,
                hi,
                b1.min(y1),
                format!("above {} (drawn in this band)", fmt_sig(chi)),
            ),
        ] {
            if show {
                chart
                    .draw_series([Rectangle::new([(x0, a), (x1, b)], grey.filled())])
                    .map_err(err)?
                    .label(text)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 7), (x + 18, y + 7)], grey.filled())
                    });
            }
        }
    }
    for l in &c.lines {
        draw_line_series(&mut chart, l, map, c.markers)?;
        if c.markers {
            draw_markers(&mut chart, l, map)?;
        }
    }
    if let Some((x, name)) = &c.marker {
        if let Some(xm) = tx(*x) {
            let grey = RGBColor(80, 80, 80);
            chart
                .draw_series(DashedLineSeries::new(
                    [(xm, y0), (xm, y1)],
                    6,
                    6,
                    grey.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x + 10, y - 8), (x + 10, y + 8)], grey.stroke_width(2))
                });
        }
    }
    if let Some((label, lines)) = &c.secondary {
        chart
            .configure_secondary_axes()
            .y_desc(label)
            .y_label_formatter(&lin_label)
            .label_style((FONT, 18))
            .axis_desc_style((FONT, 20))
            .draw()
            .map_err(err)?;
        for l in lines {
            let col = colour(l.colour);
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .filter_map(|p| Some((tx(p.0)?, p.1)))
                .collect();
            let anno = match l.stroke {
                Stroke::Dots => chart
                    .draw_secondary_series(pts.into_iter().map(|p| Circle::new(p, 3, col.filled())))
                    .map_err(err)?,
                Stroke::Dashed => chart
                    .draw_secondary_series(DashedLineSeries::new(pts, 12, 8, col.stroke_width(3)))
                    .map_err(err)?,
                Stroke::Solid => chart
                    .draw_secondary_series(LineSeries::new(pts, col.stroke_width(3)))
                    .map_err(err)?,
            };
            anno.label(&l.name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3))
            });
        }
    }
    if !c.no_legend {
        series_labels(&mut chart)?;
    }
    Ok(())
}

/// A chart with one category per unit on x (labels centred at 0.5, 1.5, ...) and a plain y
/// axis, its mesh drawn: the frame of the bar charts.
fn category_chart<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    labels: &[String],
    y: (f64, f64),
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let n = labels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 28))
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..n, y.0..y.1)
        .map_err(err)?;
    let label_of = |x: &f64| category(labels, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * labels.len() + 1)
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v| fmt_sig(*v))
        .y_desc(y_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &BarChart) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let top = c
        .bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.1.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1e-12)
        * 1.18;
    let labels: Vec<String> = c.bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = category_chart(root, &c.title, &c.y_label, &labels, (0.0, top))?;
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
            .map_err(err)?
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
    chart.draw_series(notes).map_err(err)?;
    series_labels(&mut chart)?;
    root.present().map_err(err)
}

/// The label of the category whose centre is at `x` (categories at 0.5, 1.5, ...).
fn category(labels: &[String], x: f64) -> String {
    let i = x.floor();
    if i >= 0.0 && (x - i - 0.5).abs() < 1e-6 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn draw_grouped<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &GroupedBars) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let n = c.groups.len().max(1) as f64;
    let (lo, hi) = extent(c.values.iter().flatten().copied()).unwrap_or((0.0, 1.0));
    let span = (hi.max(0.0) - lo.min(0.0)).max(1e-12);
    let (y0, y1) = (
        if lo < 0.0 { lo - 0.08 * span } else { 0.0 },
        hi.max(0.0) + 0.18 * span,
    );
    let mut chart = category_chart(root, &c.title, &c.y_label, &c.groups, (y0, y1))?;
    let k = c.series.len().max(1) as f64;
    let w = 0.7 / k;
    for (s, name) in c.series.iter().enumerate() {
        let col = colour(s);
        let rects: Vec<Rectangle<(f64, f64)>> = c
            .values
            .iter()
            .enumerate()
            .map(|(g, vals)| {
                let x = g as f64 + 0.15 + s as f64 * w;
                let v = vals.get(s).copied().unwrap_or(0.0);
                Rectangle::new(
                    [(x, 0.0_f64.min(v)), (x + w * 0.92, 0.0_f64.max(v))],
                    col.filled(),
                )
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], col.filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (n, 0.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
    let notes = c.notes.iter().enumerate().map(|(g, note)| {
        let top = c.values[g].iter().copied().fold(0.0, f64::max);
        Text::new(
            note.clone(),
            (g as f64 + 0.15, top + 0.04 * span),
            (FONT, 18),
        )
    });
    chart.draw_series(notes).map_err(err)?;
    series_labels(&mut chart)?;
    root.present().map_err(err)
}

fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let titled = root
        .margin(18, 0, 0, 0)
        .titled(&h.title, (FONT, 28))
        .map_err(err)?;
    let (main, bar) = titled.split_horizontally(SIZE.0 - 190);
    let nx = h.x_ticks.len().max(1);
    let ny = h.y_ticks.len().max(1);
    let mut chart = ChartBuilder::on(&main)
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(110)
        .build_cartesian_2d(-0.5..nx as f64 - 0.5, -0.5..ny as f64 - 0.5)
        .map_err(err)?;
    let tick = |ticks: &[String], v: f64| -> String {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            ticks.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let xf = |v: &f64| tick(&h.x_ticks, *v);
    let yf = |v: &f64| tick(&h.y_ticks, *v);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(nx.min(8))
        .y_labels(ny.min(10))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc(&h.x_label)
        .y_desc(&h.y_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .draw()
        .map_err(err)?;
    let limit = h.limit.max(f64::MIN_POSITIVE);
    let grey = RGBColor(190, 190, 190);
    let cells = h.cells.iter().enumerate().flat_map(|(ix, col)| {
        col.iter().enumerate().map(move |(iy, v)| {
            let fill = match v {
                Some(v) if v.is_finite() => diverging(v / limit),
                _ => grey,
            };
            Rectangle::new(
                [
                    (ix as f64 - 0.5, iy as f64 - 0.5),
                    (ix as f64 + 0.5, iy as f64 + 0.5),
                ],
                fill.filled(),
            )
        })
    });
    chart.draw_series(cells).map_err(err)?;

    // Colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(24)
        .margin_bottom(88)
        .margin_right(12)
        .y_label_area_size(0)
        .right_y_label_area_size(110)
        .build_cartesian_2d(0.0..1.0, -limit..limit)
        .map_err(err)?;
    let end = |v: &f64| {
        let s = fmt_sig(*v);
        if *v >= limit * (1.0 - 1e-9) {
            format!("≥ {s}")
        } else if *v <= -limit * (1.0 - 1e-9) {
            format!("≤ {s}")
        } else {
            s
        }
    };
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(9)
        .y_label_formatter(&end)
        .y_desc(&h.value_label)
        .label_style((FONT, 18))
        .axis_desc_style((FONT, 20))
        .draw()
        .map_err(err)?;
    const STEPS: usize = 200;
    let strips = (0..STEPS).map(|i| {
        let a = -limit + 2.0 * limit * i as f64 / STEPS as f64;
        let b = -limit + 2.0 * limit * (i + 1) as f64 / STEPS as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            diverging((a + b) / (2.0 * limit)).filled(),
        )
    });
    cb.draw_series(strips).map_err(err)?;
    root.present().map_err(err)
}

/// A figure to draw on any backend.
pub(crate) enum Figure<'a> {
    /// A line chart.
    Lines(&'a LineChart),
    /// A heatmap.
    Heat(&'a Heatmap),
    /// A stacked bar chart.
    Bars(&'a BarChart),
    /// Grouped bars.
    Grouped(&'a GroupedBars),
    /// Title, the transient, the whole run.
    Zoomed(&'a str, &'a LineChart, &'a LineChart),
}

impl Figure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        match self {
            Self::Lines(c) => draw_lines(root, c),
            Self::Heat(h) => draw_heatmap(root, h),
            Self::Bars(c) => draw_bars(root, c),
            Self::Grouped(c) => draw_grouped(root, c),
            Self::Zoomed(t, z, w) => draw_zoomed(root, t, z, w),
        }
    }
}

/// Stage `<name>.svg` and `<name>.png` of a figure in `dir`.
pub(crate) fn stage_both(dir: &Path, name: &str, fig: Figure) -> Result<Vec<Staged>, OutputError> {
    ensure_font(dir)?;
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

/// What the figures of a run are drawn from: the columns and rows of `timeseries.csv` and
/// the document of `summary.json`. Built from a fresh [`RunRecord`] or read back from a
/// results folder, so both give the same figures.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// Column names of `timeseries.csv`.
    pub columns: Vec<String>,
    /// Its rows.
    pub rows: Vec<Vec<f64>>,
    /// `summary.json`.
    pub summary: Value,
}

impl RunFigures {
    /// From a record in memory.
    pub fn from_record(rec: &RunRecord) -> Result<Self, OutputError> {
        let summary = serde_json::to_value(&rec.summary).map_err(|source| OutputError::Json {
            path: "summary.json".into(),
            source,
        })?;
        Ok(Self {
            columns: rec.columns.clone(),
            rows: rec.rows.clone(),
            summary,
        })
    }

    /// From `dir/timeseries.csv` and `dir/summary.json`.
    pub fn read(dir: &Path) -> Result<Self, OutputError> {
        let ts = dir.join("timeseries.csv");
        let csv_err = |source| OutputError::Csv {
            path: ts.clone(),
            source,
        };
        let mut reader = ::csv::Reader::from_path(&ts).map_err(csv_err)?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(csv_err)?;
            let row = rec
                .iter()
                .map(|c| c.parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|e| OutputError::Malformed {
                    path: ts.clone(),
                    line: i as u64 + 2,
                    reason: format!("not a number: {e}"),
                })?;
            rows.push(row);
        }
        let sp = dir.join("summary.json");
        let text = std::fs::read_to_string(&sp).map_err(|source| OutputError::Io {
            path: sp.clone(),
            source,
        })?;
        let summary = serde_json::from_str(&text).map_err(|source| OutputError::Json {
            path: sp.clone(),
            source,
        })?;
        Ok(Self {
            columns,
            rows,
            summary,
        })
    }

    /// The scenario name.
    pub fn scenario(&self) -> &str {
        self.summary["scenario"].as_str().unwrap_or("run")
    }

    /// The cost rows of `compare`, in [`ARCHITECTURES`] order (empty after `run`).
    pub fn costs(&self) -> Vec<(&'static str, &Value)> {
        ARCHITECTURES
            .iter()
            .filter_map(|a| Some((*a, self.summary.get("costs")?.get(*a)?)))
            .collect()
    }
}

/// A number field of a JSON object (0 when missing).
pub(crate) fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The figure names of a run folder: `populations`, `rates`, and after `compare` `costs`
/// and `stakeholders`.
pub fn run_figure_names(f: &RunFigures) -> Vec<&'static str> {
    if f.summary.get("wireless").is_some() {
        return vec!["rates", "adoption", "costs", "energy"];
    }
    let mut v = vec!["populations", "rates"];
    if !f.costs().is_empty() {
        v.extend(["costs", "stakeholders", "energy"]);
    }
    v
}

/// The parts of an architecture's energy (`EnergyUse` fields) drawn as stacked bars.
const ENERGY_PARTS: [(&str, &str); 6] = [
    ("origin_kwh", "origin"),
    ("cdn_kwh", "CDN"),
    ("network_kwh", "network"),
    ("peers_kwh", "peers' devices"),
    ("macro_kwh", "macro towers"),
    ("femtocells_kwh", "femtocells"),
];

/// Stacked bars of each architecture's energy per month, CO2 above each bar.
fn energy_chart(scenario: &str, rows: &[(String, &Value)]) -> BarChart {
    BarChart {
        title: format!("{scenario}: energy per month (kg CO2 above each bar)"),
        y_label: "kWh per month".into(),
        bars: rows
            .iter()
            .map(|(label, r)| Bar {
                label: label.clone(),
                parts: ENERGY_PARTS
                    .iter()
                    .map(|(k, name)| (*name, num(&r["energy"], k)))
                    .filter(|(_, v)| *v > 0.0)
                    .collect(),
                note: format!("{} kg CO2", fmt_sig(num(&r["energy"], "co2_kg"))),
            })
            .collect(),
    }
}

/// The figures of a wireless run: the day's rates, the adoption curve, the monthly bill and
/// the energy of both architectures.
fn stage_wireless(dir: &Path, f: &RunFigures) -> Result<Vec<Staged>, OutputError> {
    let col = |name: &str| f.columns.iter().position(|c| c == name);
    let scenario = f.scenario();
    let w = &f.summary["wireless"];
    let peak = f
        .rows
        .iter()
        .map(|r| r.get(1).copied().unwrap_or(0.0))
        .fold(0.0, f64::max);
    let (scale, unit) = rate_unit(peak);
    let mut lines = Vec::new();
    for (k, (name, label, stroke)) in [
        ("demand_rate", "users' demand", Stroke::Dashed),
        ("macro_rate", "macro towers", Stroke::Solid),
        ("femto_rate", "femtocells", Stroke::Solid),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(i) = col(name) {
            lines.push(Line {
                name: label.into(),
                points: f
                    .rows
                    .iter()
                    .map(|r| (r[0] / 3600.0, r[i] * scale))
                    .collect(),
                colour: k,
                stroke,
            });
        }
    }
    let rates = LineChart {
        title: format!(
            "{scenario}: who carries the traffic over a day ({} towers instead of {})",
            num(w, "towers"),
            num(w, "towers_macro_only")
        ),
        x_label: "time of day (hours)".into(),
        y_label: format!("rate ({unit})"),
        lines,
        x_from_zero: true,
        ..LineChart::default()
    };
    let mut staged = stage_both(dir, "rates", Figure::Lines(&rates))?;

    let points: Vec<&Value> = w["adoption"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    // The curve stops at the share of users who may host (issue 21): beyond it nobody can.
    let potential = num(w, "hosts_potential");
    let cap = if potential.is_finite() && potential > 0.0 {
        potential
    } else {
        1.0
    };
    let series = |key: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| num(p, "hosts") <= cap * (1.0 + 1e-12))
            .map(|p| (100.0 * num(p, "hosts"), num(p, key)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    };
    let shapley = series("shapley_per_host_usd");
    let adoption = LineChart {
        title: format!(
            "{scenario}: the operator's saving as more users host (net of given-away femtocells)"
        ),
        x_label: format!(
            "users hosting a femtocell (%; up to the {} % who may host)",
            fmt_sig(100.0 * cap)
        ),
        y_label: "operator's saving (US dollars per month)".into(),
        lines: vec![
            Line {
                name: "whole towers".into(),
                points: series("operator_saving_usd"),
                colour: 0,
                stroke: Stroke::Solid,
            },
            Line {
                name: "towers as a real number (fluid)".into(),
                points: series("operator_saving_fluid_usd"),
                colour: 1,
                stroke: Stroke::Dashed,
            },
        ],
        x_from_zero: true,
        marker: Some((
            100.0 * num(w, "hosts"),
            format!("this scenario: {} % host", fmt_sig(100.0 * num(w, "hosts"))),
        )),
        secondary: (!shapley.is_empty()).then(|| {
            (
                "a host's fluid Shapley value ($ per month)".to_string(),
                vec![Line {
                    name: "Shapley value per host (right)".into(),
                    points: shapley,
                    colour: 2,
                    stroke: Stroke::Dots,
                }],
            )
        }),
        ..LineChart::default()
    };
    staged.extend(stage_both(dir, "adoption", Figure::Lines(&adoption))?);

    let rows: Vec<(String, &Value)> = w["costs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["architecture"].as_str().unwrap_or("").replace('_', "-"),
                        r,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let costs = BarChart {
        title: format!("{scenario}: the operator's cost per month (net saving vs macro only)"),
        y_label: "US dollars per month".into(),
        bars: rows
            .iter()
            .map(|(label, r)| Bar {
                label: label.clone(),
                parts: vec![
                    ("towers", num(r, "towers_usd")),
                    ("femtocells given away", num(r, "devices_usd")),
                    ("paid to hosts", num(r, "payments_usd")),
                ],
                note: format!("net {:+.1} %", 100.0 * num(r, "net_saving")),
            })
            .collect(),
    };
    staged.extend(stage_both(dir, "costs", Figure::Bars(&costs))?);
    staged.extend(stage_both(
        dir,
        "energy",
        Figure::Bars(&energy_chart(scenario, &rows)),
    )?);
    Ok(staged)
}

/// Stage the figures of a run (and of `compare`, when the summary holds costs).
pub fn stage_plots(dir: &Path, f: &RunFigures) -> Result<Vec<Staged>, OutputError> {
    if f.summary.get("wireless").is_some() {
        return stage_wireless(dir, f);
    }
    let col = |name: &str| f.columns.iter().position(|c| c == name);
    let horizon = f.rows.last().map_or(1.0, |r| r[0]);
    let (div, unit) = time_unit(horizon);
    let series = |i: usize, scale: f64| -> Vec<(f64, f64)> {
        f.rows.iter().map(|r| (r[0] / div, r[i] * scale)).collect()
    };
    let scenario = f.scenario();
    let classes: Vec<&str> = f.summary["classes"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();

    let mut pop = Vec::new();
    let video = col("viewers").is_some();
    let kinds: &[&str] = if video {
        &["viewers"]
    } else {
        &["leechers", "seeds"]
    };
    for (k, c) in classes.iter().enumerate() {
        for (j, kind) in kinds.iter().copied().enumerate() {
            if let Some(i) = col(&format!("{kind}.{c}")) {
                let name = if classes.len() == 1 {
                    kind.to_string()
                } else {
                    format!("{kind} ({c})")
                };
                pop.push(Line {
                    name,
                    points: series(i, 1.0),
                    colour: 2 * k + j,
                    stroke: if j == 0 {
                        Stroke::Solid
                    } else {
                        Stroke::Dashed
                    },
                });
            }
        }
    }
    let populations = LineChart {
        title: if video {
            format!("{scenario}: viewers")
        } else {
            format!("{scenario}: peers in the swarm")
        },
        x_label: format!("time ({unit})"),
        y_label: "peers".into(),
        lines: pop,
        x_from_zero: true,
        ..LineChart::default()
    };
    let rate_cols: Vec<usize> = ["server_rate", "peer_rate"]
        .iter()
        .filter_map(|n| col(n))
        .collect();
    let peak_rate = f
        .rows
        .iter()
        .flat_map(|r| rate_cols.iter().map(move |&i| r[i]))
        .fold(0.0, f64::max);
    let (rscale, runit) = rate_unit(peak_rate);
    let mut rate_lines = Vec::new();
    for (k, (name, label)) in [
        ("server_rate", "server upload"),
        ("peer_rate", "peers' upload"),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(i) = col(name) {
            rate_lines.push(Line {
                name: label.into(),
                points: series(i, rscale),
                colour: k,
                stroke: Stroke::Solid,
            });
        }
    }
    let rates = LineChart {
        title: format!("{scenario}: who delivers the bytes"),
        x_label: format!("time ({unit})"),
        y_label: format!("upload rate ({runit})"),
        lines: rate_lines,
        x_from_zero: true,
        ..LineChart::default()
    };
    let key_cols: Vec<usize> = ["leechers", "seeds", "viewers", "server_rate", "peer_rate"]
        .iter()
        .filter_map(|n| col(n))
        .collect();
    let window = transient_window(f, &key_cols);
    let mut staged = Vec::new();
    for (name, chart) in [("populations", &populations), ("rates", &rates)] {
        match window {
            Some(w) => {
                let (zoom, whole) = zoom_pair(chart, w, horizon, div);
                let title = chart.title.clone();
                let fig = Figure::Zoomed(&title, &zoom, &whole);
                staged.extend(stage_both(dir, name, fig)?);
            }
            None => staged.extend(stage_both(dir, name, Figure::Lines(chart))?),
        }
    }

    let costs = f.costs();
    if !costs.is_empty() {
        let bars: Vec<Bar> = costs
            .iter()
            .map(|(arch, r)| Bar {
                label: arch.replace('_', "-"),
                parts: vec![
                    ("transit", num(r, "transit_usd")),
                    ("egress", num(r, "egress_usd")),
                    ("capacity", num(r, "capacity_usd")),
                    ("CDN", num(r, "cdn_usd")),
                    ("paid to peers", num(r, "payments_usd")),
                    ("tracker", num(r, "tracker_usd")),
                ],
                // The bill itself on every bar: a $2 bar next to a $22,759 one is a sliver.
                note: format!(
                    "{}, net {:+.1} %",
                    crate::cost::verdict::money(num(r, "provider_usd")),
                    100.0 * num(r, "net_saving")
                ),
            })
            .collect();
        let chart = BarChart {
            title: format!("{scenario}: provider's cost per month (net saving vs client-server)"),
            y_label: "US dollars per month".into(),
            bars,
        };
        staged.extend(stage_both(dir, "costs", Figure::Bars(&chart))?);

        let social_cs = costs
            .iter()
            .find(|c| c.0 == "client_server")
            .map(|c| num(c.1, "social_usd"));
        let grouped = GroupedBars {
            title: format!("{scenario}: who pays, per month (social saving vs client-server)"),
            y_label: "US dollars per month (negative: a gain)".into(),
            groups: costs.iter().map(|c| c.0.replace('_', "-")).collect(),
            series: vec!["provider", "peers (net)", "social (sum)"],
            values: costs
                .iter()
                .map(|c| {
                    vec![
                        num(c.1, "provider_usd"),
                        num(c.1, "peers_usd"),
                        num(c.1, "social_usd"),
                    ]
                })
                .collect(),
            notes: costs
                .iter()
                .map(|c| match social_cs {
                    Some(s) if s > 0.0 => {
                        format!(
                            "social {:+.1} %",
                            100.0 * (1.0 - num(c.1, "social_usd") / s)
                        )
                    }
                    _ => String::new(),
                })
                .collect(),
        };
        staged.extend(stage_both(dir, "stakeholders", Figure::Grouped(&grouped))?);
        let rows: Vec<(String, &Value)> = costs
            .iter()
            .map(|(arch, r)| (arch.replace('_', "-"), *r))
            .collect();
        staged.extend(stage_both(
            dir,
            "energy",
            Figure::Bars(&energy_chart(scenario, &rows)),
        )?);
    }
    Ok(staged)
}

/// Spans a zoomed panel may show, seconds: the first that holds three times the latest peak.
const ZOOM_SPANS: [f64; 12] = [
    600.0, 1200.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0, 86_400.0, 172_800.0,
    345_600.0, 604_800.0,
];

/// The span of a flash crowd's or a trace's transient, seconds, when it is at most a quarter
/// of the run (else one panel shows it well): three times the latest time at which a key
/// series (`cols`) peaks, rounded up to a [`ZOOM_SPANS`] value.
fn transient_window(f: &RunFigures, cols: &[usize]) -> Option<f64> {
    let profile = f.summary["arrival_profile"].as_str()?;
    if !matches!(profile, "flash-crowd" | "trace") {
        return None;
    }
    let horizon = f.rows.last()?[0];
    let latest_peak = cols
        .iter()
        .filter_map(|&c| {
            f.rows
                .iter()
                .max_by(|a, b| a[c].total_cmp(&b[c]))
                .map(|r| r[0])
        })
        .fold(0.0, f64::max);
    let span = ZOOM_SPANS
        .iter()
        .copied()
        .find(|&s| s >= 3.0 * latest_peak)?;
    (span <= 0.25 * horizon).then_some(span)
}

/// The transient panel (the first `span` seconds, in its own time unit) and the whole run
/// (the span shaded) of a time-series chart whose x is in `div` seconds.
fn zoom_pair(c: &LineChart, span: f64, horizon: f64, div: f64) -> (LineChart, LineChart) {
    let (zdiv, zunit) = time_unit(span);
    let shown = crate::units::format_quantity(span, crate::units::Dimension::Time);
    let zoom_lines = c
        .lines
        .iter()
        .map(|l| Line {
            points: l
                .points
                .iter()
                .filter(|p| p.0 * div <= span * (1.0 + 1e-9))
                .map(|p| (p.0 * div / zdiv, p.1))
                .collect(),
            ..l.clone()
        })
        .collect();
    let zoom = LineChart {
        title: format!("the first {shown}"),
        x_label: format!("time ({zunit})"),
        lines: zoom_lines,
        no_legend: true,
        ..c.clone()
    };
    let whole = LineChart {
        title: format!(
            "the whole run, {}",
            crate::units::format_quantity(horizon, crate::units::Dimension::Time)
        ),
        band: Some((0.0, span / div, format!("the first {shown}, at left"))),
        ..c.clone()
    };
    (zoom, whole)
}

/// bit/s → Mbit/s or Gbit/s for an axis whose largest rate is `peak`: (scale, unit).
fn rate_unit(peak: f64) -> (f64, &'static str) {
    if peak >= 1e9 {
        (1e-9, "Gbit/s")
    } else {
        (1e-6, "Mbit/s")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(fmt_sig(0.0), "0");
        assert_eq!(fmt_sig(1234.5678), "1235");
        assert_eq!(fmt_sig(12.345), "12.3");
        assert_eq!(fmt_sig(0.012345), "0.0123");
        assert_eq!(fmt_sig(-2.5), "-2.5");
        assert_eq!(fmt_sig(1e-4), "1e-4");
        assert_eq!(fmt_sig(2.5e7), "2.5e7");
        assert_eq!(fmt_sig(100.0), "100");
    }

    #[test]
    fn diverging_ends_and_middle() {
        assert_eq!(diverging(0.0), RGBColor(247, 247, 247));
        assert_eq!(diverging(1.0), RGBColor(0, 114, 178));
        assert_eq!(diverging(-5.0), RGBColor(213, 94, 0));
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded(3.0, 3.0, false), (2.7, 3.3));
        assert_eq!(padded(0.0, 0.0, true), (-1.0, 1.0));
        let (lo, hi) = padded(0.0, 10.0, true);
        assert_eq!(lo.to_bits(), 0f64.to_bits());
        assert!(hi > 10.0);
    }
}
