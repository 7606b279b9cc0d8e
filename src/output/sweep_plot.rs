//! Figures and `index.html` of a finished sweep, drawn from `sweep.csv` and `sweep.json` in
//! one streaming pass (memory does not grow with the number of points: only the rows a figure
//! shows are kept).
//!
//! * `savings-<key>` for each of the first three swept parameters: the saving of the CDN,
//!   p2p and hybrid against client-server, gross (dashed) and net of payments (solid), in
//!   per cent. On a grid the other parameters sit at their middle values (said in the axis
//!   label); on a zip every point is shown; random and Latin-hypercube samples are a scatter
//!   of net savings (at most about 4000 points, every k-th).
//! * `savings-vs-cdn-<key>`: the same against serving every byte from the CDN (net savings:
//!   client-server, p2p, hybrid).
//! * `heatmap` (a grid over two or more parameters): the p2p net saving over the first two
//!   parameters, a diverging colour bar centred on 0, failed points grey.
//! * `participation` (a swept `incentive.*` parameter): the share of peers who share, with
//!   the provider's p2p bill and the payments on a second axis, and the provider's best
//!   price marked when the swept key is `incentive.price`.

use std::path::Path;

use super::html::{stage_index, Page, Table};
use super::plot::{fmt_sig, stage_both, Figure, Heatmap, Line, LineChart, Stroke};
use super::Staged;
use crate::error::OutputError;
use crate::sweep::Manifest;

/// Savings columns: (column, legend, colour, stroke).
const SAVINGS: [(&str, &str, usize, Stroke); 7] = [
    ("cdn.net_saving", "CDN", 1, Stroke::Solid),
    ("p2p.gross_saving", "p2p, gross", 0, Stroke::Dashed),
    ("p2p.net_saving", "p2p, net of payments", 0, Stroke::Solid),
    ("hybrid.gross_saving", "hybrid, gross", 2, Stroke::Dashed),
    (
        "hybrid.net_saving",
        "hybrid, net of payments",
        2,
        Stroke::Solid,
    ),
    (
        "wireless.gross_saving",
        "femtocells, gross",
        4,
        Stroke::Dashed,
    ),
    (
        "wireless.net_saving",
        "femtocells, net of payments",
        4,
        Stroke::Solid,
    ),
];
/// The wireless heatmap column (when the p2p one is empty).
const HEAT_WIRELESS: &str = "wireless.net_saving";

/// Net savings against the CDN: (column, legend, colour). Client-server against the CDN is
/// derived from `cdn.net_saving` (s): 1 - 1 / (1 - s).
const VS_CDN: [(&str, &str, usize); 3] = [
    ("cdn.net_saving", "client-server", 3),
    ("p2p.net_saving_vs_cdn", "p2p, net of payments", 0),
    ("hybrid.net_saving_vs_cdn", "hybrid, net of payments", 2),
];

/// Other columns a figure uses.
const PARTICIPATION: &str = "participation";
const PROVIDER_P2P: &str = "p2p.provider_usd";
const PAYMENTS: &str = "payments_usd";
const HEAT: &str = "p2p.net_saving";

/// The heatmap keeps at most this many cells along each axis (every k-th value), so that
/// the SVG stays small (a 1000 × 1000 grid would be 10^6 rectangles).
const HEAT_CELLS: u64 = 150;

/// Step along each of the first two grid axes for the heatmap.
fn heat_steps(sizes: &[u64]) -> [u64; 2] {
    let step = |n: u64| n.div_ceil(HEAT_CELLS).max(1);
    [step(sizes[0]), step(sizes.get(1).copied().unwrap_or(1))]
}

/// Parameters that get a savings figure.
const MAX_SAVINGS_FIGURES: usize = 3;
/// Scatter figures keep about this many points.
const SCATTER_POINTS: u64 = 4000;

/// A kept row: the parameter values and the outputs the figures use (`NaN` = empty).
#[derive(Debug, Clone)]
struct Kept {
    params: Vec<f64>,
    savings: [f64; SAVINGS.len()],
    vs_cdn: [f64; 3],
    participation: f64,
    provider: f64,
    payments: f64,
}

/// Running min / max of one output column.
#[derive(Debug, Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
    count: u64,
}

