//! Unit-aware quantities: the strings of scenario files (`"2 Mbps"`, `"30 min"`, `"0.02 $/GB"`)
//! turned into plain `f64`s in base units, and base-unit values turned back into text.
//!
//! A quantity is a number followed by an optional unit: `"<number> <unit>"`.
//!
//! * The number is an integer, a decimal or an exponent form (`2`, `1.5`, `.5`, `1e9`,
//!   `2.5E-3`), with an optional leading `+` or `-` (ranges are checked by the caller).
//! * Whitespace between number and unit is optional (`"2Mbps"` = `"2 Mbps"`); whitespace
//!   around `/` is ignored and the word `per` means `/` (`"3 per min"` = `"3/min"`,
//!   `"0.02 $ per GB"` = `"0.02 $/GB"`).
//! * Units are case-sensitive, because SI prefixes are (`mW` is not `MW`).
//! * A bare number, with no unit, is taken in base units, as is a bare TOML number
//!   ([`from_number`]).
//! * Money may put the dollar first: `"$12.5"`, `"$0.02/GB"`.
//!
//! | Dimension           | Base unit      | Accepted units                                         |
//! |---------------------|----------------|--------------------------------------------------------|
//! | `Time`              | `s`            | `ms s sec second(s) min minute(s) h hr hour(s) d day(s) w week(s)` |
//! | `DataSize`          | `B`            | `B`; SI ×1000: `kB KB MB GB TB PB`; binary ×1024: `KiB MiB GiB TiB PiB`; bits ÷8: `bit kbit Mbit Gbit` |
//! | `BitRate`           | `bit/s`        | `bps kbps Mbps Gbps Tbps bit/s kbit/s Mbit/s Gbit/s`; bytes ×8: `B/s kB/s MB/s GB/s` |
//! | `EventRate`         | `1/s`          | `/s /sec /second /min /minute /h /hr /hour /d /day /w /week Hz` (`"3/min"`) |
//! | `Money`             | `$`            | `$ USD` (`"$12.5"`, `"12.5 $"`)                        |
//! | `MoneyPerGb`        | `$/GB`         | `$/GB $/GiB USD/GB USD/GiB` (×1), `$/TB $/TiB USD/TB USD/TiB` (÷1024) |
//! | `MoneyPerMbpsMonth` | `$/Mbps/month` | `$/Mbps/month $/Mbps/mo USD/Mbps/month USD/Mbps/mo`, `$/Gbps/month $/Gbps/mo` (÷1000) |
//! | `MoneyPerKwh`       | `$/kWh`        | `$/kWh USD/kWh $/MWh`, cents: `c/kWh ¢/kWh` (÷100)     |
//! | `Power`             | `W`            | `mW W kW MW`                                           |
//! | `EnergyPerGb`       | `kWh/GB`       | `kWh/GB Wh/GB kWh/TB MWh/TB`; per bit: `J/bit mJ/bit µJ/bit uJ/bit nJ/bit` |
//! | `CarbonIntensity`   | `kg/kWh`       | `kg/kWh kgCO2/kWh kgCO2e/kWh g/kWh gCO2/kWh gCO2e/kWh t/MWh lb/MWh` |
//! | `Dimensionless`     | (none)         | bare number, or `%` (÷100)                             |
//!
//! Energy per GB uses SI GB = 10^9 bytes, as the energy literature does (1 nJ/bit = 8 J/GB =
//! 2.2e-6 kWh/GB). Years (`y yr year years`) are 365 days.
//!
//! Billing GB: in prices, "GB" means 2^30 bytes (as cloud providers bill), so `$/GB` and `$/GiB`
//! are the same unit and `$/TB` is per 1024 GB. Data sizes, in contrast, use SI `GB` = 10^9 B.
//! A `$/Mbps/month` price is returned as written: the base unit is "$ per Mbps per month".
//!
//! Errors ([`UnitError`]) are worded for users and never name the scenario key: the caller
//! prefixes it. A unit of the wrong dimension is recognised as such (`"2 GB"` where a bandwidth
//! is expected), and a misspelt one gets a "did you mean" from the expected dimension's units.

use std::borrow::Cow;

use crate::error::echo;

/// A duration, in seconds.
pub type Seconds = f64;
/// A data size, in bytes.
pub type Bytes = f64;
/// A bandwidth, in bit/s.
pub type BitsPerSec = f64;
/// An event rate, in events per second.
pub type PerSec = f64;
/// An amount of money, in US dollars.
pub type Usd = f64;
/// A transfer price, in $ per billing GB (2^30 bytes).
pub type UsdPerGb = f64;
/// A bandwidth price, in $ per Mbps (of committed bandwidth) per month.
pub type UsdPerMbpsMonth = f64;
/// An energy price, in $ per kWh.
pub type UsdPerKwh = f64;
/// A power, in watts.
pub type Watts = f64;
/// Energy per data volume, in kWh per SI GB (10^9 bytes).
pub type KwhPerGb = f64;
/// Carbon intensity of electricity, in kg CO2(-equivalent) per kWh.
pub type KgPerKwh = f64;

