//! Wireless offload: smartphone demand over a day, served by macro towers and by femtocells
//! (or open Wi-Fi) that a share of users host at home. Closed forms and quadrature over one
//! day; no ODE. Card: `models/wireless.md`.
//!
//! ```text
//! r(t)   = r̄ · f(t)                          per-user demand, bit/s; r̄ = 8 D / month
//! f(t)   = exp(κ cos(2π (t − t_b)/day)) / I₀(κ)  mean 1 over the day (von Mises shape)
//! κ      : the busiest hour [t_b − ½ h, t_b + ½ h] carries a share b of the day's bytes
//! k(h)   = i · (1 + ω (1 − h))               what one host's femtocell would carry, per r
//! F(t)   = N h · min(u, k(h) r(t))            femtocells' rate (u: host uplink)
//! R(t)   = N r(t) − F(t)                      macro (residual) rate
//! R_bh   = (1 / 1 h) ∫_busy hour R(t) dt       the busy-hour load the towers must carry
//! towers = ⌈R_bh / c_tower⌉                    (R_bh / c_tower in the fluid game)
//! ```
//!
//! Non-hosts' home traffic is within reach of an open femtocell with probability ω·h (the
//! chance that a neighbour hosts, scaled by how much of a home's traffic a neighbour's cell
//! reaches); spread over the N h hosts that is ω (1 − h) i r per host.

pub use crate::scenario::spec::{Offload, DAY, FLAT_SHARE, MAX_BUSY_SHARE};
use crate::units::{BitsPerSec, Bytes, Seconds};

/// One hour, s.
pub const HOUR: Seconds = 3_600.0;
/// A fractional tower count within this of an integer from above counts as that integer
/// (rounding in R_bh / c_tower must not buy a tower).
pub const TOWER_ROUNDING: f64 = 1e-9;

/// Panels of the composite Gauss–Legendre rules over the day and over the busy hour.
const DAY_PANELS: usize = 96;
const HOUR_PANELS: usize = 16;
/// 5-point Gauss–Legendre on [−1, 1].
const GL5: [(f64, f64); 5] = [
    (0.0, 0.568_888_888_888_888_9),
    (-0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (-0.906_179_845_938_664, 0.236_926_885_056_189_08),
    (0.906_179_845_938_664, 0.236_926_885_056_189_08),
];

/// The day at a given hosts' share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OffloadDay {
    /// Hosts' share h.
    pub hosts: f64,
    /// Bytes per day asked for by all users.
    pub demand_bytes: Bytes,
    /// Bytes per day the femtocells carry.
    pub femto_bytes: Bytes,
    /// Bytes per day the macro network carries.
    pub macro_bytes: Bytes,
    /// Busy-hour demand of all users, bit/s (hour average).
    pub busy_demand_bps: BitsPerSec,
    /// Busy-hour macro load R_bh, bit/s (hour average).
    pub busy_macro_bps: BitsPerSec,
    /// R_bh / c_tower: towers as a real number (the fluid game's).
    pub towers_fluid: f64,
    /// ⌈R_bh / c_tower⌉: towers to build.
    pub towers: u64,
}

impl Offload {
    /// r̄: mean demand per user, bit/s.
    pub fn mean_rate(&self) -> BitsPerSec {
        8.0 * self.demand / self.month
    }

    /// The daily shape for the busy-hour share b (κ by bisection on the monotone share(κ)).
    pub fn profile(&self) -> Profile {
        Profile::new(kappa_for_share(self.busy_hour_share))
    }

    /// k(h): what one host's femtocell would carry per unit of per-user demand.
    pub fn per_host_factor(&self, h: f64) -> f64 {
        self.home_share * (1.0 + self.neighbour_share * (1.0 - h))
    }

    /// Rates at time t (s after midnight) with hosts' share h: (demand, femtocells, macro),
    /// all users together, bit/s.
    pub fn rates(&self, p: &Profile, h: f64, t: Seconds) -> (f64, f64, f64) {
        let r = self.mean_rate() * p.at(t - self.busy_hour);
        let demand = self.users * r;
        let femto = if h > 0.0 {
            self.users * h * self.host_uplink.min(self.per_host_factor(h) * r)
        } else {
            0.0
        };
        (demand, femto, demand - femto)
    }

    /// Whether a femtocell's carried rate k(h) r(t) stays within the uplink all day (then
    /// every integral has a closed form).
    fn uncapped(&self, p: &Profile, h: f64) -> bool {
        self.per_host_factor(h) * self.mean_rate() * p.peak() <= self.host_uplink
    }

