//! File pushes (software updates): the minimum time to distribute one file to `N` peers,
//! client-server and peer-assisted. Kumar & Ross, "Peer-Assisted File Distribution: The
//! Minimum Distribution Time", HOTWEB 2006 (literature §3.2; card `models/streaming.md`).
//!
//! * client-server: `D_cs = max{N F/u_s, F/d_min}`
//! * peer-assisted: `D_p2p = max{F/u_s, F/d_min, N F/(u_s + Σ_i u_i)}`
//!
//! and, inverted, the smallest server upload that meets a deadline
//! ([`min_server_for_deadline`]) and what it costs per month ([`deadline_server_cost`]).
//! Closed forms; no ODE. Sizes in bits, rates in bit/s, times in seconds.

use crate::error::VideoError;
use crate::model::streaming::{check_nonneg, check_positive, out_of_range};
use crate::units::{BitsPerSec, Seconds, Usd, UsdPerMbpsMonth};

/// Checks the arguments common to every function here; `d_min_bps` may be `+∞` (no download
/// limit).
fn check_common(n: u64, file_bits: f64, d_min_bps: f64) -> Result<(), VideoError> {
    if n == 0 {
        return Err(out_of_range("n", 0.0, "≥ 1 peer"));
    }
    check_positive("file_bits", file_bits)?;
    if d_min_bps.is_nan() || d_min_bps <= 0.0 {
        return Err(out_of_range("d_min_bps", d_min_bps, "> 0 (∞ allowed)"));
    }
    Ok(())
}

/// Minimum client-server distribution time (s) of a `file_bits` file to `n` peers from a
/// server of upload `server_bps`, the slowest peer downloading at `d_min_bps`:
/// `D_cs = max{n F/u_s, F/d_min}` (literature §3.2).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] unless `n ≥ 1`, `file_bits > 0`, `server_bps > 0` (finite) and
/// `d_min_bps > 0` (∞ allowed).
pub fn distribution_time_client_server(
    n: u64,
    file_bits: f64,
    server_bps: BitsPerSec,
    d_min_bps: BitsPerSec,
) -> Result<Seconds, VideoError> {
    check_common(n, file_bits, d_min_bps)?;
    check_positive("server_bps", server_bps)?;
    Ok((n as f64 * file_bits / server_bps).max(file_bits / d_min_bps))
}

/// Minimum peer-assisted distribution time (s):
/// `D_p2p = max{F/u_s, F/d_min, n F/(u_s + Σ_i u_i)}` (literature §3.2), with
/// `sum_peer_upload_bps = Σ_i u_i` over the `n` peers. Kumar & Ross show that the bound is
/// achieved in the fluid limit.
///
/// # Errors
///
/// As [`distribution_time_client_server`], and `sum_peer_upload_bps` must be finite and ≥ 0.
pub fn distribution_time_p2p(
    n: u64,
    file_bits: f64,
    server_bps: BitsPerSec,
    d_min_bps: BitsPerSec,
    sum_peer_upload_bps: BitsPerSec,
) -> Result<Seconds, VideoError> {
    check_common(n, file_bits, d_min_bps)?;
    check_positive("server_bps", server_bps)?;
    check_nonneg("sum_peer_upload_bps", sum_peer_upload_bps)?;
    let n = n as f64;
    Ok((file_bits / server_bps)
        .max(file_bits / d_min_bps)
        .max(n * file_bits / (server_bps + sum_peer_upload_bps)))
}