/// The kind of a quantity: decides which units are accepted and what the base unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// A duration; base unit `s`.
    Time,
    /// A data size; base unit `B`.
    DataSize,
    /// A bandwidth; base unit `bit/s`.
    BitRate,
    /// An event rate; base unit `1/s`.
    EventRate,
    /// An amount of money; base unit `$`.
    Money,
    /// A transfer price; base unit `$/GB`, GB = 2^30 bytes.
    MoneyPerGb,
    /// A bandwidth price; base unit `$/Mbps/month`.
    MoneyPerMbpsMonth,
    /// An energy price; base unit `$/kWh`.
    MoneyPerKwh,
    /// A power; base unit `W`.
    Power,
    /// Energy per data volume; base unit `kWh/GB` (SI GB, 10^9 bytes).
    EnergyPerGb,
    /// Carbon intensity of electricity; base unit `kg/kWh` (CO2 or CO2-equivalent).
    CarbonIntensity,
    /// A plain number (fraction, factor); `%` is accepted.
    Dimensionless,
}

/// One accepted unit spelling: a quantity `x <name>` is `x · num / den` in base units.
/// (Two factors rather than one keep e.g. `3/min` and `15 c/kWh` correctly rounded.)
type Unit = (&'static str, f64, f64);

/// What this module knows about one dimension (see the `Dimension` methods).
struct Info {
    describe: &'static str,
    base_unit: &'static str,
    examples: &'static str,
    units: &'static [Unit],
    /// The units `format_quantity` may choose from, smallest first, base unit included.
    display: &'static [&'static str],
}

impl Dimension {
    /// Every dimension, for recognising a unit of the wrong kind.
    #[rustfmt::skip]
    const ALL: [Dimension; 12] = [
        Self::Time, Self::DataSize, Self::BitRate, Self::EventRate, Self::Money, Self::MoneyPerGb,
        Self::MoneyPerMbpsMonth, Self::MoneyPerKwh, Self::Power, Self::EnergyPerGb,
        Self::CarbonIntensity, Self::Dimensionless,
    ];

    /// The table behind the methods: one block per dimension.
    #[rustfmt::skip]
    fn info(self) -> Info {
        match self {
            Self::Time => Info {
                describe: "a duration", base_unit: "s", examples: r#""30 min", "2 h", "7 d""#,
                display: &["ms", "s", "min", "h", "d"],
                units: &[
                    ("ms", 1.0, 1e3), ("s", 1.0, 1.0), ("sec", 1.0, 1.0), ("second", 1.0, 1.0),
                    ("seconds", 1.0, 1.0),
                    ("min", 60.0, 1.0), ("minute", 60.0, 1.0), ("minutes", 60.0, 1.0),
                    ("h", 3600.0, 1.0), ("hr", 3600.0, 1.0), ("hour", 3600.0, 1.0),
                    ("hours", 3600.0, 1.0),
                    ("d", 86400.0, 1.0), ("day", 86400.0, 1.0), ("days", 86400.0, 1.0),
                    ("w", 604800.0, 1.0), ("week", 604800.0, 1.0), ("weeks", 604800.0, 1.0),
                    ("y", 31536000.0, 1.0), ("yr", 31536000.0, 1.0), ("year", 31536000.0, 1.0),
                    ("years", 31536000.0, 1.0),
                ],
            },
            Self::DataSize => Info {
                describe: "a data size", base_unit: "B", examples: r#""1.5 GB", "700 MB", "4 GiB""#,
                display: &["B", "kB", "MB", "GB", "TB", "PB"],
                units: &[
                    ("B", 1.0, 1.0),
                    // SI
                    ("kB", 1e3, 1.0), ("KB", 1e3, 1.0), ("MB", 1e6, 1.0), ("GB", 1e9, 1.0),
                    ("TB", 1e12, 1.0), ("PB", 1e15, 1.0),
                    // binary
                    ("KiB", 1024.0, 1.0), ("MiB", 1048576.0, 1.0), ("GiB", 1073741824.0, 1.0),
                    ("TiB", 1099511627776.0, 1.0), ("PiB", 1125899906842624.0, 1.0),
                    // bits
                    ("bit", 1.0, 8.0), ("kbit", 1e3, 8.0), ("Mbit", 1e6, 8.0), ("Gbit", 1e9, 8.0),
                ],
            },
            Self::BitRate => Info {
                describe: "a bandwidth", base_unit: "bit/s",
                examples: r#""2 Mbps", "100 Mbps", "1 Gbps""#,
                display: &["bps", "kbps", "Mbps", "Gbps", "Tbps"],
                units: &[
                    ("bps", 1.0, 1.0), ("kbps", 1e3, 1.0), ("Mbps", 1e6, 1.0), ("Gbps", 1e9, 1.0),
                    ("Tbps", 1e12, 1.0),
                    ("bit/s", 1.0, 1.0), ("kbit/s", 1e3, 1.0), ("Mbit/s", 1e6, 1.0),
                    ("Gbit/s", 1e9, 1.0),
                    // bytes per second
                    ("B/s", 8.0, 1.0), ("kB/s", 8e3, 1.0), ("MB/s", 8e6, 1.0), ("GB/s", 8e9, 1.0),
                ],
            },
            Self::EventRate => Info {
                describe: "an event rate", base_unit: "1/s", examples: r#""1/s", "3/min", "120/h""#,
                display: &["/d", "/h", "/min", "/s"],
                units: &[
                    ("/s", 1.0, 1.0), ("/sec", 1.0, 1.0), ("/second", 1.0, 1.0),
                    ("/min", 1.0, 60.0), ("/minute", 1.0, 60.0),
                    ("/h", 1.0, 3600.0), ("/hr", 1.0, 3600.0), ("/hour", 1.0, 3600.0),
                    ("/d", 1.0, 86400.0), ("/day", 1.0, 86400.0),
                    ("/w", 1.0, 604800.0), ("/week", 1.0, 604800.0),
                    ("Hz", 1.0, 1.0),
                ],
            },
            Self::Money => Info {
                describe: "an amount of money", base_unit: "$", examples: r#""$12.5", "300 USD""#,
                display: &["$"],
                units: &[("$", 1.0, 1.0), ("USD", 1.0, 1.0)],
            },
            Self::MoneyPerGb => Info {
                describe: "a price per GB", base_unit: "$/GB",
                examples: r#""0.02 $/GB", "$0.02/GB", "20 $/TB""#,
                display: &["$/GB"],
                units: &[
                    ("$/GB", 1.0, 1.0), ("$/GiB", 1.0, 1.0), ("USD/GB", 1.0, 1.0),
                    ("USD/GiB", 1.0, 1.0),
                    ("$/TB", 1.0, 1024.0), ("$/TiB", 1.0, 1024.0), ("USD/TB", 1.0, 1024.0),
                    ("USD/TiB", 1.0, 1024.0),
                ],
            },
            Self::MoneyPerMbpsMonth => Info {
                describe: "a price per Mbps per month", base_unit: "$/Mbps/month",
                examples: r#""1.5 $/Mbps/month", "$2/Mbps/mo""#,
                display: &["$/Mbps/month"],
                units: &[
                    ("$/Mbps/month", 1.0, 1.0), ("$/Mbps/mo", 1.0, 1.0),
                    ("USD/Mbps/month", 1.0, 1.0), ("USD/Mbps/mo", 1.0, 1.0),
                    ("$/Gbps/month", 1.0, 1e3), ("$/Gbps/mo", 1.0, 1e3),
                ],
            },
            Self::MoneyPerKwh => Info {
                describe: "an energy price", base_unit: "$/kWh",
                examples: r#""0.15 $/kWh", "15 c/kWh""#,
                display: &["$/kWh"],
                units: &[
                    ("$/kWh", 1.0, 1.0), ("USD/kWh", 1.0, 1.0), ("$/MWh", 1.0, 1e3),
                    ("c/kWh", 1.0, 100.0), ("¢/kWh", 1.0, 100.0),
                ],
            },
            Self::Power => Info {
                describe: "a power", base_unit: "W", examples: r#""60 W", "1.2 kW""#,
                display: &["mW", "W", "kW", "MW"],
                units: &[("mW", 1.0, 1e3), ("W", 1.0, 1.0), ("kW", 1e3, 1.0), ("MW", 1e6, 1.0)],
            },
            Self::EnergyPerGb => Info {
                describe: "an energy per GB", base_unit: "kWh/GB",
                examples: r#""0.06 kWh/GB", "2 nJ/bit""#,
                display: &["kWh/GB"],
                units: &[
                    ("kWh/GB", 1.0, 1.0), ("Wh/GB", 1.0, 1e3), ("kWh/TB", 1.0, 1e3),
                    ("MWh/TB", 1.0, 1.0),
                    // 1 J/bit = 8e9 J per GB = 8e9 / 3.6e6 kWh/GB
                    ("J/bit", 8e9, 3.6e6), ("mJ/bit", 8e6, 3.6e6), ("µJ/bit", 8e3, 3.6e6),
                    ("uJ/bit", 8e3, 3.6e6), ("nJ/bit", 8.0, 3.6e6),
                ],
            },
            Self::CarbonIntensity => Info {
                describe: "a carbon intensity", base_unit: "kg/kWh",
                examples: r#""0.4 kg/kWh", "400 gCO2/kWh""#,
                display: &["kg/kWh"],
                units: &[
                    ("kg/kWh", 1.0, 1.0), ("kgCO2/kWh", 1.0, 1.0), ("kgCO2e/kWh", 1.0, 1.0),
                    ("g/kWh", 1.0, 1e3), ("gCO2/kWh", 1.0, 1e3), ("gCO2e/kWh", 1.0, 1e3),
                    ("t/MWh", 1.0, 1.0), ("lb/MWh", 0.45359237, 1e3),
                ],
            },
            Self::Dimensionless => Info {
                describe: "a plain number", base_unit: "", examples: r#""0.85", "85 %""#,
                display: &[""],
                units: &[("%", 1.0, 100.0)],
            },
        }
    }