    /// The day at hosts' share h: bytes, the busy-hour load and the towers it needs. Closed
    /// forms when the uplink never binds (bytes = N D/month·day, busy hour = 24 b N r̄, the
    /// femtocells' share h k(h) of both); otherwise 5-point Gauss–Legendre on 96 panels over the
    /// day and 16 over the busy hour.
    pub fn day(&self, p: &Profile, h: f64) -> OffloadDay {
        if self.uncapped(p, h) {
            let share = if h > 0.0 {
                h * self.per_host_factor(h)
            } else {
                0.0
            };
            let dem = self.users * self.mean_rate() * DAY / 8.0;
            let busy = 24.0 * p.busy_share() * self.users * self.mean_rate();
            let macro_bps = busy * (1.0 - share);
            let towers_fluid = macro_bps / self.tower_capacity;
            return OffloadDay {
                hosts: h,
                demand_bytes: dem,
                femto_bytes: dem * share,
                macro_bytes: dem * (1.0 - share),
                busy_demand_bps: busy,
                busy_macro_bps: macro_bps,
                towers_fluid,
                towers: towers_needed(towers_fluid),
            };
        }
        self.day_by_quadrature(p, h)
    }

    /// [`Offload::day`] by quadrature whatever the cap (the closed forms' check).
    pub fn day_by_quadrature(&self, p: &Profile, h: f64) -> OffloadDay {
        // Bytes over the day, composite Gauss–Legendre (the integrand is periodic and smooth
        // but for the kink where the uplink cap starts to bind).
        let (mut dem, mut femto) = (0.0, 0.0);
        integrate(0.0, DAY, DAY_PANELS, |t, w| {
            let (d, f, _) = self.rates(p, h, t);
            dem += w * d;
            femto += w * f;
        });
        let (mut bd, mut bm) = (0.0, 0.0);
        integrate(
            self.busy_hour - 0.5 * HOUR,
            self.busy_hour + 0.5 * HOUR,
            HOUR_PANELS,
            |t, w| {
                let (d, _, m) = self.rates(p, h, t);
                bd += w * d;
                bm += w * m;
            },
        );
        let (busy_demand_bps, busy_macro_bps) = (bd / HOUR, bm / HOUR);
        let towers_fluid = busy_macro_bps / self.tower_capacity;
        OffloadDay {
            hosts: h,
            demand_bytes: dem / 8.0,
            femto_bytes: femto / 8.0,
            macro_bytes: (dem - femto) / 8.0,
            busy_demand_bps,
            busy_macro_bps,
            towers_fluid,
            towers: towers_needed(towers_fluid),
        }
    }
}

/// ⌈x⌉ for a tower count, forgiving rounding just above an integer ([`TOWER_ROUNDING`]).
pub fn towers_needed(x: f64) -> u64 {
    if x <= 0.0 {
        0
    } else {
        (x - TOWER_ROUNDING).ceil().max(0.0) as u64
    }
}

/// Calls `f(t, weight)` at the nodes of an n-panel 5-point Gauss–Legendre rule on [a, b].
fn integrate(a: f64, b: f64, panels: usize, mut f: impl FnMut(f64, f64)) {
    let h = (b - a) / panels as f64;
    for p in 0..panels {
        let mid = a + (p as f64 + 0.5) * h;
        for (x, w) in GL5 {
            f(mid + 0.5 * h * x, 0.5 * h * w);
        }
    }
}

/// e^{κ(cos θ − 1)} averaged over a full turn: I₀(κ) e^{−κ} (scaled, no overflow).
fn i0_scaled(kappa: f64) -> f64 {
    let mut acc = 0.0;
    integrate(0.0, std::f64::consts::PI, 64, |th, w| {
        acc += w * (kappa * (th.cos() - 1.0)).exp();
    });
    acc / std::f64::consts::PI
}

/// The daily shape f(t) = e^{κ cos(2π t/day)} / I₀(κ), t from the peak; mean 1 over a day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// κ ≥ 0 (0: a flat day).
    pub kappa: f64,
    /// I₀(κ) e^{−κ}.
    norm: f64,
    /// Share of the day's bytes in the busy hour (cached).
    share: f64,
}

impl Profile {
    /// The shape of concentration κ.
    pub fn new(kappa: f64) -> Self {
        let mut p = Self {
            kappa,
            norm: i0_scaled(kappa),
            share: 0.0,
        };
        p.share = p.hour_share();
        p
    }

    /// f at the peak: e^0 / (I₀(κ) e^{−κ}).
    pub fn peak(&self) -> f64 {
        1.0 / self.norm
    }

