//! The human report `run` and `compare` print: the verdict first, then the run, how it was
//! billed, the cost table, the peers' ledgers, the incentive and the fluid model's validity.
//! It reads only the [`Summary`] (the same numbers as `summary.json`); the HTML page
//! (`html.rs`) is its sibling.

use crate::cost::ledger::CostBreakdown;
use crate::run::Summary;
use crate::units;
use crate::units::{format_quantity, Dimension};

/// The whole text report of a run (`compare` adds the verdict, billing and cost table).
pub fn report(s: &Summary) -> String {
    let mut out = String::new();
    if let Some(v) = &s.verdict {
        for line in &v.lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&human_summary(s));
    if let Some(costs) = &s.costs {
        out.push_str(&cost_table(s, costs));
    }
    if let Some(c) = &s.coordination {
        out.push_str(&coordination_text(c));
    }
    if let Some(classes) = &s.peer_classes {
        out.push_str("  peers per class (p2p and hybrid), per month:\n");
        for c in classes {
            out.push_str(&format!(
                "    {:<10} upload {:>12.1} GB, {:>10.1} peer-hours: income ${:.2} - energy ${:.2} - upload value ${:.2} = net ${:.2}\n",
                c.name, c.upload_gb, c.peer_hours, c.income_usd, c.energy_usd, c.upload_value_usd, c.net_usd
            ));
        }
    }
    if let Some(inc) = &s.incentive {
        out.push_str(&incentive_text(inc));
    }
    out.push_str(&checks_text(s));
    out
}

/// The "fluid model validity" line(s) and the "fluid vs stochastic" block of `run`/`compare`.
pub fn checks_text(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(v) = &s.validity {
        if !v.assessed {
            out.push_str("fluid model validity: not assessed (the rules cover file swarms, live streams and VoD)\n");
        } else if v.holds {
            let _ = writeln!(
                out,
                "fluid model validity: holds ({:.0} {}, {}{})",
                v.mean_peers,
                v.population,
                v.basis,
                v.min_needed
                    .map_or(String::new(), |m| format!("; at least {m:.0} needed"))
            );
        } else {
            out.push_str("fluid model validity: in doubt\n");
            for w in &v.warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
    }
    if let Some(c) = &s.stochastic_check {
        out.push_str(&stochastic_text(c));
    }
    out
}

/// The "fluid vs stochastic at real scale" block.
fn stochastic_text(c: &crate::run::validity::StochasticCheck) -> String {
    use crate::run::validity::FluidVsStochastic;
    use std::fmt::Write as _;
    use Dimension::{DataSize, Time};
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fluid vs stochastic at real scale (whole peers, N = 1; {} replicates, seed {}, {} events):",
        c.replicates, c.seed, c.events
    );
    let _ = writeln!(
        out,
        "  {:<16} {:>12} {:>26} {:>11}",
        "", "fluid", "stochastic (mean ± sd)", "difference"
    );
    let dash = || "–".to_string();
    let mut row = |name: &str, q: &FluidVsStochastic, f: &dyn Fn(f64) -> String, diff: String| {
        let stoch = if q.stochastic.mean.is_finite() {
            format!("{} ± {}", f(q.stochastic.mean), f(q.stochastic.sd))
        } else {
            dash()
        };
        let fluid = q.fluid.map_or_else(dash, f);
        let _ = writeln!(out, "  {name:<16} {fluid:>12} {stoch:>26} {diff:>11}");
    };
    let relative = |q: &FluidVsStochastic| {
        q.relative_difference
            .map_or_else(dash, |d| format!("{:+.1} %", 100.0 * d))
    };
    row(
        "server bytes",
        &c.server_bytes,
        &|v| format_quantity(v, DataSize),
        relative(&c.server_bytes),
    );
    row(
        "server share",
        &c.server_share,
        &|v| format!("{:.1} %", 100.0 * v),
        c.server_share
            .difference
            .map_or_else(dash, |d| format!("{:+.1} pts", 100.0 * d)),
    );
    row(
        "download time",
        &c.download_time_s,
        &|v| format_quantity(v, Time),
        relative(&c.download_time_s),
    );
    if c.replicates_without_downloads > 0 {
        let _ = writeln!(
            out,
            "  ({} replicates had no arrivals or delivered nothing: left out of share and download time)",
            c.replicates_without_downloads
        );
    }
    out
}