    /// The kind with its article, for messages: "a duration", "a data size", "a bandwidth", ...
    pub fn describe(self) -> &'static str {
        self.info().describe
    }

    /// The unit values are returned in: "s", "B", "bit/s", "1/s", "$", "$/GB", "$/Mbps/month",
    /// "$/kWh", "W", or "" for [`Dimension::Dimensionless`].
    pub fn base_unit(self) -> &'static str {
        self.info().base_unit
    }

    /// Valid example strings, quoted and comma-separated, e.g. `"30 min", "2 h", "7 d"`.
    /// Error messages quote the first one.
    pub fn examples(self) -> &'static str {
        self.info().examples
    }

    /// The first of [`Dimension::examples`], quoted.
    fn example(self) -> &'static str {
        self.examples().split(", ").next().unwrap_or("")
    }

    /// The accepted unit spellings (a bare number is accepted besides these).
    fn units(self) -> &'static [Unit] {
        self.info().units
    }
}

/// Why a quantity could not be read. Every variant carries the offending text (trimmed) and the
/// expected dimension. Messages do not name the scenario key: the caller puts it in front. They
/// quote the text cut to [`ECHO_CHARS`](crate::error::ECHO_CHARS) characters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Nothing but whitespace.
    #[error("empty value; expected {} such as {}", .expected.describe(), .expected.example())]
    Empty {
        /// The text, trimmed (so empty; kept for uniform matching).
        text: String,
        /// The dimension that was expected.
        expected: Dimension,
    },
    /// The text does not begin with a number (after an optional sign and `$`).
    #[error("{:?} does not start with a number; expected {} such as {}",
        echo(.text), .expected.describe(), .expected.example())]
    NoNumber {
        /// The offending text.
        text: String,
        /// The dimension that was expected.
        expected: Dimension,
    },
    /// NaN, an infinity, or a value that overflows `f64` once converted to base units.
    #[error("{:?} is not a finite number", echo(.text))]
    NotFinite {
        /// The offending text (for [`from_number`], the number as Rust prints it: "NaN", "inf").
        text: String,
        /// The dimension that was expected.
        expected: Dimension,
    },
    /// The unit belongs to no dimension.
    #[error("unknown unit {:?} in {:?}{}", echo(.unit), echo(.text),
        unknown_unit_tail(*.expected, *.suggestion))]
    UnknownUnit {
        /// The offending text.
        text: String,
        /// The unit as read (whitespace around `/` removed, `per` replaced by `/`).
        unit: String,
        /// The dimension that was expected.
        expected: Dimension,
        /// The closest unit of the expected dimension, if one is close (edit distance ≤ 2).
        suggestion: Option<&'static str>,
    },
    /// The unit is valid, but for another dimension (`"2 GB"` where a bandwidth is expected).
    #[error("{:?} is {}, but {} is expected here (such as {})",
        echo(.text), .found.describe(), .expected.describe(), .expected.example())]
    WrongKind {
        /// The offending text.
        text: String,
        /// The dimension its unit belongs to.
        found: Dimension,
        /// The dimension that was expected.
        expected: Dimension,
    },
}

