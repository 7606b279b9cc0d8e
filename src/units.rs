//! Unit-aware quantities: scenario values such as `"2 Mbps"`, `"1.5 GB"`, `"30 min"`,
//! `"0.02 $/GB"` become `f64` in base units.
//!
//! Base units: seconds, bytes, bit/s, events per second, US dollars, $ per GB (GB = 2^30 bytes,
//! as CDNs bill), $ per Mbps per month, $ per kWh, watts. A bare number (in the file or in a
//! string without a unit) is taken in base units. SI prefixes are case-sensitive where it
//! matters (`MB` is 10^6 bytes, `MiB` 2^20; `Mbps` is 10^6 bit/s). Ranges are checked by the
//! caller (`scenario`), not here: a sign is allowed.

/// Time in seconds.
pub type Seconds = f64;
/// Data size in bytes.
pub type Bytes = f64;
/// Bandwidth in bit/s.
pub type BitsPerSec = f64;
/// Event rate in 1/s.
pub type PerSec = f64;
/// Money in US dollars.
pub type Usd = f64;
/// Price per billing GB (2^30 bytes).
pub type UsdPerGb = f64;
/// Price per Mbps per month.
pub type UsdPerMbpsMonth = f64;
/// Price per kWh.
pub type UsdPerKwh = f64;
/// Power in watts.
pub type Watts = f64;

/// What kind of quantity a key expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Seconds.
    Time,
    /// Bytes.
    DataSize,
    /// bit/s.
    BitRate,
    /// 1/s.
    EventRate,
    /// $.
    Money,
    /// $/GB (GB = 2^30 bytes).
    MoneyPerGb,
    /// $/Mbps/month.
    MoneyPerMbpsMonth,
    /// $/kWh.
    MoneyPerKwh,
    /// W.
    Power,
    /// A plain number (or a percentage).
    Dimensionless,
}

const ALL: [Dimension; 10] = [
    Dimension::Time,
    Dimension::DataSize,
    Dimension::BitRate,
    Dimension::EventRate,
    Dimension::Money,
    Dimension::MoneyPerGb,
    Dimension::MoneyPerMbpsMonth,
    Dimension::MoneyPerKwh,
    Dimension::Power,
    Dimension::Dimensionless,
];

const GIB: f64 = 1_073_741_824.0;