/// The short human summary printed by `run`.
pub fn human_summary(s: &Summary) -> String {
    use Dimension::*;
    if let Some(w) = &s.wireless {
        return wireless_summary(s, w);
    }
    let mut out = String::new();
    let t = |v: f64| format_quantity(v, Time);
    let bps = |v: f64| format_quantity(v, BitRate);
    let gb = |v: f64| format_quantity(v, DataSize);
    out.push_str(&format!(
        "scenario '{}': {}\n",
        s.scenario,
        s.description.lines().next().unwrap_or("")
    ));
    out.push_str(&format!(
        "  simulated {} ({}), arrivals {}, solver {} ({} steps, {} regime switches)\n",
        t(s.horizon_s),
        s.horizon_basis,
        s.arrival_profile,
        s.solver.method,
        s.solver.steps,
        s.solver.regime_switches
    ));
    if let Some(g) = s.flash_crowd_bound_s {
        out.push_str(&format!(
            "  flash-crowd bound: no download completes before {} (F/s)\n",
            t(g)
        ));
    }
    if let Some(v) = &s.video {
        out.push_str(&format!(
            "  {} stream at {}, watched {} on average; viewers upload {} on average ({} mode)\n",
            v.kind,
            bps(v.bitrate_bps),
            t(v.watch_time_s),
            bps(v.mean_upload_bps),
            v.mode
        ));
        out.push_str(&format!(
            "  viewers: {:.1} at the reference arrival rate (λT), peak {:.1}; at the peak the server sends {} (client-server: {})\n",
            v.steady_viewers,
            v.peak_viewers,
            bps(v.server_rate_at_peak_bps),
            bps(v.client_server_rate_at_peak_bps)
        ));
        if let Some(m) = v.max_sustainable_rate_at_peak_bps {
            out.push_str(&format!(
                "  largest sustainable rate at the peak: {}; short of the bitrate for {}\n",
                bps(m),
                t(v.short_of_rate_s)
            ));
        }
        if let Some(p) = v.universal_streaming_probability {
            out.push_str(&format!(
                "  probability that every viewer streams at the bitrate (Poisson audience, steady mean): {p:.6}\n"
            ));
        }
        if v.titles > 1 {
            out.push_str(&format!(
                "  catalogue: {} titles (Zipf), {} in surplus\n",
                v.titles, v.titles_in_surplus
            ));
        }
    }
    if let Some(p) = &s.push {
        let opt_t = |v: Option<f64>| v.map_or_else(|| "- (no server)".to_string(), t);
        out.push_str(&format!(
            "  push to {} devices: client-server {}, peer-assisted {} (Kumar & Ross minimum distribution times)\n",
            p.devices,
            opt_t(p.client_server_time_s),
            opt_t(p.p2p_time_s)
        ));
        if let (Some(d), Some(cs), Some(pp)) = (
            p.deadline_s,
            p.min_server_client_server_bps,
            p.min_server_p2p_bps,
        ) {
            out.push_str(&format!(
                "    deadline {}: server needed {} alone (${:.2}/month), {} with peers (${:.2}/month)\n",
                t(d),
                bps(cs),
                p.server_cost_client_server_usd.unwrap_or(0.0),
                bps(pp),
                p.server_cost_p2p_usd.unwrap_or(0.0)
            ));
        }
    }
    if let Some(l) = &s.locality {
        out.push_str(&format!(
            "  ISP locality (steady state at {}/s; the scenario's rule: {}):\n",
            crate::output::plot::fmt_sig(l.arrival_rate_per_s),
            l.selected
        ));
        for st in &l.selections {
            let per_isp: Vec<String> = st
                .rows
                .iter()
                .map(|r| format!("{} {}", r.name, t(r.download_time_s)))
                .collect();
            out.push_str(&format!(
                "    {:<34} inter-ISP {:>5.1} % of bytes, transit ${:>10.2}/month; download time {}\n",
                st.selection.label(),
                100.0 * st.totals.inter_isp_share,
                st.totals.transit_usd_month,
                per_isp.join(", ")
            ));
        }
        for u in &l.unavailable {
            out.push_str(&format!("    {u}\n"));
        }
        if let Some(tc) = &l.transit {
            let b = |rate: f64| bps(rate * l.file_bits);
            out.push_str(&format!(
                "    transit links, random -> locality-optimal: inter-ISP {} -> {} ({:.1} % less); mean download time {} -> {} (speed-up {:+.1} %)\n",
                b(tc.inter_isp_rate_random),
                b(tc.inter_isp_rate_locality),
                100.0 * tc.inter_isp_cut,
                t(tc.mean_download_time_random_s),
                t(tc.mean_download_time_locality_s),
                100.0 * tc.speed_up
            ));
            let load = |u: Option<f64>, binds: bool| match u {
                Some(u) => format!("{:.0} %{}", 100.0 * u, if binds { " binds" } else { "" }),
                None => "unlimited".to_string(),
            };
            for r in &tc.rows {
                out.push_str(&format!(
                    "      {}: download {} -> {} (speed-up {:+.1} %), inter-ISP in {} -> {}, link {} -> {}\n",
                    r.name,
                    t(r.download_time_random_s),
                    t(r.download_time_locality_s),
                    100.0 * r.speed_up,
                    b(r.inter_isp_in_rate_random),
                    b(r.inter_isp_in_rate_locality),
                    load(r.utilisation_random, r.link_binds_random),
                    load(r.utilisation_locality, r.link_binds_locality)
                ));
            }
        }
    }
    if let Some(ss) = &s.steady_state {
        out.push_str(&format!(
            "  steady state ({}): {:.4} leechers, {:.4} seeds, download time {}, {}\n",
            ss.basis,
            ss.leechers,
            ss.seeds,
            t(ss.download_time_s),
            ss.regime
        ));
        out.push_str(&format!(
            "    server {} + peers {}; server carries {:.1} % of downloads\n",
            bps(ss.server_rate_bps),
            bps(ss.peer_rate_bps),
            100.0 * ss.server_share
        ));
        if s.classes.len() > 1 {
            for c in &s.classes {
                if let (Some(x), Some(y), Some(dt)) =
                    (c.steady_leechers, c.steady_seeds, c.download_time_s)
                {
                    out.push_str(&format!(
                        "    {} ({:.0} % of arrivals): {x:.4} leechers, {y:.4} seeds, download time {}\n",
                        c.name,
                        100.0 * c.share,
                        t(dt)
                    ));
                }
            }
        }
        if ss.reached == Some(false) {
            out.push_str("  warning: the run ended before reaching this steady state (see steady_state.reached)\n");
        }
    } else if s.video.is_none() {
        out.push_str("  no steady state at the reference arrival rate\n");
    }
    let (done, who) = if s.video.is_some() {
        ("views ended", "viewers")
    } else {
        ("downloads completed", "leechers")
    };
    out.push_str(&format!(
        "  over the horizon: {:.1} {done}, {:.1} aborted; server sent {}, peers {} ({:.1} % from peers)\n",
        s.downloads.completed,
        s.downloads.aborted,
        gb(s.bytes.server),
        gb(s.bytes.peers),
        100.0 * s.bytes.peer_share
    ));
    out.push_str(&format!(
        "  peak: {:.1} {who} at t = {}; server up to {}\n",
        s.peak.leechers,
        t(s.peak.leechers_at_s),
        bps(s.peak.server_rate_bps)
    ));
    out
}