/// The end of an unknown-unit message: the suggestion, if any, and the accepted units.
fn unknown_unit_tail(expected: Dimension, suggestion: Option<&str>) -> String {
    let hint = match suggestion {
        Some(s) => format!("; did you mean {s:?}?"),
        None => String::new(),
    };
    let names: Vec<&str> = expected.units().iter().map(|u| u.0).collect();
    let bare = match expected.base_unit() {
        "" => "a bare number".to_string(),
        base => format!("a bare number in {base}"),
    };
    let (kind, names) = (expected.describe(), names.join(", "));
    format!("{hint} ({kind} takes: {names}, or {bare})")
}

/// Parse `text` as a quantity of dimension `dim`, returning base units.
///
/// See the [module docs](self) for the accepted forms. The sign is kept (`"-3 s"` → `-3.0`):
/// range checks are the caller's.
pub fn parse_quantity(text: &str, dim: Dimension) -> Result<f64, UnitError> {
    // No allocation unless it fails (validation parses every quantity of every sweep point).
    let (text, expected) = (text.trim(), dim);
    if text.is_empty() {
        return Err(UnitError::Empty {
            text: text.to_string(),
            expected,
        });
    }
    let Some((number, unit)) = split_number(text) else {
        return Err(UnitError::NoNumber {
            text: text.to_string(),
            expected,
        });
    };
    let Some((num, den)) = lookup(dim, &unit) else {
        return Err(unit_error(text.to_string(), unit.into_owned(), dim));
    };
    // Not finite for "inf", "NaN" (`split_number` gives NaN), "1e999 B" and "1e308 PB".
    let value = number * num / den;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(UnitError::NotFinite {
            text: text.to_string(),
            expected,
        })
    }
}

/// The error for a `unit` that `expected` does not take: one of another dimension, or unknown.
fn unit_error(text: String, unit: String, expected: Dimension) -> UnitError {
    let other = Dimension::ALL
        .into_iter()
        .find(|&d| lookup(d, &unit).is_some());
    if let Some(found) = other {
        return UnitError::WrongKind {
            text,
            found,
            expected,
        };
    }
    let suggestion = suggest(&unit, expected);
    UnitError::UnknownUnit {
        text,
        unit,
        expected,
        suggestion,
    }
}

/// Parse a quantity whose dimension is not known beforehand (sweep values): the first
/// dimension whose units accept `text`. Text without a unit is [`Dimension::Dimensionless`]
/// (a bare number is in the base units of whatever key it is given to).
pub fn parse_any(text: &str) -> Result<(f64, Dimension), UnitError> {
    // "%" belongs to dimensionless and must not be tried last of all.
    for dim in Dimension::ALL {
        if let Ok(v) = parse_quantity(text, dim) {
            let unitless = split_number(text.trim()).is_some_and(|(_, u)| u.is_empty());
            return Ok((
                v,
                if unitless {
                    Dimension::Dimensionless
                } else {
                    dim
                },
            ));
        }
    }
    parse_quantity(text, Dimension::Dimensionless).map(|v| (v, Dimension::Dimensionless))
}

/// A base-unit value written so that [`parse_quantity`] reads it back exactly in `dim`
/// (shortest round-trip digits, the base unit's own spelling): `(1.5e-3, EventRate)` →
/// `"0.0015 /s"`, `(50.0, Time)` → `"50 s"`; a plain number for [`Dimension::Dimensionless`].
pub fn exact_text(value: f64, dim: Dimension) -> String {
    let unit = dim
        .units()
        .iter()
        .find(|u| (u.1 - 1.0).abs() < f64::EPSILON && (u.2 - 1.0).abs() < f64::EPSILON)
        .map_or("", |u| u.0);
    if unit.is_empty() {
        format!("{value:e}")
    } else {
        format!("{value:e} {unit}")
    }
}

/// A bare TOML number is taken in base units; rejects NaN and ±inf.
pub fn from_number(value: f64, dim: Dimension) -> Result<f64, UnitError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(UnitError::NotFinite {
            text: format!("{value}"),
            expected: dim,
        })
    }
}