impl Dimension {
    /// "a duration", "a data size", …
    pub fn describe(self) -> &'static str {
        match self {
            Self::Time => "a duration",
            Self::DataSize => "a data size",
            Self::BitRate => "a bandwidth",
            Self::EventRate => "a rate",
            Self::Money => "an amount of money",
            Self::MoneyPerGb => "a price per GB",
            Self::MoneyPerMbpsMonth => "a price per Mbps per month",
            Self::MoneyPerKwh => "a price per kWh",
            Self::Power => "a power",
            Self::Dimensionless => "a number",
        }
    }
    /// Base unit symbol.
    pub fn base_unit(self) -> &'static str {
        match self {
            Self::Time => "s",
            Self::DataSize => "B",
            Self::BitRate => "bit/s",
            Self::EventRate => "1/s",
            Self::Money => "$",
            Self::MoneyPerGb => "$/GB",
            Self::MoneyPerMbpsMonth => "$/Mbps/month",
            Self::MoneyPerKwh => "$/kWh",
            Self::Power => "W",
            Self::Dimensionless => "",
        }
    }
    /// An example value for messages.
    pub fn examples(self) -> &'static str {
        match self {
            Self::Time => "\"30 min\"",
            Self::DataSize => "\"1.5 GB\"",
            Self::BitRate => "\"2 Mbps\"",
            Self::EventRate => "\"1/s\"",
            Self::Money => "\"$1000\"",
            Self::MoneyPerGb => "\"0.02 $/GB\"",
            Self::MoneyPerMbpsMonth => "\"1.5 $/Mbps/month\"",
            Self::MoneyPerKwh => "\"0.15 $/kWh\"",
            Self::Power => "\"10 W\"",
            Self::Dimensionless => "\"0.9\"",
        }
    }
    /// Accepted unit spellings and their factors to the base unit.
    fn table(self) -> &'static [(&'static str, f64)] {
        match self {
            Self::Time => &[
                ("ms", 1e-3),
                ("s", 1.0),
                ("sec", 1.0),
                ("seconds", 1.0),
                ("min", 60.0),
                ("minutes", 60.0),
                ("h", 3600.0),
                ("hr", 3600.0),
                ("hours", 3600.0),
                ("d", 86_400.0),
                ("day", 86_400.0),
                ("days", 86_400.0),
                ("w", 604_800.0),
                ("week", 604_800.0),
                ("weeks", 604_800.0),
            ],
            Self::DataSize => &[
                ("B", 1.0),
                ("kB", 1e3),
                ("KB", 1e3),
                ("MB", 1e6),
                ("GB", 1e9),
                ("TB", 1e12),
                ("PB", 1e15),
                ("KiB", 1024.0),
                ("MiB", 1_048_576.0),
                ("GiB", GIB),
                ("TiB", GIB * 1024.0),
                ("PiB", GIB * 1_048_576.0),
                ("bit", 0.125),
                ("kbit", 125.0),
                ("Mbit", 125e3),
                ("Gbit", 125e6),
            ],
            Self::BitRate => &[
                ("bps", 1.0),
                ("kbps", 1e3),
                ("Mbps", 1e6),
                ("Gbps", 1e9),
                ("Tbps", 1e12),
                ("bit/s", 1.0),
                ("kbit/s", 1e3),
                ("Mbit/s", 1e6),
                ("Gbit/s", 1e9),
                ("B/s", 8.0),
                ("kB/s", 8e3),
                ("MB/s", 8e6),
                ("GB/s", 8e9),
            ],
            Self::EventRate => &[
                ("/s", 1.0),
                ("/sec", 1.0),
                ("/min", 1.0 / 60.0),
                ("/h", 1.0 / 3600.0),
                ("/hr", 1.0 / 3600.0),
                ("/hour", 1.0 / 3600.0),
                ("/d", 1.0 / 86_400.0),
                ("/day", 1.0 / 86_400.0),
                ("/w", 1.0 / 604_800.0),
                ("/week", 1.0 / 604_800.0),
                ("Hz", 1.0),
            ],
            Self::Money => &[("$", 1.0), ("USD", 1.0)],
            Self::MoneyPerGb => &[
                ("$/GB", 1.0),
                ("$/GiB", 1.0),
                ("$/TB", 1.0 / 1024.0),
                ("$/TiB", 1.0 / 1024.0),
                ("USD/GB", 1.0),
            ],
            Self::MoneyPerMbpsMonth => &[("$/Mbps/month", 1.0), ("$/Mbps/mo", 1.0)],
            Self::MoneyPerKwh => &[("$/kWh", 1.0), ("c/kWh", 0.01), ("¢/kWh", 0.01)],
            Self::Power => &[("W", 1.0), ("kW", 1e3), ("mW", 1e-3)],
            Self::Dimensionless => &[("%", 0.01)],
        }
    }
    /// The display ladder used by `format_quantity`, smallest unit first.
    fn ladder(self) -> &'static [(&'static str, f64)] {
        match self {
            Self::Time => &[
                ("ms", 1e-3),
                ("s", 1.0),
                ("min", 60.0),
                ("h", 3600.0),
                ("d", 86_400.0),
            ],
            Self::DataSize => &[
                ("B", 1.0),
                ("kB", 1e3),
                ("MB", 1e6),
                ("GB", 1e9),
                ("TB", 1e12),
                ("PB", 1e15),
            ],
            Self::BitRate => &[
                ("bps", 1.0),
                ("kbps", 1e3),
                ("Mbps", 1e6),
                ("Gbps", 1e9),
                ("Tbps", 1e12),
            ],
            Self::EventRate => &[
                ("/d", 1.0 / 86_400.0),
                ("/h", 1.0 / 3600.0),
                ("/min", 1.0 / 60.0),
                ("/s", 1.0),
            ],
            Self::Power => &[("mW", 1e-3), ("W", 1.0), ("kW", 1e3)],
            Self::Money => &[("$", 1.0)],
            Self::MoneyPerGb => &[("$/GB", 1.0)],
            Self::MoneyPerMbpsMonth => &[("$/Mbps/month", 1.0)],
            Self::MoneyPerKwh => &[("$/kWh", 1.0)],
            Self::Dimensionless => &[("", 1.0)],
        }
    }
    fn unit_list(self) -> String {
        let units: Vec<&str> = self.table().iter().map(|(u, _)| *u).collect();
        let base = match self {
            Self::Dimensionless => "a bare number".to_string(),
            _ => format!("a bare number in {}", self.base_unit()),
        };
        format!("{} takes: {}, or {base}", self.describe(), units.join(", "))
    }
}