/// The human summary of a wireless run (`run` and `compare` print the same).
fn wireless_summary(s: &Summary, w: &crate::run::wireless::WirelessReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario '{}': {}",
        s.scenario,
        s.description.lines().next().unwrap_or("")
    );
    let _ = writeln!(
        out,
        "  {:.0} users; {:.1} % host a femtocell ({:.1} % may, {:.1} % of them do; hosts paid: {}); femtocells carry {:.1} % of {:.0} GB/month",
        w.users,
        100.0 * w.hosts,
        100.0 * w.hosts_potential,
        100.0 * w.participation,
        w.mechanism,
        100.0 * w.offload_share,
        w.demand_gb
    );
    let _ = writeln!(
        out,
        "  busy hour: {:.1} Mbit/s asked, {:.1} Mbit/s left to the macro network: {} towers instead of {} ({} saved)",
        w.busy_demand_mbps, w.busy_macro_mbps, w.towers, w.towers_macro_only, w.towers_saved
    );
    let _ = writeln!(
        out,
        "  energy per GB carried: macro towers {:.4} kWh/GB, femtocells {} (models/energy.md)",
        w.macro_kwh_per_gb,
        w.femtocell_kwh_per_gb
            .map_or_else(|| "- (no hosts)".to_string(), |v| format!("{v:.4} kWh/GB"))
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>8} {:>13} {:>13} {:>13} {:>14} {:>13} {:>13} {:>10} {:>11} {:>11}",
        "per month",
        "towers",
        "towers $",
        "devices $",
        "payments $",
        "operator $",
        "hosts net $",
        "social $",
        "net save",
        "kWh",
        "kg CO2"
    );
    for r in &w.costs {
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:>13.2} {:>13.2} {:>13.2} {:>14.2} {:>13.2} {:>13.2} {:>9.1}% {:>11.0} {:>11.0}",
            r.architecture,
            r.towers,
            r.towers_usd,
            r.devices_usd,
            r.payments_usd,
            r.operator_usd,
            r.hosts_usd,
            r.social_usd,
            100.0 * r.net_saving,
            r.energy.total_kwh,
            r.energy.co2_kg
        );
    }
    let sh = &w.shapley;
    let _ = writeln!(
        out,
        "  fluid Shapley split of ${:.2}/month saved: operator ${:.2}, hosts ${:.2} (${:.4} per host)",
        sh.savings_usd, sh.operator_usd, sh.hosts_usd, sh.per_host_usd
    );
    let g = &w.give_away_answer;
    let _ = writeln!(
        out,
        "  give-away: a femtocell costs ${:.4}/month; at this adoption a host saves ${:.4} in towers on average (marginal ${:.4}): {} (fluid towers); with whole towers it {}",
        g.device_usd,
        g.average_tower_saving_usd,
        g.marginal_tower_saving_usd,
        if g.pays_at_scenario_adoption { "it pays for itself" } else { "it does not pay for itself" },
        if g.pays_with_whole_towers { "pays too" } else { "does not pay" }
    );
    let _ = writeln!(
        out,
        "    free femtocells, whole towers: first adoption with a profit {}; best adoption {:.0} % saves ${:.2}/month net of the femtocells",
        g.first_profitable_adoption
            .map_or_else(|| "none".to_string(), |h| format!("{:.0} %", 100.0 * h)),
        100.0 * g.best_adoption,
        g.best_saving_usd
    );
    if let Some(m) = &w.participation_market {
        let e = &m.reached.equilibrium;
        let _ = writeln!(
            out,
            "  hosts decide: {:.1} % of would-be hosts host (income ${:.4}/month, net before private cost ${:.4}); dynamics reach {:.6} (gap {:.1e})",
            100.0 * e.q, e.income_usd, e.benefit_usd, m.reached.q_dynamics, m.reached.gap
        );
        let b = &m.best_price;
        let _ = writeln!(
            out,
            "    operator's best price ${:.5}/GB carried: {:.1} % host, operator ${:.2}/month (${:.2} with no hosts)",
            b.price_usd_per_gb,
            100.0 * b.equilibrium.q,
            b.equilibrium.operator_usd,
            b.no_hosts_usd
        );
    }
    out
}