/// Smallest server upload (bit/s) that distributes the file to `n` peers within
/// `deadline_s`: client-server `u_s = n F/T`; peer-assisted
/// `u_s = max{F/T, n F/T − Σ_i u_i}` (both server terms of `D_p2p` at most `T`).
///
/// The download term `F/d_min` does not depend on the server, so a deadline below it cannot
/// be met by any server.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `deadline_s < F/d_min` (naming that bound), and as
/// [`distribution_time_p2p`] for the other arguments.
pub fn min_server_for_deadline(
    n: u64,
    file_bits: f64,
    deadline_s: Seconds,
    d_min_bps: BitsPerSec,
    sum_peer_upload_bps: BitsPerSec,
    peer_assisted: bool,
) -> Result<BitsPerSec, VideoError> {
    check_common(n, file_bits, d_min_bps)?;
    check_positive("deadline_s", deadline_s)?;
    check_nonneg("sum_peer_upload_bps", sum_peer_upload_bps)?;
    let floor = file_bits / d_min_bps;
    if deadline_s < floor {
        return Err(out_of_range(
            "deadline_s",
            deadline_s,
            &format!("≥ F/d_min = {floor} s (the slowest peer's own download time)"),
        ));
    }
    let n = n as f64;
    let all = n * file_bits / deadline_s;
    Ok(if peer_assisted {
        (file_bits / deadline_s).max(all - sum_peer_upload_bps)
    } else {
        all
    })
}

