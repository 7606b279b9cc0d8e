//! TEMPORARY stub until the real unit parser lands.
#![allow(missing_docs)]
pub type Seconds = f64;
pub type Bytes = f64;
pub type BitsPerSec = f64;
pub type PerSec = f64;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension { Time, DataSize, BitRate, EventRate, Money, MoneyPerGb, MoneyPerMbpsMonth, MoneyPerKwh, Power, Dimensionless }
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError { #[error("bad quantity \"{0}\"")] Bad(String) }
pub fn parse_quantity(text: &str, dim: Dimension) -> Result<f64, UnitError> {
    let t = text.trim();
    let idx = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+')).unwrap_or(t.len());
    let (num, unit) = t.split_at(idx);
    let v: f64 = num.trim().parse().map_err(|_| UnitError::Bad(text.into()))?;
    let unit = unit.trim();
    let f = match (dim, unit) {
        (_, "") => 1.0,
        (Dimension::Time, "s") => 1.0, (Dimension::Time, "min") => 60.0, (Dimension::Time, "h") => 3600.0, (Dimension::Time, "d") => 86400.0,
        (Dimension::DataSize, "B") => 1.0, (Dimension::DataSize, "MB") => 1e6, (Dimension::DataSize, "GB") => 1e9,
        (Dimension::BitRate, "bps") => 1.0, (Dimension::BitRate, "Mbps") => 1e6, (Dimension::BitRate, "Gbps") => 1e9,
        (Dimension::EventRate, "/s") => 1.0, (Dimension::EventRate, "/min") => 1.0/60.0, (Dimension::EventRate, "/h") => 1.0/3600.0,
        _ => return Err(UnitError::Bad(text.into())),
    };
    Ok(v * f)
}
pub fn from_number(value: f64, _dim: Dimension) -> Result<f64, UnitError> {
    if value.is_finite() { Ok(value) } else { Err(UnitError::Bad(value.to_string())) }
}
pub fn format_quantity(value: f64, _dim: Dimension) -> String { format!("{value}") }