/// How the run was billed and the service behind every row, in words.
pub fn billing_lines(b: &crate::run::Billing) -> String {
    let basis = &b.basis;
    let sv = &b.service;
    let mut out = format!(
        "billing: {} ({}): {}\n",
        basis.rule, basis.rule_basis, basis.explanation
    );
    out.push_str(&format!(
        "service: every row delivers the same downloads: {:.1} % complete, mean download time {}; client-server origin provisioned at {} ({} × the peak); CDN prices: {}; p2p origin: {}\n",
        100.0 * sv.completed_share,
        units::format_quantity(sv.download_time_s, units::Dimension::Time),
        units::format_quantity(sv.client_server_origin_bps, units::Dimension::BitRate),
        sv.headroom,
        b.cdn_prices,
        b.p2p_origin
    ));
    out.push_str(&format!(
        "prices: {}{}\n",
        b.price_book_citation,
        if b.price_overrides.is_empty() {
            String::new()
        } else {
            format!("; the scenario sets {}", b.price_overrides.join(", "))
        }
    ));
    if let Some(o) = &sv.own_server_alone {
        out.push_str(&format!(
            "  the scenario's own {} server alone (no peers) would complete {:.1} % of downloads (mean download time {}){}\n",
            units::format_quantity(sv.own_server_bps, units::Dimension::BitRate),
            100.0 * o.completed_share,
            units::format_quantity(o.download_time_s, units::Dimension::Time),
            if o.meets_demand {
                ""
            } else {
                ": it cannot meet this demand, so no saving is counted against it"
            }
        ));
    }
    for m in &b.months {
        let rate = |mbps: f64| format_quantity(mbps * 1e6, Dimension::BitRate);
        out.push_str(&format!(
            "billed month: {:.1} GB delivered (origin with peers {:.1} GB, peers {:.1} GB); 95th percentile {} (origin with peers {}); peak {} (origin with peers {})\n",
            m.served_gb,
            m.server_gb,
            m.peer_gb,
            rate(m.served_p95_mbps),
            rate(m.server_p95_mbps),
            rate(m.served_peak_mbps),
            rate(m.server_peak_mbps)
        ));
    }
    out.push_str(&format!(
        "costs per {} month:\n",
        format_quantity(basis.month_days * 86_400.0, Dimension::Time)
    ));
    out
}

