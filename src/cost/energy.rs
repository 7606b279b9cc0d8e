//! Electricity cost of a device drawing a constant power (literature §7.4):
//!
//! ```text
//! cost = W × hours / 1000 × $/kWh          annual: hours = 8760 (365 days)
//! ```
//!
//! Which power to use is the caller's choice: for peer assistance the relevant draw is the
//! *marginal* power of serving while the device is on anyway (a few watts for a home gateway,
//! as in Nano Data Centers), or the whole idle draw for a PC kept awake only to serve. See
//! `models/costs.md`.

use serde::Serialize;

use crate::scenario::EnergyFactors;
use crate::units::{Usd, UsdPerKwh, Watts};

/// Bytes in an SI GB, the unit of the energy factors (money uses billing GB, 2^30 bytes).
pub const SI_GB: f64 = 1e9;

/// One architecture's energy per month and its parts (the energy view of `compare`).
/// `total_kwh` is the sum of the parts; `co2_kg` = total × `energy.carbon`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct EnergyUse {
    /// Origin data centre: its bytes × `energy.origin`, kWh.
    pub origin_kwh: f64,
    /// CDN: its bytes × `energy.cdn`, kWh.
    pub cdn_kwh: f64,
    /// Edge, metro and core transport: every delivered byte × `energy.network`, kWh.
    pub network_kwh: f64,
    /// Sharing peers' devices: their online hours × the peer device's power, kWh.
    pub peers_kwh: f64,
    /// Macro towers (wireless): towers × `wireless.tower_power` × hours, kWh.
    pub macro_kwh: f64,
    /// Femtocells (wireless): hosts × the femtocell's power × hours, kWh.
    pub femtocells_kwh: f64,
    /// Sum of the parts, kWh.
    pub total_kwh: f64,
    /// total × carbon intensity, kg CO2.
    pub co2_kg: f64,
}

impl EnergyUse {
    /// Close the account: the total of the parts and its CO2.
    pub fn finish(mut self, f: &EnergyFactors) -> Self {
        self.total_kwh = self.origin_kwh
            + self.cdn_kwh
            + self.network_kwh
            + self.peers_kwh
            + self.macro_kwh
            + self.femtocells_kwh;
        self.co2_kg = self.total_kwh * f.carbon_kg_per_kwh;
        self
    }
}

/// kWh of drawing `watts` W for `hours` h.
pub fn kwh(watts: Watts, hours: f64) -> f64 {
    watts * hours / 1000.0
}

/// Hours in a (non-leap) year: 365 × 24 = 8760.
pub const HOURS_PER_YEAR: f64 = 8760.0;

/// Cost, in $, of drawing `watts` W for `hours` h at `usd_per_kwh` $/kWh:
/// `watts × hours / 1000 × usd_per_kwh`. Meaningful for finite inputs ≥ 0; no range is
/// enforced (the product of valid inputs is always valid).
pub fn energy_cost(watts: Watts, hours: f64, usd_per_kwh: UsdPerKwh) -> Usd {
    watts * hours / 1000.0 * usd_per_kwh
}

/// Cost, in $, of drawing `watts` W all year (8760 h) at `usd_per_kwh` $/kWh:
/// `watts × 8760 / 1000 × usd_per_kwh`.
pub fn annual_energy_cost(watts: Watts, usd_per_kwh: UsdPerKwh) -> Usd {
    energy_cost(watts, HOURS_PER_YEAR, usd_per_kwh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    /// Money rows of literature §7.4 are given to the cent.
    const CENT: f64 = 0.01;

    /// Literature §7.4: home server 160 W × 8760 h = 1401.6 kWh × $0.36 = $504.58/yr
    /// (codinghorror.com's own arithmetic).
    #[test]
    fn home_server_160w() {
        assert_abs_diff_eq!(annual_energy_cost(160.0, 0.36), 504.58, epsilon = CENT);
        assert_abs_diff_eq!(160.0 * HOURS_PER_YEAR / 1000.0, 1401.6, epsilon = 1e-9);
    }

    /// Literature §7.4: HTPC 65 W at the U.S. residential average of Jan 2024 (15.45 ¢/kWh)
    /// = $87.97/yr.
    #[test]
    fn htpc_65w() {
        assert_abs_diff_eq!(annual_energy_cost(65.0, 0.1545), 87.97, epsilon = CENT);
    }

    /// Literature §7.4: 10 W at the U.S. residential average of Apr 2024 (16.88 ¢/kWh)
    /// = $14.79/yr.
    #[test]
    fn ten_watts() {
        assert_abs_diff_eq!(annual_energy_cost(10.0, 0.1688), 14.79, epsilon = CENT);
    }

    #[test]
    fn energy_cost_is_linear_in_hours() {
        // One 30-day month of 10 W at $0.1688 is 720/8760 of the annual cost.
        assert_abs_diff_eq!(
            energy_cost(10.0, 720.0, 0.1688),
            annual_energy_cost(10.0, 0.1688) * 720.0 / 8760.0,
            epsilon = 1e-12
        );
        assert_abs_diff_eq!(energy_cost(0.0, 8760.0, 0.36), 0.0);
        assert_abs_diff_eq!(energy_cost(1000.0, 1.0, 0.25), 0.25, epsilon = 1e-15);
    }
}