/// The magnitudes a nonzero quantity of `dim` may have anywhere in a scenario, in base units:
/// beyond them the models' products and exponentials leave f64 (a rate of 10^300/s, a price
/// of 10^308 $/Mbps/month) or a time step rounds to nothing (a residence of 10^-300 s). Every
/// key has its own, narrower range on top; these bound what any key can be given.
/// `None` for dimensionless numbers (each key bounds its own).
pub fn usable_range(dim: Dimension) -> Option<(f64, f64)> {
    use Dimension::*;
    Some(match dim {
        Time => (1e-6, 1e13),             // 1 µs to ~317,000 years
        DataSize => (1.0, 1e18),          // 1 B to 1 EB
        BitRate => (1e-3, 1e15),          // 1 mbit/s to 1 Pbps
        EventRate => (1e-12, 1e9),        // once in 30,000 years to 10^9 per second
        Money => (1e-9, 1e12),            // $
        MoneyPerGb => (1e-9, 1e6),        // $/GB
        MoneyPerMbpsMonth => (1e-9, 1e6), // $/Mbps/month
        MoneyPerKwh => (1e-9, 1e3),       // $/kWh
        Power => (1e-6, 1e9),             // W
        EnergyPerGb => (1e-12, 1e6),      // kWh/GB
        CarbonIntensity => (1e-9, 1e3),   // kg/kWh
        Dimensionless => return None,
    })
}

/// Format a base-unit value for humans, with up to 4 significant digits and trailing zeros
/// trimmed, in the largest unit that keeps the number ≥ 1: `(2e6, BitRate)` → `"2 Mbps"`,
/// `(5400.0, Time)` → `"1.5 h"`, `(1.5e9, DataSize)` → `"1.5 GB"` (SI), `(0.05, EventRate)` →
/// `"3/min"`, `(12.5, Money)` → `"$12.5"`, `(0.85, Dimensionless)` → `"0.85"`.
/// Zero and non-finite values are shown in the base unit (`"0 s"`, `"0/s"`).
/// The result parses back with [`parse_quantity`] to the value rounded to 4 digits.
pub fn format_quantity(value: f64, dim: Dimension) -> String {
    // Choose the unit on the rounded value, so that 0.99996 s shows as "1 s", not "1000 ms".
    let rounded = round_sig(value);
    let (name, size) = display_unit(rounded, dim);
    let number = format_sig(rounded / size);
    match (name, number.strip_prefix('-')) {
        ("", _) => number,
        ("$", Some(magnitude)) => format!("-${magnitude}"),
        ("$", None) => format!("${number}"),
        _ if name.starts_with('/') => format!("{number}{name}"),
        _ => format!("{number} {name}"),
    }
}

/// The unit `value` is shown in, and its size in base units: the largest display unit in which
/// `value` is at least 1, else the smallest; the base unit for zero and non-finite values.
fn display_unit(value: f64, dim: Dimension) -> (&'static str, f64) {
    let sized = |&name: &&'static str| lookup(dim, name).map(|(num, den)| (name, num / den));
    let units: Vec<(&str, f64)> = dim.info().display.iter().filter_map(sized).collect();
    // `x` is at least one `u` (with slack for rounding: 60 s is "1 min").
    let at_least_one = |x: f64, u: &&(&str, f64)| x >= u.1 * (1.0 - 1e-9);
    let chosen = if value == 0.0 || !value.is_finite() {
        units.iter().find(|u| u.1 >= 1.0 - 1e-9) // the base unit: the first of size ≥ 1
    } else {
        let fits = units.iter().rev().find(|u| at_least_one(value.abs(), u));
        fits.or(units.first())
    };
    chosen.copied().unwrap_or(("", 1.0))
}

/// `x` rounded to 4 significant digits (unchanged if zero or not finite).
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// `x` with up to 4 significant digits, trailing zeros trimmed; exponent form when tiny or huge.
fn format_sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{}", x + 0.0); // `+ 0.0` turns -0 into 0
    }
    let sci = format!("{x:.3e}"); // "1.235e6", "-5.000e-1"
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..=15).contains(&exponent) {
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let rounded: f64 = sci.parse().unwrap_or(x);
    let decimals = usize::try_from(3 - exponent).unwrap_or(0);
    trim_zeros(&format!("{rounded:.decimals$}")).to_string()
}

/// "1.500" → "1.5", "2.000" → "2"; integers are left alone.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Split `text` (trimmed, non-empty) into its leading number and its normalised unit, the
/// latter `"$"`-prefixed if the text starts with a dollar sign. `None` if there is no number.
/// `inf`, `infinity` and `nan` (any case) give NaN, whatever follows.
fn split_number(text: &str) -> Option<(f64, Cow<'_, str>)> {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    // Optional sign, then an optional "$" (as in "$12.5" or "-$3") and whitespace after it.
    let sign = &text[..usize::from(matches!(bytes.first(), Some(b'+' | b'-')))];
    let after_sign = &text[sign.len()..];
    let dollar = after_sign.strip_prefix('$');
    let body = dollar.map_or(after_sign, str::trim_start);
    let start = text.len() - body.len();

    // Spelled-out non-finite values, as Rust and TOML write them.
    let body_bytes = body.as_bytes();
    for word in ["infinity", "inf", "nan"] {
        let next = body_bytes.get(word.len());
        let starts = body_bytes
            .get(..word.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(word.as_bytes()));
        if starts && !next.is_some_and(u8::is_ascii_alphabetic) {
            return Some((f64::NAN, Cow::Borrowed("")));
        }
    }

    // Mantissa: digits, optionally a point and more digits; at least one digit in all.
    let int_end = digits_from(start);
    let has_point = bytes.get(int_end) == Some(&b'.');
    let mut end = if has_point {
        digits_from(int_end + 1)
    } else {
        int_end
    };
    if end - start - usize::from(has_point) == 0 {
        return None; // no digit: "abc", ".", "-"
    }
    // Exponent: only if digits follow, so that "5 eggs" keeps its (unknown) unit.
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign_len = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent_end = digits_from(end + 1 + sign_len);
        if exponent_end > end + 1 + sign_len {
            end = exponent_end;
        }
    }
    // Rust's parser accepts all these forms; "1e999" overflows to inf, caught by the caller.
    let magnitude: f64 = text[start..end].parse().ok()?;
    let number = if sign == "-" { -magnitude } else { magnitude };
    let unit = normalise_unit(&text[end..]);
    Some((
        number,
        if dollar.is_some() {
            Cow::Owned(format!("${unit}"))
        } else {
            unit
        },
    ))
}