/// The architecture table printed by `compare`.
pub fn cost_table(
    s: &Summary,
    costs: &std::collections::BTreeMap<&'static str, CostBreakdown>,
) -> String {
    let mut out = String::new();
    if let Some(b) = &s.billing {
        out.push_str(&billing_lines(b));
    }
    out.push_str(&format!(
        "  {:<14} {:>14} {:>14} {:>12} {:>14} {:>16} {:>16} {:>12} {:>11}\n",
        "architecture",
        "provider $/mo",
        "peers net $/mo",
        "ISP GB/mo",
        "social $/mo",
        "vs CS gross/net",
        "vs CDN gross/net",
        "kWh/mo",
        "kg CO2/mo"
    ));
    for key in ["client_server", "cdn", "p2p", "hybrid"] {
        if let Some(r) = costs.get(key) {
            out.push_str(&format!(
                "  {:<14} {:>14.2} {:>14.2} {:>12.1} {:>14.2} {:>7.1}%/{:>6.1}% {:>7.1}%/{:>6.1}% {:>12.1} {:>11.1}\n",
                key,
                r.provider_usd,
                r.peers_usd,
                r.isp_uplink_gb,
                r.social_usd,
                100.0 * r.gross_saving,
                100.0 * r.net_saving,
                100.0 * r.gross_saving_vs_cdn,
                100.0 * r.net_saving_vs_cdn,
                r.energy.total_kwh,
                r.energy.co2_kg
            ));
        }
    }
    out
}

/// The coordination block of `compare`: every design on the billed population, the billed one
/// starred, and where their costs cross (`models/coordination.md`).
pub fn coordination_text(c: &crate::cost::coordination::CoordinationReport) -> String {
    use crate::output::plot::fmt_sig;
    let p = &c.population;
    let mut out = format!(
        "  coordination (`coordination.kind = \"{}\"` is billed in p2p and hybrid), per month: {} peers on average, {} at the peak, {} seen by a peer, {} downloads; peers' bytes valued at ${}/GB\n",
        c.kind.label(),
        fmt_sig(p.mean_peers),
        fmt_sig(p.peak_peers),
        fmt_sig(p.seen_peers),
        fmt_sig(p.downloads),
        fmt_sig(c.upload_value_per_gb)
    );
    out.push_str(&format!(
        "    {:<9} {:>14} {:>14} {:>14} {:>12}  {}\n",
        "design", "provider $/mo", "peers GB/mo", "peers value $", "total $/mo", "detail"
    ));
    for d in &c.designs {
        let detail = match d.kind {
            crate::cost::coordination::Kind::Tracker => format!(
                "{} server(s) for a peak of {} announces/s",
                fmt_sig(d.servers.unwrap_or(0.0)),
                fmt_sig(d.peak_load_per_s.unwrap_or(0.0))
            ),
            crate::cost::coordination::Kind::Dht => format!(
                "{} hops per lookup, {} table entries",
                fmt_sig(d.hops.unwrap_or(0.0)),
                fmt_sig(d.table_entries.unwrap_or(0.0))
            ),
            crate::cost::coordination::Kind::Flood => format!(
                "reach {} peers ({:.1} % of the overlay), P(find) {:.4}",
                fmt_sig(d.reach.unwrap_or(0.0)),
                100.0 * d.reach_share.unwrap_or(0.0),
                d.find_probability.unwrap_or(0.0)
            ),
        };
        out.push_str(&format!(
            "  {} {:<9} {:>14.2} {:>14.3} {:>14.2} {:>12.2}  {}\n",
            if d.kind == c.kind { "*" } else { " " },
            d.kind.label(),
            d.provider_usd,
            d.peer_gb,
            d.peer_value_usd,
            d.total_usd,
            detail
        ));
    }
    for x in &c.crossings {
        out.push_str(&format!(
            "    {} and {} cost the same at {}× this swarm ({} peers on average, {} downloads/month): {} is cheaper below, {} above\n",
            x.cheaper_below.label(),
            x.cheaper_above.label(),
            fmt_sig(x.scale),
            fmt_sig(x.mean_peers),
            fmt_sig(x.downloads),
            x.cheaper_below.label(),
            x.cheaper_above.label()
        ));
    }
    out
}

