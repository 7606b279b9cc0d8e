//! The verdict `compare` opens with: three lines a manager can act on. What peer-assisted
//! delivery saves per month against client-server and the CDN at equal service, what the
//! peers net, and whether the fluid model holds for this scenario.

use serde::Serialize;

use super::ledger::{ClassLedger, CostBreakdown};

/// `summary.json` → `verdict`.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What `p2p` saves per month against client-server, after paying peers, $ (negative: it
    /// costs more).
    pub saving_vs_client_server_usd: f64,
    /// The same as a fraction of the client-server bill.
    pub saving_vs_client_server: f64,
    /// What `p2p` saves per month against the CDN, after paying peers, $.
    pub saving_vs_cdn_usd: f64,
    /// The same as a fraction of the CDN bill.
    pub saving_vs_cdn: f64,
    /// What the peers net per month (income − energy − upload value; positive: they gain), $.
    pub peers_net_usd: f64,
    /// Whether the fluid model holds here (`null`: not assessed).
    pub fluid_model_holds: Option<bool>,
    /// The three lines, as printed.
    pub lines: Vec<String>,
}

/// Dollars for people: whole dollars with thousands separators from $100 (`$3,425`), cents
/// below (`$36.19`); the sign is left to the caller.
pub fn money(x: f64) -> String {
    let a = x.abs();
    let body = if a >= 100.0 {
        // thousands separators for whole dollars
        let whole = format!("{:.0}", a);
        let mut out = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else {
        format!("{a:.2}")
    };
    format!("${body}")
}

fn against(usd: f64, fraction: f64, base: f64, what: &str) -> String {
    // A percentage of a zero bill means nothing: leave it out.
    let pct = |f: f64| {
        if base > 0.0 {
            format!(" ({:.1} %)", 100.0 * f)
        } else {
            String::new()
        }
    };
    if usd >= 0.0 {
        format!("saves {}/month{} against {what}", money(usd), pct(fraction))
    } else {
        format!(
            "costs {}/month more{} than {what}",
            money(usd),
            pct(-fraction)
        )
    }
}

/// The verdict from the compared rows (keys `client_server`, `cdn`, `p2p`), the peers'
/// ledgers, the service delivered (completed share, mean download time in words), and the
/// validity guard's result (`None`: not assessed; `Some((holds, why))`).
pub fn verdict(
    rows: &std::collections::BTreeMap<&'static str, CostBreakdown>,
    peers: &[ClassLedger],
    service: &str,
    validity: Option<(bool, String)>,
) -> Option<Verdict> {
    let (cs, cdn, p2p) = (
        rows.get("client_server")?,
        rows.get("cdn")?,
        rows.get("p2p")?,
    );
    let vs_cs = cs.provider_usd - p2p.provider_usd;
    let vs_cdn = cdn.provider_usd - p2p.provider_usd;
    let frac = |saving: f64, base: f64| if base > 0.0 { saving / base } else { 0.0 };
    let peers_net: f64 = peers.iter().map(|c| c.net_usd).sum();
    let paid = p2p.payments_usd;
    let mut lines = vec![
        format!(
            "verdict: peer-assisted delivery {} and {} at equal service ({service}), after paying peers {}/month",
            against(vs_cs, frac(vs_cs, cs.provider_usd), cs.provider_usd, "client-server"),
            against(vs_cdn, frac(vs_cdn, cdn.provider_usd), cdn.provider_usd, "the CDN"),
            money(paid)
        ),
        format!(
            "peers: {} {}/month in all (income {} − energy and upload value {})",
            if peers_net >= 0.0 { "gain" } else { "lose" },
            money(peers_net),
            money(paid),
            money(p2p.peers_cost_usd)
        ),
    ];
    lines.push(match &validity {
        None => "fluid model: not assessed for this kind of content".to_string(),
        Some((true, why)) => format!("fluid model: valid here ({why})"),
        Some((false, why)) => format!(
            "fluid model: IN DOUBT here ({why}); these figures may be far off: see the warnings at the end, or run `compare FILE --check-stochastic`"
        ),
    });
    Some(Verdict {
        saving_vs_client_server_usd: vs_cs,
        saving_vs_client_server: frac(vs_cs, cs.provider_usd),
        saving_vs_cdn_usd: vs_cdn,
        saving_vs_cdn: frac(vs_cdn, cdn.provider_usd),
        peers_net_usd: peers_net,
        fluid_model_holds: validity.map(|(h, _)| h),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_baseline_gets_no_percentage() {
        assert_eq!(
            against(-5.0, 0.0, 0.0, "the CDN"),
            "costs $5.00/month more than the CDN"
        );
        assert_eq!(
            against(25.0, 0.25, 100.0, "client-server"),
            "saves $25.00/month (25.0 %) against client-server"
        );
    }

    #[test]
    fn money_has_thousands_separators_and_cents_below_100() {
        assert_eq!(money(1234567.4), "$1,234,567");
        assert_eq!(money(-837.0), "$837");
        assert_eq!(money(12.345), "$12.35");
    }
}
