//! `index.html` of a results folder: its figures (SVG shown, PNG linked), its summary tables
//! and links to its data files. One self-contained page with no script and no external
//! resource, deterministic for the same data (no clock, no absolute path).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::plot::{fmt_sig, num, run_figure_names, RunFigures};
use super::Staged;
use crate::error::OutputError;

/// A table of the page.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Caption above the table.
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
}

/// The content of an `index.html`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Page title (the scenario).
    pub title: String,
    /// One paragraph under the title.
    pub description: String,
    /// The verdict, shown first in the key-results box (one line each; may be empty).
    pub lead: Vec<String>,
    /// Tables right under the key results, before the figures (the costs, the inputs).
    pub answer: Vec<Table>,
    /// Lines under those tables (how the month was billed, the price book).
    pub notes: Vec<String>,
    /// Figures: file stem (`<stem>.svg`, `<stem>.png`) and caption.
    pub figures: Vec<(String, String)>,
    /// Tables after the figures.
    pub tables: Vec<Table>,
    /// Data files of the folder, linked at the end.
    pub files: Vec<String>,
}

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Write `table` as HTML; `id` names it for the browser test (`costs`, `inputs`).
fn render_table(h: &mut String, table: &Table, id: Option<&str>) {
    let id = id.map_or_else(String::new, |i| format!(" id=\"{i}\""));
    let _ = writeln!(h, "<table{id}>\n<caption>{}</caption>", esc(&table.caption));
    h.push_str("<tr>");
    for c in &table.header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for row in &table.rows {
        h.push_str("<tr>");
        for c in row {
            // Numbers (with their unit, sign or dollar) are right-aligned.
            let numeric = c
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_digit() || "+-−$".contains(ch));
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(h, "<td{class}>{}</td>", esc(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// The page as HTML text: title, the key-results box, the answer tables and their notes, the
/// figures, the other tables, the data files.
pub fn render(page: &Page) -> String {
    let mut h = String::new();
    let t = esc(&page.title);
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t} · peerfluid</title>\n<style>\n\
         body {{ font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 0.8em auto; max-width: 1240px; color: #222; font-size: 15px; }}\n\
         h1 {{ font-size: 1.5em; margin: 0.2em 0; }} p.description {{ margin: 0.2em 0 0.6em; color: #444; }}\n\
         figure {{ margin: 1.5em 0; }} figure img {{ width: 100%; max-width: 1200px; border: 1px solid #ddd; }}\n\
         figcaption {{ color: #555; }}\n\
         table {{ border-collapse: collapse; margin: 0.6em 0 1.2em; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}\n\
         th {{ background: #f2f2f2; }} caption {{ text-align: left; font-weight: bold; padding: 0.3em 0; }}\n\
         .lead {{ background: #f4f8fb; border-left: 6px solid #2b6ca3; padding: 0.3em 1em; }}\n\
         .lead h2 {{ font-size: 1.1em; margin: 0.4em 0; color: #2b6ca3; }} .lead p {{ margin: 0.35em 0; }}\n\
         p.note {{ color: #444; margin: 0.3em 0; font-size: 0.93em; }}\n\
         </style>\n</head>\n<body>\n<h1>{t}</h1>\n<p class=\"description\">{}</p>\n",
        esc(&page.description)
    );
    if !page.lead.is_empty() {
        h.push_str("<div class=\"lead\" id=\"verdict\">\n<h2>Key results</h2>\n");
        for line in &page.lead {
            let _ = writeln!(h, "<p>{}</p>", esc(line));
        }
        h.push_str("</div>\n");
    }
    for table in &page.answer {
        let id = if table.caption.starts_with("Monthly costs") {
            Some("costs")
        } else if table.caption.starts_with("Inputs") {
            Some("inputs")
        } else {
            None
        };
        render_table(&mut h, table, id);
    }
    for line in &page.notes {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(line));
    }
    for (stem, caption) in &page.figures {
        let s = esc(stem);
        let _ = writeln!(
            h,
            "<figure>\n<img src=\"{s}.svg\" alt=\"{c}\">\n<figcaption>{c} \
             (<a href=\"{s}.svg\">SVG</a>, <a href=\"{s}.png\">PNG</a>)</figcaption>\n</figure>",
            c = esc(caption)
        );
    }
    for table in &page.tables {
        render_table(&mut h, table, None);
    }
    if !page.files.is_empty() {
        h.push_str("<p>Data: ");
        let links: Vec<String> = page
            .files
            .iter()
            .map(|f| format!("<a href=\"{0}\">{0}</a>", esc(f)))
            .collect();
        h.push_str(&links.join(", "));
        h.push_str(" (columns and keys: results/README.md of peerfluid).</p>\n");
    }
    h.push_str("<p><small>Written by peerfluid; <code>peerfluid plot DIR</code> redraws this page and its figures from the data files.</small></p>\n</body>\n</html>\n");
    h
}

/// Stage `dir/index.html` for `page`.
pub fn stage_index(dir: &Path, page: &Page) -> Result<Staged, OutputError> {
    let path = dir.join("index.html");
    let text = render(page);
    Staged::write(&path, |w| {
        std::io::Write::write_all(w, text.as_bytes()).map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })
    })
}

fn pct(v: f64) -> String {
    format!("{:+.1} %", 100.0 * v)
}

/// Dollars as the CLI writes them (`$2,093`, `−$1,159`, `$36.19`).
fn money(v: f64) -> String {
    let body = crate::cost::verdict::money(v);
    if v < 0.0 {
        format!("−{body}")
    } else {
        body
    }
}

/// A share as a percentage with as many decimals as it takes not to round 99.995 % up to
/// 100 % (or 0.004 % down to 0), at most four.
fn share(v: f64) -> String {
    let p = 100.0 * v;
    let mut d = 1;
    while d < 4 {
        let shown: f64 = format!("{p:.d$}").parse().unwrap_or(p);
        let rounds_to_end = (p < 100.0 && shown >= 100.0) || (p > 0.0 && shown <= 0.0);
        if !rounds_to_end {
            break;
        }
        d += 1;
    }
    format!("{p:.d$} %")
}

/// A count with thousands separators (`59,762`), cents-free.
fn count(v: f64) -> String {
    if v.abs() >= 100.0 {
        money(v).replacen('$', "", 1)
    } else {
        fmt_sig(v)
    }
}

/// A summary value in human units, by the unit its table row gives.
fn human(v: &Value, unit: &str) -> String {
    use crate::units::{format_quantity, Dimension};
    let Some(x) = v.as_f64() else {
        return match v {
            Value::String(t) => t.clone(),
            Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
            Value::Null => "–".into(),
            other => other.to_string(),
        };
    };
    match unit {
        "s" => format_quantity(x, Dimension::Time),
        "bit/s" => format_quantity(x, Dimension::BitRate),
        "Mbit/s" => format_quantity(x * 1e6, Dimension::BitRate),
        "share" => share(x),
        "$/month" => format!("{}/month", money(x)),
        "" => count(x),
        u => format!("{} {u}", count(x)),
    }
}

/// The page of a `run` or `compare` folder.
pub fn run_page(f: &RunFigures, plots: bool) -> Page {
    let s = &f.summary;
    let video = s.get("video").is_some_and(|v| !v.is_null());
    let wireless = s.get("wireless").is_some();
    let captions = |stem: &str| {
        match stem {
        "rates" if wireless => "Users' demand, macro towers and femtocells over a day",
        "costs" if wireless => "Operator's monthly cost: towers, femtocells given away, payments to hosts",
        "adoption" => "Operator's saving net of given-away femtocells as adoption grows; a host's Shapley value (right)",
        "energy" => "Energy per month per architecture, stacked by part, CO2 above each bar (models/energy.md)",
        "populations" if video => "Viewers over time, per class",
        "populations" => "Leechers and seeds over time",
        "rates" => "Server and peers' upload over time",
        "costs" => "Provider's monthly bill per architecture, stacked by part",
        _ => "Provider, peers and social cost per architecture",
    }
    };
    let figures = if plots {
        run_figure_names(f)
            .into_iter()
            .map(|n| (n.to_string(), captions(n).to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let mut facts = Table {
        caption: "Summary (all keys in summary.json)".into(),
        header: vec!["quantity".into(), "value".into()],
        rows: Vec::new(),
    };
    let video_items: [(&str, &[&str], &str); 10] = [
        ("content", &["video", "kind"], ""),
        ("bitrate", &["video", "bitrate_bps"], "bit/s"),
        ("watch time", &["video", "watch_time_s"], "s"),
        ("mode (mean upload vs bitrate)", &["video", "mode"], ""),
        (
            "viewers at the reference rate (λT)",
            &["video", "steady_viewers"],
            "viewers",
        ),
        ("peak viewers", &["video", "peak_viewers"], "viewers"),
        (
            "server at the peak",
            &["video", "server_rate_at_peak_bps"],
            "bit/s",
        ),
        (
            "client-server at the peak",
            &["video", "client_server_rate_at_peak_bps"],
            "bit/s",
        ),
        (
            "P(everyone streams)",
            &["video", "universal_streaming_probability"],
            "",
        ),
        (
            "titles in surplus",
            &["video", "titles_in_surplus"],
            "titles",
        ),
    ];
    let push_items: [(&str, &[&str], &str); 5] = [
        ("push: devices", &["push", "devices"], ""),
        (
            "push: client-server time",
            &["push", "client_server_time_s"],
            "s",
        ),
        ("push: peer-assisted time", &["push", "p2p_time_s"], "s"),
        (
            "push: origin for the deadline, alone",
            &["push", "min_server_client_server_bps"],
            "bit/s",
        ),
        (
            "push: origin for the deadline, with peers",
            &["push", "min_server_p2p_bps"],
            "bit/s",
        ),
    ];
    let items: [(&str, &[&str], &str); 15] = [
        ("model", &["model"], ""),
        ("horizon", &["horizon_s"], "s"),
        ("arrival profile", &["arrival_profile"], ""),
        ("steady state regime", &["steady_state", "regime"], ""),
        ("steady leechers", &["steady_state", "leechers"], "peers"),
        ("steady seeds", &["steady_state", "seeds"], "peers"),
        ("download time", &["steady_state", "download_time_s"], "s"),
        ("downloads started", &["downloads", "arrived"], ""),
        ("downloads completed", &["downloads", "completed"], ""),
        // Only with `swarm.flash_crowd_bound` (absent keys are left out).
        (
            "no download completes before (flash-crowd bound F/s)",
            &["flash_crowd_bound_s"],
            "s",
        ),
        ("peak leechers", &["peak", "leechers"], "peers"),
        ("peak server upload", &["peak", "server_rate_bps"], "bit/s"),
        ("peak peers' upload", &["peak", "peer_rate_bps"], "bit/s"),
        ("bytes from peers", &["bytes", "peer_share"], "share"),
        ("solver", &["solver", "method"], ""),
    ];
    let wireless_items: [(&str, &[&str], &str); 12] = [
        ("users", &["wireless", "users"], ""),
        ("hosts (share of users)", &["wireless", "hosts"], "share"),
        (
            "would-be hosts who host",
            &["wireless", "participation"],
            "share",
        ),
        ("hosts are paid", &["wireless", "mechanism"], ""),
        (
            "busy-hour demand",
            &["wireless", "busy_demand_mbps"],
            "Mbit/s",
        ),
        (
            "busy-hour macro load",
            &["wireless", "busy_macro_mbps"],
            "Mbit/s",
        ),
        ("towers, macro only", &["wireless", "towers_macro_only"], ""),
        ("towers with femtocells", &["wireless", "towers"], ""),
        (
            "traffic carried by femtocells",
            &["wireless", "offload_share"],
            "share",
        ),
        (
            "a host's Shapley value",
            &["wireless", "shapley", "per_host_usd"],
            "$/month",
        ),
        (
            "a femtocell per month",
            &["wireless", "give_away_answer", "device_usd"],
            "$/month",
        ),
        (
            "first profitable adoption",
            &["wireless", "give_away_answer", "first_profitable_adoption"],
            "share",
        ),
    ];
    let file_items: &[(&str, &[&str], &str)] = if wireless {
        &wireless_items
    } else if video {
        &items[..3]
    } else {
        &items
    };
    for &(label, path, unit) in file_items
        .iter()
        .chain(if video { &video_items[..] } else { &[] })
        .filter(|(label, ..)| *label != "titles in surplus" || s["video"]["kind"] == "vod")
        .chain(&push_items)
    {
        let v = path.iter().try_fold(s, |v, k| v.get(*k));
        if let Some(v) = v {
            facts.rows.push(vec![label.into(), human(v, unit)]);
        }
    }
    let mut tables = Vec::new();
    let mut answer = Vec::new();
    if let Some(list) = s
        .get("locality")
        .and_then(|l| l.get("selections"))
        .and_then(Value::as_array)
    {
        let mut rows = Vec::new();
        for st in list {
            let label = st["selection"]["kind"].as_str().unwrap_or("-").to_string();
            let times: Vec<String> = st["rows"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|x| {
                            format!(
                                "{} {}",
                                x["name"].as_str().unwrap_or("-"),
                                crate::units::format_quantity(
                                    num(x, "download_time_s"),
                                    crate::units::Dimension::Time
                                )
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            rows.push(vec![
                label,
                share(num(&st["totals"], "inter_isp_share")),
                money(num(&st["totals"], "transit_usd_month")),
                times.join(", "),
            ]);
        }
        tables.push(Table {
            caption: "ISP locality: steady state per peer-selection rule".into(),
            header: [
                "selection",
                "inter-ISP share",
                "transit $/month",
                "download time per ISP",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }
    let costs = f.costs();
    let mut files = vec!["timeseries.csv".to_string(), "summary.json".to_string()];
    if let Some(list) = s["wireless"]["costs"].as_array() {
        let rows = list
            .iter()
            .map(|r| {
                vec![
                    r["architecture"].as_str().unwrap_or("-").replace('_', "-"),
                    fmt_sig(num(r, "towers")),
                    money(num(r, "operator_usd")),
                    money(num(r, "hosts_usd")),
                    money(num(r, "social_usd")),
                    pct(num(r, "net_saving")),
                    count(num(&r["energy"], "total_kwh")),
                    count(num(&r["energy"], "co2_kg")),
                ]
            })
            .collect();
        answer.push(Table {
            caption: "Monthly costs (US $), savings and energy".into(),
            header: [
                "architecture",
                "towers",
                "operator $/month",
                "hosts net $/month",
                "social $/month",
                "net saving vs macro only",
                "kWh/month",
                "kg CO2/month",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
        files.push("costs.csv".into());
        files.push("adoption.csv".into());
    }
    if !costs.is_empty() {
        let rows = costs
            .iter()
            .map(|(arch, r)| {
                vec![
                    arch.replace('_', "-"),
                    money(num(r, "provider_usd")),
                    money(num(r, "peers_usd")),
                    money(num(r, "social_usd")),
                    count(num(r, "isp_uplink_gb")),
                    pct(num(r, "gross_saving")),
                    pct(num(r, "net_saving")),
                    pct(num(r, "net_saving_vs_cdn")),
                    count(num(&r["energy"], "total_kwh")),
                    count(num(&r["energy"], "co2_kg")),
                ]
            })
            .collect();
        answer.push(Table {
            caption: "Monthly costs (US $), savings and energy".into(),
            header: [
                "architecture",
                "provider $/month",
                "peers net $/month",
                "social $/month",
                "ISP uplink GB",
                "gross saving vs client-server",
                "net saving vs client-server",
                "net saving vs CDN",
                "kWh/month",
                "kg CO2/month",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
        files.push("costs.csv".into());
    }
    let inputs: Vec<Vec<String>> = s["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let text = |k: &str| i[k].as_str().unwrap_or("-").to_string();
                    vec![text("key"), text("value")]
                })
                .collect()
        })
        .unwrap_or_default();
    if !inputs.is_empty() {
        answer.push(Table {
            caption: "Inputs (as the scenario file set them)".into(),
            header: vec!["key".into(), "value".into()],
            rows: inputs,
        });
    }
    // The facts answer a `run`; after `compare` the costs do, and the facts follow the figures.
    if answer
        .iter()
        .any(|t| t.caption.starts_with("Monthly costs"))
    {
        tables.insert(0, facts);
    } else {
        answer.insert(0, facts);
    }
    let lead: Vec<String> = s["verdict"]["lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut notes = Vec::new();
    if let Some(e) = s["billing"]["explanation"].as_str() {
        notes.push(format!(
            "Billed as {} ({}): {e}.",
            s["billing"]["rule"].as_str().unwrap_or("-"),
            s["billing"]["rule_basis"].as_str().unwrap_or("-")
        ));
    }
    if let Some(c) = s["billing"]["price_book_citation"].as_str() {
        notes.push(format!("Prices: {c}."));
    }
    Page {
        title: f.scenario().to_string(),
        description: s["description"].as_str().unwrap_or_default().to_string(),
        lead,
        answer,
        notes,
        figures,
        tables,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
    }

    #[test]
    fn page_lists_figures_tables_and_files() {
        let page = Page {
            title: "t<1>".into(),
            description: "d".into(),
            lead: vec!["verdict: saves $1 & more".into()],
            answer: Vec::new(),
            notes: Vec::new(),
            figures: vec![("savings".into(), "Savings".into())],
            tables: vec![Table {
                caption: "c".into(),
                header: vec!["a".into()],
                rows: vec![vec!["1.5".into()]],
            }],
            files: vec!["sweep.csv".into()],
        };
        let h = render(&page);
        assert!(h.contains("<title>t&lt;1&gt; · peerfluid</title>"));
        assert!(h.contains("<img src=\"savings.svg\""));
        assert!(h.contains("href=\"savings.png\""));
        assert!(h.contains("<td class=\"n\">1.5</td>"));
        assert!(h.contains("href=\"sweep.csv\""));
        // the lead comes before the first figure, escaped
        let lead = h
            .find("<p>verdict: saves $1 &amp; more</p>")
            .expect("lead shown");
        assert!(lead < h.find("<figure>").unwrap());
    }
}