/// Monthly cost ($) of `min_server_bps` of committed server bandwidth at
/// `usd_per_mbps_month` ($ per Mbps per month, e.g. 95th-percentile transit).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] unless both are finite and ≥ 0.
pub fn deadline_server_cost(
    min_server_bps: BitsPerSec,
    usd_per_mbps_month: UsdPerMbpsMonth,
) -> Result<Usd, VideoError> {
    check_nonneg("min_server_bps", min_server_bps)?;
    check_nonneg("usd_per_mbps_month", usd_per_mbps_month)?;
    Ok(min_server_bps / 1e6 * usd_per_mbps_month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    /// Closed forms (literature §3.3: rel 1e-12).
    const CLOSED: f64 = 1e-12;

    /// DT grid: F = 15 Gbit, u_s = 30 Mbps, d_min = 2 Mbps (literature §3.3).
    const F: f64 = 15e9;
    const US: f64 = 30e6;
    const D: f64 = 2e6;

    #[test]
    fn dt_grid_client_server() {
        // literature §3.3 "DT grid", client-server row, rel 1e-12.
        for (n, expected) in [(10, 7500.0), (100, 50_000.0), (1000, 500_000.0)] {
            assert_relative_eq!(
                distribution_time_client_server(n, F, US, D).unwrap(),
                expected,
                max_relative = CLOSED
            );
        }
    }

    #[test]
    fn dt_grid_p2p() {
        // literature §3.3 "DT grid", P2P rows (every peer uploads u), rel 1e-12. The
        // 45454.545 and 20547.945 of the table are 1.5e13/3.3e8 and 1.5e13/7.3e8, rounded to
        // three decimals: the test uses the exact fractions.
        let cases = [
            (10, 300e3, 7500.0),
            (10, 700e3, 7500.0),
            (10, 2e6, 7500.0),
            (100, 300e3, 25_000.0),
            (100, 700e3, 15_000.0),
            (100, 2e6, 7500.0),
            (1000, 300e3, 1.5e13 / 3.3e8),
            (1000, 700e3, 1.5e13 / 7.3e8),
            (1000, 2e6, 7500.0),
        ];
        for (n, u, expected) in cases {
            let got = distribution_time_p2p(n, F, US, D, n as f64 * u).unwrap();
            assert_relative_eq!(got, expected, max_relative = CLOSED);
        }
        // The rounded table values, to their printed precision (abs 5e-4 s).
        let t = distribution_time_p2p(1000, F, US, D, 1000.0 * 300e3).unwrap();
        assert!((t - 45_454.545).abs() < 5e-4, "{t}");
        let t = distribution_time_p2p(1000, F, US, D, 1000.0 * 700e3).unwrap();
        assert!((t - 20_547.945).abs() < 5e-4, "{t}");
    }

    #[test]
    fn dt_fig() {
        // literature §3.3 "DT-fig": F/u = 1 h, u_s = 10u, d_min ≥ u_s (here ∞); exact.
        let (u, f) = (1.0, 3600.0);
        let cs = distribution_time_client_server(30, f, 10.0 * u, f64::INFINITY).unwrap();
        let p2p = distribution_time_p2p(30, f, 10.0 * u, f64::INFINITY, 30.0 * u).unwrap();
        assert_eq!(cs.to_bits(), (3.0 * 3600.0f64).to_bits());
        assert_eq!(p2p.to_bits(), (0.75 * 3600.0f64).to_bits());
        // With d_min = u_s exactly the answer is the same (F/d_min = 0.1 h).
        let p2p = distribution_time_p2p(30, f, 10.0 * u, 10.0 * u, 30.0 * u).unwrap();
        assert_eq!(p2p.to_bits(), 2700f64.to_bits());
        for n in 1..=10_000u64 {
            let t = distribution_time_p2p(n, f, 10.0 * u, 10.0 * u, n as f64 * u).unwrap();
            assert!(t < 3600.0, "N = {n}: {t} s");
        }
    }

    #[test]
    fn invalid_inputs_are_named() {
        assert_eq!(
            min_server_for_deadline(10, F, 7000.0, D, 0.0, true)
                .unwrap_err()
                .to_string(),
            "`deadline_s` = 7000 is out of range: must be ≥ F/d_min = 7500 s \
             (the slowest peer's own download time)"
        );
        assert_eq!(
            distribution_time_client_server(0, F, US, D)
                .unwrap_err()
                .to_string(),
            "`n` = 0 is out of range: must be ≥ 1 peer"
        );
        assert_eq!(
            distribution_time_p2p(10, F, 0.0, D, 1.0)
                .unwrap_err()
                .to_string(),
            "`server_bps` = 0 is out of range: must be finite and > 0"
        );
        assert_eq!(
            distribution_time_p2p(10, F, US, -1.0, 1.0)
                .unwrap_err()
                .to_string(),
            "`d_min_bps` = -1 is out of range: must be > 0 (∞ allowed)"
        );
    }

    #[test]
    fn deadline_examples() {
        // DT grid, N = 1000, u = 300 kbps: meeting 25 000 s takes 1.5e13/25e3 − 3e8 = 3e8 bit/s
        // of server (P2P) and 6e8 (client-server).
        let s = min_server_for_deadline(1000, F, 25_000.0, D, 3e8, true).unwrap();
        assert_relative_eq!(s, 3e8, max_relative = CLOSED);
        let s = min_server_for_deadline(1000, F, 25_000.0, D, 3e8, false).unwrap();
        assert_relative_eq!(s, 6e8, max_relative = CLOSED);
        // 300 Mbps at $0.50/Mbps/month = $150.
        assert_relative_eq!(
            deadline_server_cost(3e8, 0.5).unwrap(),
            150.0,
            max_relative = CLOSED
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The smallest server for a deadline, plugged back, meets the deadline with equality:
        /// both server terms of D_p2p (and the one of D_cs) involve u_s, and the deadline is at
        /// least F/d_min, so some server term binds at the minimum. Rel 1e-12.
        #[test]
        fn min_server_meets_the_deadline_with_equality(
            n in 1u64..100_000,
            file_bits in 1e6f64..1e12,
            d_min in 1e5f64..1e9,
            slack in 1.0f64..100.0,
            per_peer_upload in 0.0f64..1e8,
        ) {
            let deadline = file_bits / d_min * slack;
            let sum_u = n as f64 * per_peer_upload;
            let s = min_server_for_deadline(n, file_bits, deadline, d_min, sum_u, true).unwrap();
            let t = distribution_time_p2p(n, file_bits, s, d_min, sum_u).unwrap();
            prop_assert!((t - deadline).abs() <= CLOSED * deadline, "{} vs {}", t, deadline);
            // A server 1e-6 smaller misses it.
            let t = distribution_time_p2p(n, file_bits, s * (1.0 - 1e-6), d_min, sum_u).unwrap();
            prop_assert!(t > deadline);
            let s = min_server_for_deadline(n, file_bits, deadline, d_min, sum_u, false).unwrap();
            let t = distribution_time_client_server(n, file_bits, s, d_min).unwrap();
            prop_assert!((t - deadline).abs() <= CLOSED * deadline, "{} vs {}", t, deadline);
        }
    }
}

/// What `run` and `compare` report for a scenario with `[push]`: the file pushed to every
/// device at once (Kumar & Ross, literature §3.2), the peers being the scenario's classes in
/// their shares.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    /// Devices that receive the file.
    pub devices: u64,
    /// File size, bits.
    pub file_bits: f64,
    /// Slowest class's download, bit/s.
    pub d_min_bps: f64,
    /// All devices' upload together (shares × uploads × devices), bit/s.
    pub peers_upload_bps: f64,
    /// Server upload (`server.capacity`), bit/s.
    pub server_bps: f64,
    /// D_cs with the scenario's server, s (`null` without a server).
    pub client_server_time_s: Option<Seconds>,
    /// D_p2p with the scenario's server, s (`null` without a server: nobody has the file).
    pub p2p_time_s: Option<Seconds>,
    /// `push.deadline`, s.
    pub deadline_s: Option<Seconds>,
    /// Smallest server meeting the deadline alone, bit/s.
    pub min_server_client_server_bps: Option<f64>,
    /// Smallest server meeting the deadline with peer assistance, bit/s.
    pub min_server_p2p_bps: Option<f64>,
    /// Those servers priced as capacity at `pricing.transit`, $/month.
    pub server_cost_client_server_usd: Option<f64>,
    /// The same with peer assistance, $/month.
    pub server_cost_p2p_usd: Option<f64>,
}

/// The push report of a scenario (`None` without `[push]`); `participation` is the share of
/// each class's devices that share (1 when nobody decides).
///
/// # Errors
///
/// As the functions above (the scenario's validation rules keep their inputs in range).
pub fn push_report(
    s: &crate::scenario::Scenario,
    participation: &[f64],
) -> Result<Option<PushReport>, VideoError> {
    let Some(p) = s.push else {
        return Ok(None);
    };
    let bits = 8.0 * s.content.size;
    let d_min = s
        .classes
        .iter()
        .map(|c| c.download)
        .fold(f64::INFINITY, f64::min);
    let per_device: f64 = s
        .classes
        .iter()
        .enumerate()
        .map(|(k, c)| c.share * c.upload * participation.get(k).copied().unwrap_or(1.0))
        .sum();
    let peers = per_device * p.devices as f64;
    let server = s.server.capacity;
    let with_server = |f: &dyn Fn() -> Result<f64, VideoError>| -> Result<Option<f64>, VideoError> {
        if server > 0.0 {
            f().map(Some)
        } else {
            Ok(None)
        }
    };
    let cs = with_server(&|| distribution_time_client_server(p.devices, bits, server, d_min))?;
    let p2p = with_server(&|| distribution_time_p2p(p.devices, bits, server, d_min, peers))?;
    let (min_cs, min_p2p) = match p.deadline {
        Some(d) => (
            Some(min_server_for_deadline(
                p.devices, bits, d, d_min, peers, false,
            )?),
            Some(min_server_for_deadline(
                p.devices, bits, d, d_min, peers, true,
            )?),
        ),
        None => (None, None),
    };
    let price = s.pricing.transit;
    let cost = |v: Option<f64>| -> Result<Option<f64>, VideoError> {
        v.map(|b| deadline_server_cost(b, price)).transpose()
    };
    Ok(Some(PushReport {
        devices: p.devices,
        file_bits: bits,
        d_min_bps: d_min,
        peers_upload_bps: peers,
        server_bps: server,
        client_server_time_s: cs,
        p2p_time_s: p2p,
        deadline_s: p.deadline,
        min_server_client_server_bps: min_cs,
        min_server_p2p_bps: min_p2p,
        server_cost_client_server_usd: cost(min_cs)?,
        server_cost_p2p_usd: cost(min_p2p)?,
    }))
}