/// Canonical unit text: words separated by single spaces, `per` → `/`, no spaces around `/`.
/// `" per  hour"` → `"/hour"`, `"$ / GB"` → `"$/GB"`.
fn normalise_unit(unit: &str) -> Cow<'_, str> {
    let unit = unit.trim();
    // Most units are one word ("Mbps", "/s", "$/GB"): nothing to do.
    if !unit.contains(char::is_whitespace) && unit != "per" {
        return Cow::Borrowed(unit);
    }
    let words = unit
        .split_whitespace()
        .map(|w| if w == "per" { "/" } else { w });
    let joined = words.collect::<Vec<_>>().join(" ");
    Cow::Owned(joined.replace(" /", "/").replace("/ ", "/"))
}

/// The factors `(num, den)` of `unit` in dimension `dim`; the empty unit (a bare number) is the
/// base unit of every dimension.
fn lookup(dim: Dimension, unit: &str) -> Option<(f64, f64)> {
    if unit.is_empty() {
        return Some((1.0, 1.0));
    }
    let entry = dim.units().iter().find(|u| u.0 == unit);
    entry.map(|&(_, num, den)| (num, den))
}

/// The spelling of `dim` that `unit` was most likely meant to be: one that differs only in case,
/// else the nearest by edit distance if at most 2 (and less than the unit's length, so that a
/// one-letter unit is not "corrected" into an unrelated one). Ties go to the earlier entry.
fn suggest(unit: &str, dim: Dimension) -> Option<&'static str> {
    let names = dim.units().iter().map(|u| u.0);
    if let Some(name) = names.clone().find(|name| name.eq_ignore_ascii_case(unit)) {
        return Some(name);
    }
    let len = unit.chars().count();
    let scored = names.map(|name| (levenshtein(unit, name), name));
    let close = scored.filter(|&(d, _)| d <= 2 && d < len);
    close.min_by_key(|&(d, _)| d).map(|(_, name)| name)
}