/// What one pass over `sweep.csv` keeps.
struct Scan {
    /// Rows of each savings / participation slice, by parameter.
    slices: Vec<Vec<Kept>>,
    /// Heatmap cells `[i0][i1]`.
    heat: Option<Vec<Vec<Option<f64>>>>,
    /// Per output column: name and its range.
    ranges: Vec<(String, Option<Range>)>,
    /// Rows per status.
    statuses: Vec<(String, u64)>,
    /// Best p2p net saving: value, point, parameter texts.
    best: Option<(f64, String, Vec<String>)>,
    /// The heatmap and the best point are the femtocells' net saving (a wireless sweep).
    wireless: bool,
    rows: u64,
}

fn bad(path: &Path, line: u64, reason: impl Into<String>) -> OutputError {
    OutputError::Malformed {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Read `dir/sweep.json`.
fn manifest(dir: &Path) -> Result<Manifest, OutputError> {
    let path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&path).map_err(|source| OutputError::Io {
        path: path.clone(),
        source,
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|source| OutputError::Json {
        path: path.clone(),
        source,
    })?;
    if !m.complete || m.shard.is_some() {
        return Err(OutputError::NotResults {
            path: dir.to_path_buf(),
            reason: "the sweep is not complete (finish it with `peerfluid sweep FILE --resume`, \
                     or join shards with `peerfluid merge DIR`)"
                .into(),
        });
    }
    Ok(m)
}

fn is_grid(m: &Manifest) -> bool {
    m.mode == "grid"
}

fn is_sample(m: &Manifest) -> bool {
    m.mode == "random" || m.mode == "lhs"
}

/// How many parameters get a savings / participation figure.
fn figure_params(m: &Manifest) -> usize {
    if m.mode == "zip" {
        1
    } else {
        m.parameters.len().min(MAX_SAVINGS_FIGURES)
    }
}

fn scan(dir: &Path, m: &Manifest) -> Result<Scan, OutputError> {
    let path = dir.join("sweep.csv");
    let csv_err = |source| OutputError::Csv {
        path: path.clone(),
        source,
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&path)
        .map_err(csv_err)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    let np = m.parameters.len();
    for (i, p) in m.parameters.iter().enumerate() {
        if header.get(i + 1) != Some(&p.key) {
            return Err(bad(
                &path,
                1,
                format!("column {} is not '{}'", i + 2, p.key),
            ));
        }
    }
    let status_col = np + 1;
    if header.get(status_col).map(String::as_str) != Some("status") {
        return Err(bad(&path, 1, "no 'status' column after the parameters"));
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let savings_cols: Vec<Option<usize>> = SAVINGS.iter().map(|s| col(s.0)).collect();
    let vs_cdn_cols: Vec<Option<usize>> = VS_CDN.iter().map(|s| col(s.0)).collect();
    let (c_part, c_prov, c_pay, c_heat) = (
        col(PARTICIPATION),
        col(PROVIDER_P2P),
        col(PAYMENTS),
        col(HEAT),
    );
    let c_heat_w = col(HEAT_WIRELESS);
    let mut wireless = false;

    // Grid: sizes, strides (first parameter slowest) and middle indices.
    let sizes: Vec<u64> = m
        .parameters
        .iter()
        .map(|p| p.values.as_ref().map_or(1, |v| v.len().max(1) as u64))
        .collect();
    let mut strides = vec![1u64; np];
    for p in (0..np.saturating_sub(1)).rev() {
        strides[p] = strides[p + 1] * sizes[p + 1];
    }
    let mids: Vec<u64> = sizes.iter().map(|n| n / 2).collect();
    let grid = is_grid(m);
    let nfig = figure_params(m);
    let stride = if is_sample(m) || m.mode == "zip" {
        m.points.div_ceil(SCATTER_POINTS).max(1)
    } else {
        1
    };
    let heat_step = heat_steps(&sizes);
    let mut heat = (grid && np >= 2).then(|| {
        vec![
            vec![None; sizes[1].div_ceil(heat_step[1]) as usize];
            sizes[0].div_ceil(heat_step[0]) as usize
        ]
    });

    let mut slices: Vec<Vec<Kept>> = vec![Vec::new(); nfig];
    let mut ranges: Vec<(String, Option<Range>)> = header[status_col + 1..]
        .iter()
        .map(|h| (h.clone(), None))
        .collect();
    let mut statuses: Vec<(String, u64)> = Vec::new();
    let mut best: Option<(f64, String, Vec<String>)> = None;
    let mut rows = 0u64;
    let mut rec = ::csv::StringRecord::new();
    let mut idx = vec![0u64; np];
    while reader.read_record(&mut rec).map_err(csv_err)? {
        rows += 1;
        let line = rows + 1;
        let point: u64 = rec
            .get(0)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad(&path, line, "the point number is not an integer"))?;
        let num = |i: Option<usize>| -> f64 {
            i.and_then(|i| rec.get(i))
                .and_then(|c| c.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let status = rec.get(status_col).unwrap_or("");
        match statuses.iter_mut().find(|s| s.0 == status) {
            Some(s) => s.1 += 1,
            None => statuses.push((status.to_string(), 1)),
        }
        for (k, (_, r)) in ranges.iter_mut().enumerate() {
            let v = num(Some(status_col + 1 + k));
            if v.is_finite() {
                let e = r.get_or_insert(Range {
                    min: v,
                    max: v,
                    count: 0,
                });
                e.min = e.min.min(v);
                e.max = e.max.max(v);
                e.count += 1;
            }
        }
        let mut heat_v = num(c_heat);
        if !heat_v.is_finite() {
            heat_v = num(c_heat_w);
            wireless |= heat_v.is_finite();
        }
        if heat_v.is_finite() && best.as_ref().is_none_or(|b| heat_v > b.0) {
            best = Some((
                heat_v,
                point.to_string(),
                (1..=np)
                    .map(|i| rec.get(i).unwrap_or("").to_string())
                    .collect(),
            ));
        }
        if grid {
            for p in 0..np {
                idx[p] = (point / strides[p]) % sizes[p];
            }
        }
        let at_mid = |skip: &[usize]| (0..np).all(|q| skip.contains(&q) || idx[q] == mids[q]);
        let keep_for = |p: usize| {
            if grid {
                at_mid(&[p])
            } else {
                point.is_multiple_of(stride)
            }
        };
        let wanted: Vec<usize> = (0..nfig).filter(|&p| keep_for(p)).collect();
        let heat_cell = heat.is_some()
            && at_mid(&[0, 1])
            && idx[0].is_multiple_of(heat_step[0])
            && idx[1].is_multiple_of(heat_step[1]);
        if wanted.is_empty() && !heat_cell {
            continue;
        }
        let params: Vec<f64> = (1..=np).map(|i| num(Some(i))).collect();
        if heat_cell {
            if let Some(h) = heat.as_mut() {
                h[(idx[0] / heat_step[0]) as usize][(idx[1] / heat_step[1]) as usize] =
                    heat_v.is_finite().then_some(heat_v);
            }
        }
        if !wanted.is_empty() {
            let mut savings = [f64::NAN; SAVINGS.len()];
            for (s, c) in savings.iter_mut().zip(&savings_cols) {
                *s = num(*c);
            }
            let mut vs_cdn = [f64::NAN; 3];
            for (s, c) in vs_cdn.iter_mut().zip(&vs_cdn_cols) {
                *s = num(*c);
            }
            vs_cdn[0] = 1.0 - 1.0 / (1.0 - vs_cdn[0]);
            let kept = Kept {
                params,
                savings,
                vs_cdn,
                participation: num(c_part),
                provider: num(c_prov),
                payments: num(c_pay),
            };
            for p in wanted {
                slices[p].push(kept.clone());
            }
        }
    }
    if rows != m.rows {
        return Err(bad(
            &path,
            rows + 1,
            format!("{rows} rows, but sweep.json says {}", m.rows),
        ));
    }
    Ok(Scan {
        wireless,
        slices,
        heat,
        ranges,
        statuses,
        best,
        rows,
    })
}

/// `key (unit)` for an axis.
fn axis(key: &str, unit: &str) -> String {
    if unit.is_empty() {
        key.to_string()
    } else {
        format!("{key} ({unit})")
    }
}

/// The y label of a savings figure whose lowest value (a fraction) is `lowest`.
fn clip_label(lowest: f64) -> String {
    if lowest < -1.0 {
        "saving (%; below -100 % drawn in the grey band)".into()
    } else {
        "saving (%)".into()
    }
}

/// A swept value in human units ("1/h" for 2.78e-4 /s), from the manifest's base unit; a
/// bare number when the unit names no dimension.
fn human(v: f64, unit: &str) -> String {
    use crate::units::{format_quantity, Dimension as D};
    const ALL: [D; 12] = [
        D::Time,
        D::DataSize,
        D::BitRate,
        D::EventRate,
        D::Money,
        D::MoneyPerGb,
        D::MoneyPerMbpsMonth,
        D::MoneyPerKwh,
        D::Power,
        D::EnergyPerGb,
        D::CarbonIntensity,
        D::Dimensionless,
    ];
    match ALL
        .iter()
        .find(|d| !unit.is_empty() && d.base_unit() == unit)
    {
        Some(d) => format_quantity(v, *d),
        None => fmt_sig(v),
    }
}

/// File-name form of a key path.
pub fn slug(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// "other parameters at their middle values" note for parameter `p` of a grid.
fn slice_note(m: &Manifest, skip: &[usize]) -> String {
    let parts: Vec<String> = m
        .parameters
        .iter()
        .enumerate()
        .filter(|(q, _)| !skip.contains(q))
        .filter_map(|(_, q)| {
            let v = q.values.as_ref()?;
            let mid = v.get(v.len() / 2)?;
            Some(format!("{} = {}", q.key, human(*mid, &q.unit)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; at {}", parts.join(", "))
    }
}

/// One savings figure: lines in per cent against a parameter.
struct Savings<'a> {
    title: String,
    x_label: &'a str,
    lines: Vec<Line>,
    x_log: bool,
    stem: String,
    caption: String,
}

/// Stage a savings figure (clamped at ±100 %, the y label saying when values fall below) and
/// record it for the page.
fn stage_savings(
    dir: &Path,
    f: Savings,
    staged: &mut Vec<Staged>,
    figures: &mut Vec<(String, String)>,
) -> Result<(), OutputError> {
    let lowest = f
        .lines
        .iter()
        .flat_map(|l| l.points.iter())
        .map(|p| p.1 / 100.0)
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let chart = LineChart {
        title: f.title,
        x_label: f.x_label.to_string(),
        y_label: clip_label(lowest),
        lines: f.lines,
        x_log: f.x_log,
        y_clamp: Some((-100.0, 100.0)),
        markers: true,
        ..LineChart::default()
    };
    staged.extend(stage_both(dir, &f.stem, Figure::Lines(&chart))?);
    figures.push((f.stem, f.caption));
    Ok(())
}

/// Stage the figures and `index.html` of the finished sweep in `dir`.
pub fn stage_sweep_plots(dir: &Path) -> Result<Vec<Staged>, OutputError> {
    let m = manifest(dir)?;
    let scan = scan(dir, &m)?;
    let mut staged = Vec::new();
    let mut figures: Vec<(String, String)> = Vec::new();
    let scatter = is_sample(&m);
    let grid = is_grid(&m);
    for (p, rows) in scan.slices.iter().enumerate() {
        let info = &m.parameters[p];
        let note = if grid {
            slice_note(&m, &[p])
        } else {
            String::new()
        };
        let x_label = format!("{}{note}", axis(&info.key, &info.unit));
        let x_log = info.scale == "log";
        let mut lines = Vec::new();
        for (k, (_, name, colour, stroke)) in SAVINGS.iter().enumerate() {
            if (scatter && *stroke == Stroke::Dashed)
                || rows.iter().all(|r| !r.savings[k].is_finite())
            {
                continue;
            }
            lines.push(Line {
                name: (*name).into(),
                points: rows
                    .iter()
                    .map(|r| (r.params[p], 100.0 * r.savings[k]))
                    .collect(),
                colour: *colour,
                stroke: if scatter { Stroke::Dots } else { *stroke },
            });
        }
        stage_savings(
            dir,
            Savings {
                title: if scan.wireless {
                    format!("{}: saving vs macro towers only", m.scenario)
                } else {
                    format!("{}: saving vs client-server", m.scenario)
                },
                x_label: &x_label,
                lines,
                x_log,
                stem: format!("savings-{}", slug(&info.key)),
                caption: format!(
                    "Gross (dashed) and net (solid) saving of each architecture against \
                     client-server, against {}{note}",
                    info.key
                ),
            },
            &mut staged,
            &mut figures,
        )?;

        let lines: Vec<Line> = VS_CDN
            .iter()
            .enumerate()
            .filter(|(k, _)| rows.iter().any(|r| r.vs_cdn[*k].is_finite()))
            .map(|(k, (_, name, colour))| Line {
                name: (*name).into(),
                points: rows
                    .iter()
                    .map(|r| (r.params[p], 100.0 * r.vs_cdn[k]))
                    .collect(),
                colour: *colour,
                stroke: if scatter { Stroke::Dots } else { Stroke::Solid },
            })
            .collect();
        if !lines.is_empty() {
            stage_savings(
                dir,
                Savings {
                    title: format!("{}: saving vs the CDN", m.scenario),
                    x_label: &x_label,
                    lines,
                    x_log,
                    stem: format!("savings-vs-cdn-{}", slug(&info.key)),
                    caption: format!(
                        "Net saving of each architecture against serving every byte from the CDN, \
                     against {}{note}",
                        info.key
                    ),
                },
                &mut staged,
                &mut figures,
            )?;
        }

        let has_part = rows.iter().any(|r| r.participation.is_finite());
        if info.key.starts_with("incentive.") && has_part {
            let marker = (info.key == "incentive.price")
                .then_some(m.best_payment_per_gb)
                .flatten()
                .map(|b| (b, format!("provider's best price {} $/GB", fmt_sig(b))));
            let stroke = if scatter { Stroke::Dots } else { Stroke::Solid };
            let series = |f: fn(&Kept) -> f64, scale: f64| -> Vec<(f64, f64)> {
                rows.iter().map(|r| (r.params[p], scale * f(r))).collect()
            };
            let chart = LineChart {
                title: format!("{}: who shares, and what the provider pays", m.scenario),
                x_label,
                y_label: "peers who share (%)".into(),
                lines: vec![Line {
                    name: "participation (left)".into(),
                    points: series(|r| r.participation, 100.0),
                    colour: 0,
                    stroke,
                }],
                x_log,
                marker,
                secondary: Some((
                    "US dollars per month".into(),
                    vec![
                        Line {
                            name: "provider's p2p bill (right)".into(),
                            points: series(|r| r.provider, 1.0),
                            colour: 1,
                            stroke,
                        },
                        Line {
                            name: "paid to peers (right)".into(),
                            points: series(|r| r.payments, 1.0),
                            colour: 2,
                            stroke,
                        },
                    ],
                )),
                ..LineChart::default()
            };
            let stem = if p == 0 {
                "participation".to_string()
            } else {
                format!("participation-{}", slug(&info.key))
            };
            staged.extend(stage_both(dir, &stem, Figure::Lines(&chart))?);
            figures.push((
                stem,
                format!(
                    "Share of peers who share their upload, the provider's p2p bill and the \
                     payments, against {}{note}",
                    info.key
                ),
            ));
        }
    }
    if let Some(cells) = &scan.heat {
        let (a, b) = (&m.parameters[0], &m.parameters[1]);
        let sizes = [cells.len() as u64, cells.first().map_or(0, Vec::len) as u64];
        let full = |v: &Option<Vec<f64>>| v.as_ref().map_or(1, |v| v.len() as u64);
        let step = heat_steps(&[full(&a.values), full(&b.values)]);
        let ticks = |v: &Option<Vec<f64>>, step: u64, unit: &str| -> Vec<String> {
            v.as_ref()
                .map(|v| {
                    v.iter()
                        .step_by(step as usize)
                        .map(|x| human(*x, unit))
                        .collect()
                })
                .unwrap_or_default()
        };
        debug_assert_eq!(sizes[0], full(&a.values).div_ceil(step[0]));
        let pct: Vec<Vec<Option<f64>>> = cells
            .iter()
            .map(|c| c.iter().map(|v| v.map(|v| 100.0 * v)).collect())
            .collect();
        let max_abs = pct
            .iter()
            .flatten()
            .flatten()
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        let note = slice_note(&m, &[0, 1]);
        let what = if scan.wireless {
            "femtocells' net saving vs macro only"
        } else {
            "p2p net saving vs client-server"
        };
        let h = Heatmap {
            title: format!("{}: {what}", m.scenario),
            x_label: format!("{}{note}", a.key),
            y_label: b.key.clone(),
            x_ticks: ticks(&a.values, step[0], &a.unit),
            y_ticks: ticks(&b.values, step[1], &b.unit),
            cells: pct,
            value_label: if scan.wireless {
                "femtocells' net saving (%)".into()
            } else {
                "p2p net saving (%)".into()
            },
            limit: if max_abs > 0.0 {
                max_abs.min(100.0)
            } else {
                1.0
            },
        };
        staged.extend(stage_both(dir, "heatmap", Figure::Heat(&h))?);
        figures.push((
            "heatmap".into(),
            format!(
                "{what} over {} and {}{note}; grey: no answer{}",
                a.key,
                b.key,
                if step[0] > 1 || step[1] > 1 {
                    format!(
                        "; every {}-th × {}-th value (at most {HEAT_CELLS} cells a side)",
                        step[0], step[1]
                    )
                } else {
                    String::new()
                }
            ),
        ));
    }
    staged.push(stage_index(dir, &page(&m, &scan, figures))?);
    Ok(staged)
}

fn page(m: &Manifest, scan: &Scan, figures: Vec<(String, String)>) -> Page {
    let mut params = Table {
        caption: "Swept parameters".into(),
        header: ["key", "unit", "scale", "from", "to", "values"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for p in &m.parameters {
        let (from, to, n) = match &p.values {
            Some(v) => (v.first().copied(), v.last().copied(), v.len().to_string()),
            None => (p.from, p.to, "sampled".into()),
        };
        let f = |x: Option<f64>| x.map_or_else(|| "-".into(), fmt_sig);
        params.rows.push(vec![
            p.key.clone(),
            p.unit.clone(),
            p.scale.clone(),
            f(from),
            f(to),
            n,
        ]);
    }
    let statuses = Table {
        caption: "Points by status".into(),
        header: vec!["status".into(), "points".into()],
        rows: scan
            .statuses
            .iter()
            .map(|(s, n)| vec![s.clone(), n.to_string()])
            .collect(),
    };
    let units = |name: &str| {
        m.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.unit.clone())
            .unwrap_or_default()
    };
    let outputs = Table {
        caption: "Outputs over all points".into(),
        header: ["column", "unit", "min", "max", "points with a value"]
            .map(String::from)
            .to_vec(),
        rows: scan
            .ranges
            .iter()
            .filter_map(|(name, r)| {
                let r = r.as_ref()?;
                Some(vec![
                    name.clone(),
                    units(name),
                    fmt_sig(r.min),
                    fmt_sig(r.max),
                    r.count.to_string(),
                ])
            })
            .collect(),
    };
    let mut tables = vec![params, statuses, outputs];
    if let Some((v, point, values)) = &scan.best {
        let mut header = vec!["point".to_string()];
        header.extend(m.parameters.iter().map(|p| p.key.clone()));
        header.push(
            if scan.wireless {
                "femtocells' net saving"
            } else {
                "p2p net saving"
            }
            .into(),
        );
        let mut row = vec![point.clone()];
        row.extend(values.iter().cloned());
        row.push(format!("{:+.1} %", 100.0 * v));
        tables.push(Table {
            caption: if scan.wireless {
                "Where femtocells save most (net of payments and devices, vs macro only)".into()
            } else {
                "Where p2p saves most (net of payments, vs client-server)".into()
            },
            header,
            rows: vec![row],
        });
    }
    Page {
        title: format!("{} sweep", m.scenario),
        description: format!(
            "{} — {} points ({} mode, {} evaluation), {} rows; from {}.",
            m.description, m.points, m.mode, m.evaluate, scan.rows, m.source
        ),
        lead: Vec::new(),
        figures,
        tables,
        files: vec!["sweep.csv".into(), "sweep.json".into()],
        ..Page::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmaps_keep_at_most_150_cells_a_side() {
        assert_eq!(heat_steps(&[1000, 100]), [7, 1]);
        assert_eq!(heat_steps(&[150, 151]), [1, 2]);
        assert_eq!(heat_steps(&[3]), [1, 1]);
        assert!(1000u64.div_ceil(7) <= HEAT_CELLS);
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("peers.class.adsl.share"), "peers-class-adsl-share");
        assert_eq!(slug("incentive.price"), "incentive-price");
    }
}