    /// f at offset `dt` (s) from the peak.
    pub fn at(&self, dt: Seconds) -> f64 {
        let th = 2.0 * std::f64::consts::PI * dt / DAY;
        (self.kappa * (th.cos() - 1.0)).exp() / self.norm
    }

    /// Share of the day's bytes in the hour centred on the peak.
    pub fn busy_share(&self) -> f64 {
        self.share
    }

    fn hour_share(&self) -> f64 {
        let mut acc = 0.0;
        integrate(-0.5 * HOUR, 0.5 * HOUR, HOUR_PANELS, |t, w| {
            acc += w * self.at(t);
        });
        acc / DAY
    }
}

/// Share of the day's bytes in the hour centred on the peak, for concentration κ.
pub fn busy_share(kappa: f64) -> f64 {
    Profile::new(kappa).busy_share()
}

/// κ such that [`busy_share`] = b, for b in [1/24, 1/2] (bisection; share(κ) increases).
pub fn kappa_for_share(b: f64) -> f64 {
    if b <= FLAT_SHARE {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while busy_share(hi) < b && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if busy_share(mid) < b {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn base() -> Offload {
        Offload {
            users: 1e5,
            demand: 11.3e9,
            month: 30.0 * DAY,
            busy_hour_share: 0.12,
            busy_hour: 21.0 * HOUR,
            home_share: 0.7,
            neighbour_share: 0.0,
            host_uplink: 1e12,
            tower_capacity: 140e6,
        }
    }

    /// The shape has mean 1 and its busy hour carries exactly b (the definition of κ).
    #[test]
    fn shape_mean_one_and_busy_share() {
        for b in [FLAT_SHARE, 0.06, 0.12, 0.3, 0.5] {
            let k = kappa_for_share(b);
            let p = Profile::new(k);
            let mut mean = 0.0;
            integrate(0.0, DAY, DAY_PANELS, |t, w| mean += w * p.at(t));
            assert_relative_eq!(mean / DAY, 1.0, max_relative = 1e-10);
            assert_relative_eq!(busy_share(k), b, max_relative = 1e-9);
        }
    }

    /// Uncapped, closed forms: bytes = N D / month × day; busy-hour demand = 24 b N r̄;
    /// femtocells carry h k(h) of both.
    #[test]
    fn uncapped_closed_forms() {
        let mut m = base();
        m.neighbour_share = 0.5;
        let h = 0.3;
        let d = m.day_by_quadrature(&m.profile(), h);
        let daily = m.users * m.demand / m.month * DAY;
        let k = m.per_host_factor(h);
        assert_relative_eq!(d.demand_bytes, daily, max_relative = 1e-10);
        assert_relative_eq!(d.femto_bytes, h * k * daily, max_relative = 1e-10);
        let busy = 24.0 * m.busy_hour_share * m.users * m.mean_rate();
        assert_relative_eq!(d.busy_demand_bps, busy, max_relative = 1e-9);
        assert_relative_eq!(d.busy_macro_bps, busy * (1.0 - h * k), max_relative = 1e-9);
    }

    /// With a cap below the per-host rate at every hour, each host carries exactly u.
    #[test]
    fn cap_binding_all_day() {
        let mut m = base();
        m.host_uplink = 1.0; // 1 bit/s: far below any hour's per-host demand
        let d = m.day_by_quadrature(&m.profile(), 0.5);
        assert_relative_eq!(
            d.femto_bytes,
            m.users * 0.5 * 1.0 * DAY / 8.0,
            max_relative = 1e-12
        );
    }

    /// The closed forms used when the uplink never binds equal the quadrature.
    #[test]
    fn closed_forms_equal_quadrature() {
        let mut m = base();
        m.neighbour_share = 0.4;
        let p = m.profile();
        for h in [0.0, 0.1, 0.5, 1.0] {
            let (a, b) = (m.day(&p, h), m.day_by_quadrature(&p, h));
            assert_relative_eq!(a.demand_bytes, b.demand_bytes, max_relative = 1e-10);
            assert_relative_eq!(
                a.femto_bytes,
                b.femto_bytes,
                max_relative = 1e-10,
                epsilon = 1e-6
            );
            assert_relative_eq!(a.busy_macro_bps, b.busy_macro_bps, max_relative = 1e-10);
            assert_eq!(a.towers, b.towers);
        }
    }

    #[test]
    fn towers_round_up_but_forgive_rounding() {
        assert_eq!(towers_needed(0.0), 0);
        assert_eq!(towers_needed(3.0), 3);
        assert_eq!(towers_needed(3.0 + 1e-12), 3);
        assert_eq!(towers_needed(3.001), 4);
        assert_eq!(towers_needed(2.999), 3);
    }
}