/// Edit distance (insertions, deletions, substitutions) between `a` and `b`, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `prev[j]` is the distance between the prefix of `a` read so far and `b[..j]`.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row.push(substitute.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::Dimension::*;
    use super::*;

    /// Equal within a relative 1e-12.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    #[track_caller]
    fn parses(text: &str, dim: Dimension, want: f64) {
        match parse_quantity(text, dim) {
            Ok(v) => assert!(close(v, want), "{text:?} → {v}, expected {want}"),
            Err(e) => panic!("{text:?} failed: {e}"),
        }
    }

    #[track_caller]
    fn error(text: &str, dim: Dimension) -> UnitError {
        match parse_quantity(text, dim) {
            Ok(v) => panic!("{text:?} parsed as {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_unit_parses_and_belongs_to_one_dimension() {
        for dim in Dimension::ALL {
            for &(name, num, den) in dim.units() {
                let want = 2.5 * num / den;
                parses(&format!("2.5 {name}"), dim, want);
                parses(&format!("2.5{name}"), dim, want);
                parses(&format!("  -25e-1 {name} "), dim, -want);
                for other in Dimension::ALL.into_iter().filter(|&d| d != dim) {
                    let e = error(&format!("2.5 {name}"), other);
                    let kind = UnitError::WrongKind {
                        text: format!("2.5 {name}"),
                        found: dim,
                        expected: other,
                    };
                    assert_eq!(e, kind);
                }
            }
        }
    }

    #[test]
    #[rustfmt::skip]
    fn reference_values_and_forms() {
        let cases = [
            ("2 Mbps", BitRate, 2e6), ("1.5 GB", DataSize, 1.5e9), ("1 GiB", DataSize, 1073741824.0),
            ("30 min", Time, 1800.0), ("7 d", Time, 604800.0), ("0.02 $/GB", MoneyPerGb, 0.02),
            ("3/min", EventRate, 0.05), ("1/s", EventRate, 1.0), ("85 %", Dimensionless, 0.85),
            ("15 c/kWh", MoneyPerKwh, 0.15), ("15 ¢/kWh", MoneyPerKwh, 0.15),
            ("120/h", EventRate, 120.0 / 3600.0), ("0.001/s", EventRate, 0.001),
            ("1 Mbit", DataSize, 125e3), ("1 MB/s", BitRate, 8e6), ("20 $/TB", MoneyPerGb, 20.0 / 1024.0),
            ("1.5 $/Mbps/month", MoneyPerMbpsMonth, 1.5), ("1 kW", Power, 1e3), ("5 Hz", EventRate, 5.0),
            // Energy per GB (SI GB): 1 nJ/bit = 8 J/GB = 8 / 3.6e6 kWh/GB; 60 Wh/GB = 0.06 kWh/GB.
            ("0.06 kWh/GB", EnergyPerGb, 0.06), ("60 Wh/GB", EnergyPerGb, 0.06),
            ("9 nJ/bit", EnergyPerGb, 72.0 / 3.6e6), ("60 kWh/TB", EnergyPerGb, 0.06),
            // Carbon: 823.1 lb/MWh (eGRID style) = 0.37335 kg/kWh.
            ("400 gCO2/kWh", CarbonIntensity, 0.4), ("0.4 kg/kWh", CarbonIntensity, 0.4),
            ("1000 lb/MWh", CarbonIntensity, 0.45359237),
            ("3 yr", Time, 3.0 * 365.0 * 86400.0), ("1 year", Time, 31536000.0),
            // Number forms, signs, spacing.
            ("1e9 B", DataSize, 1e9), ("1E9B", DataSize, 1e9), ("2.5e-3 s", Time, 0.0025),
            ("1e+3 ms", Time, 1.0), (".5 h", Time, 1800.0), ("5. s", Time, 5.0), ("-3 s", Time, -3.0),
            ("+2 h", Time, 7200.0), ("1800", Time, 1800.0), ("0.85", Dimensionless, 0.85),
            ("\t2Mbps\n", BitRate, 2e6), ("3 /min", EventRate, 0.05), ("3 per min", EventRate, 0.05),
            ("120 per  hour", EventRate, 120.0 / 3600.0), ("0.02 $ / GB", MoneyPerGb, 0.02),
            ("0.02 $ per GB", MoneyPerGb, 0.02),
            // Dollar first or last.
            ("$12.5", Money, 12.5), ("-$3", Money, -3.0), ("$ 12.5", Money, 12.5),
            ("12.5 $", Money, 12.5), ("12.5$", Money, 12.5), ("$0.02/GB", MoneyPerGb, 0.02),
            ("$2/Mbps/mo", MoneyPerMbpsMonth, 2.0),
        ];
        for (text, dim, want) in cases {
            parses(text, dim, want);
        }
    }

    #[test]
    fn examples_are_valid() {
        for dim in Dimension::ALL {
            assert!(!dim.describe().is_empty());
            assert!(dim.examples().starts_with(dim.example()));
            for example in dim.examples().split(", ") {
                let inner = example.trim_matches('"');
                assert_eq!(format!("\"{inner}\""), example);
                assert!(parse_quantity(inner, dim).is_ok(), "{example} for {dim:?}");
            }
            // The display units are valid, smallest first, and include the base unit.
            let sizes: Vec<f64> = dim
                .info()
                .display
                .iter()
                .filter_map(|n| lookup(dim, n))
                .map(|f| f.0 / f.1)
                .collect();
            assert_eq!(sizes.len(), dim.info().display.len(), "{dim:?}");
            assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{dim:?}");
            assert!(sizes.iter().any(|&s| close(s, 1.0)), "{dim:?}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn error_messages() {
        let cases = [
            ("  ", DataSize, r#"empty value; expected a data size such as "1.5 GB""#),
            ("abc", BitRate, r#""abc" does not start with a number; expected a bandwidth such as "2 Mbps""#),
            ("$", Money, r#""$" does not start with a number; expected an amount of money such as "$12.5""#),
            ("inf Mbps", BitRate, r#""inf Mbps" is not a finite number"#),
            ("NaN", BitRate, r#""NaN" is not a finite number"#),
            ("-Infinity s", Time, r#""-Infinity s" is not a finite number"#),
            ("1e999 B", DataSize, r#""1e999 B" is not a finite number"#),
            ("1e308 PB", DataSize, r#""1e308 PB" is not a finite number"#),
            ("2 Mbsp", BitRate, concat!(r#"unknown unit "Mbsp" in "2 Mbsp"; did you mean "Mbps"? "#,
                "(a bandwidth takes: bps, kbps, Mbps, Gbps, Tbps, bit/s, kbit/s, Mbit/s, Gbit/s, ",
                "B/s, kB/s, MB/s, GB/s, or a bare number in bit/s)")),
            ("2 parsecs", Dimensionless,
                r#"unknown unit "parsecs" in "2 parsecs" (a plain number takes: %, or a bare number)"#),
            ("2 GB", BitRate, r#""2 GB" is a data size, but a bandwidth is expected here (such as "2 Mbps")"#),
            ("$0.02/GB", Money, concat!(r#""$0.02/GB" is a price per GB, but an amount of money is "#,
                r#"expected here (such as "$12.5")"#)),
            ("30 s", EventRate, r#""30 s" is a duration, but an event rate is expected here (such as "1/s")"#),
        ];
        for (text, dim, message) in cases {
            assert_eq!(error(text, dim).to_string(), message);
        }
    }

    #[test]
    fn errors_carry_text_and_dimension() {
        use UnitError::*;
        let empty = error(" ", Time); // the text is trimmed
        assert!(matches!(empty, Empty { text, expected: Time } if text.is_empty()));
        let no_number = error(" abc ", BitRate);
        assert!(matches!(no_number, NoNumber { text, expected: BitRate } if text == "abc"));
        let not_finite = error("NaN", Power);
        assert!(matches!(not_finite, NotFinite { text, expected: Power } if text == "NaN"));
        let unknown = UnknownUnit {
            text: "2 Mbsp".into(),
            unit: "Mbsp".into(),
            expected: BitRate,
            suggestion: Some("Mbps"),
        };
        assert_eq!(error("2 Mbsp", BitRate), unknown); // WrongKind: every_unit_parses...
    }

    #[test]
    fn did_you_mean() {
        let hint = |text: &str, dim| match error(text, dim) {
            UnitError::UnknownUnit { suggestion, .. } => suggestion,
            e => panic!("{text:?}: {e:?}"),
        };
        assert_eq!(hint("2 mbps", BitRate), Some("Mbps")); // case slip
        assert_eq!(hint("2 gib", DataSize), Some("GiB"));
        assert_eq!(hint("2 mins", Time), Some("min"));
        assert_eq!(hint("3/mn", EventRate), Some("/min"));
        assert_eq!(hint("3 per hours", EventRate), Some("/hour"));
        assert_eq!(hint("1 $/Mbps/mon", MoneyPerMbpsMonth), Some("$/Mbps/mo"));
        assert_eq!(hint("2 x", Time), None); // too short to guess
        assert_eq!(hint("2 furlongs", Time), None);
        assert_eq!(hint("2 Mbps extra", BitRate), None);
        assert_eq!(levenshtein("Mbsp", "Mbps"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("¢/kWh", "c/kWh"), 1);
    }

    #[test]
    fn from_number_takes_base_units() {
        assert_eq!(
            from_number(1800.0, Time).map(|v| close(v, 1800.0)),
            Ok(true)
        );
        assert_eq!(from_number(-0.5, Power).map(|v| close(v, -0.5)), Ok(true));
        let nan = from_number(f64::NAN, BitRate);
        let not_finite = UnitError::NotFinite {
            text: "NaN".into(),
            expected: BitRate,
        };
        assert_eq!(nan, Err(not_finite));
        let inf = from_number(f64::INFINITY, Time).map_err(|e| e.to_string());
        assert_eq!(inf, Err(r#""inf" is not a finite number"#.to_string()));
        assert!(from_number(f64::NEG_INFINITY, Time).is_err());
    }

    #[test]
    #[rustfmt::skip]
    fn formatting() {
        let cases = [
            (2e6, BitRate, "2 Mbps"), (5400.0, Time, "1.5 h"), (1.5e9, DataSize, "1.5 GB"),
            (1800.0, Time, "30 min"), (604800.0, Time, "7 d"), (59.0, Time, "59 s"),
            (0.25, Time, "250 ms"), (0.99996, Time, "1 s"), (0.0, Time, "0 s"), (-0.0, Time, "0 s"),
            (-90.0, Time, "-1.5 min"), (123456.0, DataSize, "123.5 kB"),
            (1073741824.0, DataSize, "1.074 GB"), (0.5, DataSize, "0.5 B"),
            (1e21, DataSize, "1000000 PB"), (1.23456e35, DataSize, "1.235e20 PB"),
            (0.05, EventRate, "3/min"), (1.0, EventRate, "1/s"), (0.0, EventRate, "0/s"),
            (2e-5, EventRate, "1.728/d"), (1e-9, EventRate, "8.64e-5/d"), (0.0, BitRate, "0 bps"),
            (12.5, Money, "$12.5"), (-3.0, Money, "-$3"), (1234567.0, Money, "$1235000"),
            (0.02, MoneyPerGb, "0.02 $/GB"), (1.5, MoneyPerMbpsMonth, "1.5 $/Mbps/month"),
            (0.15, MoneyPerKwh, "0.15 $/kWh"), (1200.0, Power, "1.2 kW"), (0.003, Power, "3 mW"),
            (0.85, Dimensionless, "0.85"), (0.000123, Dimensionless, "0.000123"),
            (f64::INFINITY, BitRate, "inf bps"), (f64::NAN, Time, "NaN s"),
        ];
        for (value, dim, want) in cases {
            assert_eq!(format_quantity(value, dim), want, "{value} {dim:?}");
        }
    }

    #[test]
    fn formatted_values_parse_back() {
        for dim in Dimension::ALL {
            for value in [0.0, 1.0, 0.05, 3.0, 1234.0, 5.4321e7, -2.5e-3, 1e20, 9999.6] {
                let shown = format_quantity(value, dim);
                let back = parse_quantity(&shown, dim).unwrap_or(f64::NAN);
                let ok = (back - value).abs() <= 5e-4 * value.abs();
                assert!(ok, "{value} → {shown} → {back}");
            }
        }
    }

    #[test]
    fn exact_text_reads_back_bit_for_bit_in_every_dimension() {
        for dim in Dimension::ALL {
            for v in [0.0, 1.0, 1.5e-3, 123_456.789, 7.25e12, 1.0 / 3.0] {
                let t = exact_text(v, dim);
                let back = parse_quantity(&t, dim).unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{dim:?}: {t}");
            }
        }
    }

    #[test]
    fn parse_any_finds_the_dimension_from_the_unit() {
        assert_eq!(parse_any("2 Mbps").unwrap(), (2e6, Dimension::BitRate));
        assert_eq!(parse_any("30 min").unwrap(), (1800.0, Dimension::Time));
        assert_eq!(
            parse_any("0.02 $/GB").unwrap(),
            (0.02, Dimension::MoneyPerGb)
        );
        assert_eq!(parse_any("3/min").unwrap().1, Dimension::EventRate);
        assert_eq!(parse_any("1.5 GB").unwrap(), (1.5e9, Dimension::DataSize));
        assert_eq!(parse_any("85 %").unwrap(), (0.85, Dimension::Dimensionless));
        assert_eq!(parse_any("7").unwrap(), (7.0, Dimension::Dimensionless));
        assert!(parse_any("fast").is_err());
    }
}