/// Why a quantity could not be parsed. The text is user-facing and is shown after the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Nothing was given.
    #[error("empty value; expected {} such as {}", .expected.describe(), .expected.examples())]
    Empty {
        /// What the key expects.
        expected: Dimension,
    },
    /// The text does not start with a number.
    #[error("\"{text}\" does not start with a number; expected {} such as {}", .expected.describe(), .expected.examples())]
    NoNumber {
        /// The text.
        text: String,
        /// What the key expects.
        expected: Dimension,
    },
    /// NaN or infinite.
    #[error("\"{text}\" is not a finite number")]
    NotFinite {
        /// The text.
        text: String,
        /// What the key expects.
        expected: Dimension,
    },
    /// The unit is not known for any dimension.
    #[error("unknown unit \"{unit}\" in \"{text}\"; {}({})", .suggestion.map(|s| format!("did you mean \"{s}\"? ")).unwrap_or_default(), .expected.unit_list())]
    UnknownUnit {
        /// The text.
        text: String,
        /// The unit part.
        unit: String,
        /// What the key expects.
        expected: Dimension,
        /// Closest accepted spelling, if any is close.
        suggestion: Option<&'static str>,
    },
    /// The unit belongs to another dimension.
    #[error("\"{text}\" is {}, but {} is expected here (such as {})", .found.describe(), .expected.describe(), .expected.examples())]
    WrongKind {
        /// The text.
        text: String,
        /// Its dimension.
        found: Dimension,
        /// What the key expects.
        expected: Dimension,
    },
}

/// A bare TOML number is taken in base units; NaN and ±inf are rejected.
pub fn from_number(value: f64, dim: Dimension) -> Result<f64, UnitError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(UnitError::NotFinite {
            text: value.to_string(),
            expected: dim,
        })
    }
}

/// Split `text` into its leading number and the rest.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i == digits_start {
        return None;
    }
    // exponent: e or E followed by an optional sign and at least one digit
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    text[..i].parse::<f64>().ok().map(|v| (v, &text[i..]))
}

/// Unit text in canonical form: whitespace removed, "per x" → "/x".
fn canonical_unit(rest: &str) -> String {
    let rest = rest.trim();
    let rest = rest
        .strip_prefix("per ")
        .map_or_else(|| rest.to_string(), |r| format!("/{}", r.trim()));
    let rest = match rest.as_str() {
        "/second" => "/s".to_string(),
        "/minute" => "/min".to_string(),
        _ => rest,
    };
    rest.split_whitespace().collect()
}

fn lookup(dim: Dimension, unit: &str) -> Option<f64> {
    dim.table()
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, f)| *f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parse `text` as a quantity of dimension `dim`, returning base units.
pub fn parse_quantity(text: &str, dim: Dimension) -> Result<f64, UnitError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(UnitError::Empty { expected: dim });
    }
    let lower = trimmed.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if lower.starts_with("nan") || lower.starts_with("inf") {
        return Err(UnitError::NotFinite {
            text: trimmed.to_string(),
            expected: dim,
        });
    }
    // A leading "$" belongs to the unit: "$0.02/GB" → 0.02 "$/GB"; "$12" → 12 "$".
    let (dollar, body) = match trimmed.strip_prefix('$') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, trimmed),
    };
    let Some((value, rest)) = split_number(body) else {
        return Err(UnitError::NoNumber {
            text: trimmed.to_string(),
            expected: dim,
        });
    };
    let mut unit = canonical_unit(rest);
    if dollar {
        unit = format!("${unit}");
    }
    if unit.is_empty() {
        return Ok(value);
    }
    if let Some(f) = lookup(dim, &unit) {
        return Ok(value * f);
    }
    if let Some(found) = ALL
        .iter()
        .copied()
        .find(|d| *d != dim && lookup(*d, &unit).is_some())
    {
        return Err(UnitError::WrongKind {
            text: trimmed.to_string(),
            found,
            expected: dim,
        });
    }
    let suggestion = dim
        .table()
        .iter()
        .map(|(u, _)| (edit_distance(u, &unit), *u))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, u)| u);
    Err(UnitError::UnknownUnit {
        text: trimmed.to_string(),
        unit,
        expected: dim,
        suggestion,
    })
}