/// The incentive block of the text report.
fn incentive_text(inc: &crate::incentive::plan::IncentiveReport) -> String {
    use crate::incentive::equilibrium::Offer;
    use std::fmt::Write as _;
    let mut out = String::new();
    let per = inc.per;
    let offer = match inc.offer {
        Offer::PerByte { price } => format!("${price:.5}/GB uploaded"),
        Offer::Discount { amount } => format!("${amount:.4} per {}", inc.per),
        Offer::Shapley => "the fluid Shapley value".to_string(),
    };
    let _ = writeln!(
        out,
        "incentive ({}): peers are offered {offer}; a steady market at the {} {:.4}/s held all month (its per-{} figures are not the billed month above)",
        inc.mechanism, inc.reference_rate_basis, inc.reference_rate_per_s, inc.per
    );
    for c in &inc.classes {
        let _ = writeln!(
            out,
            "    {:<10} costs {:<9} participation {:>6.1} %, income ${:.5}/{}, net before private cost ${:.5}",
            c.name,
            c.cost_distribution,
            100.0 * c.participation,
            c.income_usd_per_download,
            inc.per,
            c.benefit_usd_per_download
        );
    }
    let eqs: Vec<String> = inc
        .equilibria
        .iter()
        .map(|e| {
            let q: Vec<String> = e.q.iter().map(|v| format!("{:.1} %", 100.0 * v)).collect();
            format!(
                "[{}] {}",
                q.join(", "),
                if e.stable { "stable" } else { "unstable" }
            )
        })
        .collect();
    if !eqs.is_empty() {
        let _ = writeln!(out, "  equilibria: {}", eqs.join("; "));
    }
    if let (Some(q), Some(d)) = (&inc.integrated_participation, inc.integration_vs_root) {
        let q: Vec<String> = q.iter().map(|v| format!("{:.1} %", 100.0 * v)).collect();
        let _ = writeln!(
            out,
            "  best-response dynamics from nobody sharing end at [{}] (|Δ| {d:.1e} from the root)",
            q.join(", ")
        );
    }
    if let Some(why) = &inc.integration_skipped {
        let _ = writeln!(out, "  {why}");
    }
    let _ = writeln!(
        out,
        "  provider per {per} in that market: ${:.5} (nobody sharing, the origin serving every {per}: ${:.5}): net saving {:.1} %",
        inc.provider_usd_per_download,
        inc.no_sharing_usd_per_download,
        100.0 * inc.provider_net_saving
    );
    if let Some(b) = &inc.best_payment {
        let q: Vec<String> = b
            .social_q
            .iter()
            .map(|v| format!("{:.1} %", 100.0 * v))
            .collect();
        let _ = writeln!(
            out,
            "  provider's best price ${:.5}/GB → provider ${:.5}/download; social cost ${:.5} vs optimum ${:.5} at [{}] (gap ${:.2e})",
            b.price_usd_per_gb,
            b.equilibrium.provider_usd,
            b.equilibrium.social_usd,
            b.social_optimum_usd,
            q.join(", "),
            b.gap_usd
        );
    }
    if let Some(sh) = &inc.shapley {
        let pays: Vec<String> = sh
            .payment_usd_per_download
            .iter()
            .zip(&sh.price_usd_per_gb_offered)
            .map(|(p, pi)| format!("${p:.5}/{per} (${pi:.5}/GB offered)"))
            .collect();
        let _ = writeln!(
            out,
            "  fluid Shapley (everyone sharing): provider ${:.5}, peers ${:.5} of ${:.5} saved per {per} (the provider keeps {:.1} %, peers earn ${:.5}/GB uploaded); a sharer is paid {}",
            sh.provider_usd,
            sh.peers_usd,
            sh.savings_usd,
            100.0 * sh.provider_share_of_savings,
            sh.usd_per_gb_uploaded,
            pays.join(", ")
        );
    }
    out
}
