//! Shared helpers for the integration tests.

use peerfluid::scenario::Scenario;

/// A single-class Qiu–Srikant scenario in the literature's normalised units: file size 1 byte
/// (8 bits), so rates in bit/s are 8 × files/s. `gamma = None` means seeds leave at once.
#[allow(clippy::too_many_arguments)]
pub fn qs_toml(
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: Option<f64>,
    s: f64,
    demand_extra: &str,
) -> String {
    let residence = gamma.map_or(0.0, |g| 1.0 / g);
    format!(
        "name = \"qs\"\n\
         [content]\nsize = 1\n\
         [demand]\narrival_rate = {lambda:?}\n{demand_extra}\n\
         [swarm]\nefficiency = {eta:?}\nabort_rate = {theta:?}\nseed_residence = {residence:?}\n\
         [peers]\nupload = {:?}\ndownload = {:?}\n\
         [server]\ncapacity = {:?}\n",
        8.0 * mu,
        8.0 * c,
        8.0 * s
    )
}

/// Parse and validate TOML text (panics with the error: tests only).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "test.toml", None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Validation error text for TOML text.
pub fn error_of(text: &str) -> String {
    match Scenario::from_toml(text, "bad.toml", None) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}