/// Up to 4 significant digits, trailing zeros trimmed.
fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (3 - mag).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Format a base-unit value for people, choosing the largest unit of the dimension's ladder
/// in which the value is at least 1: `format_quantity(2e6, BitRate) == "2 Mbps"`.
pub fn format_quantity(value: f64, dim: Dimension) -> String {
    let ladder = dim.ladder();
    let base = ladder
        .iter()
        .copied()
        .find(|(_, f)| (*f - 1.0).abs() < 1e-15);
    let (unit, factor) = if value == 0.0 {
        base.unwrap_or(ladder[0])
    } else {
        ladder
            .iter()
            .rev()
            .find(|(_, f)| value.abs() >= *f)
            .copied()
            .unwrap_or(ladder[0])
    };
    let n = short_number(value / factor);
    match (dim, unit) {
        (Dimension::Dimensionless, _) => n,
        (Dimension::Money, _) => format!("${n}"),
        (Dimension::EventRate, u) => format!("{n}{u}"),
        (_, u) => format!("{n} {u}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dimension::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
    }

    fn p(text: &str, dim: Dimension) -> f64 {
        parse_quantity(text, dim).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_table_entry_parses() {
        for dim in ALL {
            for (u, f) in dim.table() {
                let text = format!("2.5 {u}");
                assert!(close(p(&text, dim), 2.5 * f), "{text}");
            }
        }
    }

    #[test]
    fn brief_examples() {
        assert!(close(p("2 Mbps", BitRate), 2e6));
        assert!(close(p("1.5 GB", DataSize), 1.5e9));
        assert!(close(p("1 GiB", DataSize), 1_073_741_824.0));
        assert!(close(p("30 min", Time), 1800.0));
        assert!(close(p("7 d", Time), 604_800.0));
        assert!(close(p("0.02 $/GB", MoneyPerGb), 0.02));
        assert!(close(p("$0.02/GB", MoneyPerGb), 0.02));
        assert!(close(p("3/min", EventRate), 0.05));
        assert!(close(p("1/s", EventRate), 1.0));
        assert!(close(p("2 per hour", EventRate), 2.0 / 3600.0));
        assert!(close(p("85 %", Dimensionless), 0.85));
        assert!(close(p("15 c/kWh", MoneyPerKwh), 0.15));
        assert!(close(p("1e9", DataSize), 1e9));
        assert!(close(p("1.5e-3 s", Time), 1.5e-3));
        assert!(close(p("$12.5", Money), 12.5));
        assert!(close(p("2MB/s", BitRate), 16e6));
    }

    #[test]
    fn error_messages() {
        let e = |t: &str, d| parse_quantity(t, d).expect_err("must fail").to_string();
        assert_eq!(
            e("", DataSize),
            "empty value; expected a data size such as \"1.5 GB\""
        );
        assert_eq!(
            e("abc", BitRate),
            "\"abc\" does not start with a number; expected a bandwidth such as \"2 Mbps\""
        );
        assert_eq!(
            e("inf Mbps", BitRate),
            "\"inf Mbps\" is not a finite number"
        );
        assert_eq!(e("NaN", Time), "\"NaN\" is not a finite number");
        assert_eq!(
            e("2 GB", BitRate),
            "\"2 GB\" is a data size, but a bandwidth is expected here (such as \"2 Mbps\")"
        );
        assert_eq!(
            e("2 Mbsp", BitRate),
            "unknown unit \"Mbsp\" in \"2 Mbsp\"; did you mean \"Mbps\"? (a bandwidth takes: bps, kbps, Mbps, Gbps, Tbps, bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, MB/s, GB/s, or a bare number in bit/s)"
        );
        assert_eq!(
            e("3 fortnights", Time),
            "unknown unit \"fortnights\" in \"3 fortnights\"; (a duration takes: ms, s, sec, seconds, min, minutes, h, hr, hours, d, day, days, w, week, weeks, or a bare number in s)"
        );
    }

    #[test]
    fn bare_numbers() {
        assert!(close(from_number(3.0, Time).expect("finite"), 3.0));
        assert!(from_number(f64::NAN, Time).is_err());
        assert!(from_number(f64::INFINITY, Time).is_err());
        assert!(close(p("42", BitRate), 42.0));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_quantity(2e6, BitRate), "2 Mbps");
        assert_eq!(format_quantity(5400.0, Time), "1.5 h");
        assert_eq!(format_quantity(1.5e9, DataSize), "1.5 GB");
        assert_eq!(format_quantity(0.0, Time), "0 s");
        assert_eq!(format_quantity(0.001, EventRate), "3.6/h");
        assert_eq!(format_quantity(123_456.0, Time), "1.429 d");
        assert_eq!(format_quantity(0.85, Dimensionless), "0.85");
    }
}
