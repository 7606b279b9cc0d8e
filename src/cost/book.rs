//! Price books: one coherent set of prices at one market level, with where each price comes
//! from.
//!
//! A book is a TOML file `models/prices/<name>.toml`, embedded in the binary, so the built-in
//! books work from any directory. It holds the four prices the cost ledger needs:
//!
//! | key | meaning | unit (as written) | field |
//! |---|---|---|---|
//! | `cdn.tiers` | CDN transfer price by monthly volume | `up_to` a data size, `price` `$/GB` | [`PriceBook::cdn`] |
//! | `transit.value` | IP transit, billed on the 95th percentile | `$/Mbps/month` | [`PriceBook::transit`] |
//! | `capacity.value` | origin server and port, per Mbps of peak rate provisioned | `$/Mbps/month`, `$/Gbps/month` | [`PriceBook::capacity`] |
//! | `electricity.value` | electricity paid by peers | `$/kWh`, `c/kWh` | [`PriceBook::electricity`] |
//!
//! plus `title`, `date` (when the prices held), `level` (`list`, `negotiated` or
//! `wholesale`) and a `source` for the CDN table and for each price, carrying a provenance
//! tag `[S]`, `[D]`, `[P]` or `[R]` as in `../shared/reference/literature.md`. Values are
//! strings with units, read by [`crate::units::parse_quantity`]; a bare number is refused,
//! so that no price is read in a unit its author did not mean.
//!
//! Mixing market levels misleads: CDN list prices against wholesale transit with no server
//! cost make peer assistance look far better than it is. A book keeps one level together; a
//! scenario will name one (`pricing.book = "NAME"`) and may override single prices with the
//! `[pricing]` keys. What each built-in book holds and why: `models/prices/README.md`.

use serde::Serialize;
use toml::{Table, Value};

use super::tiers::{Tier, TierTable, GB};
use super::CostError;
use crate::units::{format_quantity, parse_quantity, Dimension, UsdPerKwh, UsdPerMbpsMonth};

/// The built-in books: name and file text.
const BUILTIN: [(&str, &str); 2] = [
    (
        "list-2024",
        include_str!("../../models/prices/list-2024.toml"),
    ),
    (
        "negotiated-2019",
        include_str!("../../models/prices/negotiated-2019.toml"),
    ),
];

/// The built-in books' names, in the order of [`BUILTIN`].
const NAMES: [&str; 2] = ["list-2024", "negotiated-2019"];

/// The market levels a book may be at.
pub const LEVELS: [&str; 3] = ["list", "negotiated", "wholesale"];

/// Provenance tags; every `source` carries at least one.
const TAGS: [&str; 4] = ["[S]", "[D]", "[P]", "[R]"];

/// Keys allowed at the top of a book.
const TOP_KEYS: [&str; 7] = [
    "title",
    "date",
    "level",
    "cdn",
    "transit",
    "capacity",
    "electricity",
];

/// One coherent set of prices at one market level, with their sources (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceBook {
    /// The book's name: a built-in's name, or the label a file was read under.
    pub name: String,
    /// One line saying whose prices these are.
    pub title: String,
    /// When the prices held, e.g. "2024".
    pub date: String,
    /// Market level: one of [`LEVELS`].
    pub level: String,
    /// CDN transfer price by monthly volume (no commit discount).
    pub cdn: TierTable,
    /// Where the CDN table comes from, with provenance tags.
    pub cdn_source: String,
    /// IP transit, $ per Mbps (95th percentile) per month.
    pub transit: UsdPerMbpsMonth,
    /// Where the transit price comes from.
    pub transit_source: String,
    /// Origin server and port, $ per Mbps of provisioned (peak) origin capacity per month.
    pub capacity: UsdPerMbpsMonth,
    /// Where the capacity price comes from.
    pub capacity_source: String,
    /// Electricity paid by peers, $ per kWh.
    pub electricity: UsdPerKwh,
    /// Where the electricity price comes from.
    pub electricity_source: String,
}

impl PriceBook {
    /// The book used when a scenario names none.
    pub const DEFAULT: &'static str = "list-2024";

    /// The built-in books' names.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// A built-in book by name.
    ///
    /// # Errors
    ///
    /// [`CostError::UnknownBook`], listing the built-in names, if there is no such book; a
    /// built-in that does not parse gives the errors of [`PriceBook::parse`] (a test keeps
    /// them all valid).
    ///
    /// ```
    /// # use peerfluid::cost::{CostError, PriceBook};
    /// let book = PriceBook::builtin(PriceBook::DEFAULT)?;
    /// assert_eq!(book.level, "list");
    /// assert!(PriceBook::builtin("nope").is_err());
    /// # Ok::<(), CostError>(())
    /// ```
    pub fn builtin(name: &str) -> Result<PriceBook, CostError> {
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Self::parse(text, n),
            None => Err(CostError::UnknownBook {
                name: name.to_string(),
                known: Self::names(),
            }),
        }
    }

    /// A built-in book by name, parsed once per process and shared (every sweep point's
    /// scenario names its book; parsing it each time cost more than the point itself).
    ///
    /// # Errors
    ///
    /// As [`PriceBook::builtin`].
    pub fn shared(name: &str) -> Result<std::sync::Arc<PriceBook>, CostError> {
        type Parsed = Vec<(&'static str, Result<std::sync::Arc<PriceBook>, CostError>)>;
        static BOOKS: std::sync::OnceLock<Parsed> = std::sync::OnceLock::new();
        let books = BOOKS.get_or_init(|| {
            BUILTIN
                .iter()
                .map(|(n, text)| (*n, Self::parse(text, n).map(std::sync::Arc::new)))
                .collect()
        });
        match books.iter().find(|(n, _)| *n == name) {
            Some((_, book)) => book.clone(),
            None => Err(CostError::UnknownBook {
                name: name.to_string(),
                known: Self::names(),
            }),
        }
    }

    /// Reads a book from its TOML text. `label` names the book in errors and becomes its
    /// [`name`](PriceBook::name) (the built-ins pass their name; a file, its path).
    ///
    /// # Errors
    ///
    /// [`CostError::BookSyntax`] if the text is not TOML; [`CostError::BookKey`], naming the
    /// dotted key, what it must be and the value as written, if a key is missing, unknown, of
    /// the wrong type, empty, has an unknown unit or a negative price, if a `source` has no
    /// provenance tag, if `level` is not one of [`LEVELS`], or if the tiers break the rules of
    /// [`TierTable::new`] (bounds increasing, only the last tier unbounded).
    pub fn parse(text: &str, label: &str) -> Result<PriceBook, CostError> {
        let r = Reader { book: label };
        let top: Table = toml::from_str(text).map_err(|e| r.syntax(text, &e))?;
        r.known_keys(&top, "", &TOP_KEYS)?;
        let level = r.text(&top, "", "level")?;
        if !LEVELS.contains(&level.as_str()) {
            return Err(r.key(
                "level",
                format!("must be one of {} (got {level:?})", quoted(&LEVELS)),
            ));
        }
        let (cdn, cdn_source) = r.cdn(&top)?;
        let (transit, transit_source) = r.price(&top, "transit", Dimension::MoneyPerMbpsMonth)?;
        let (capacity, capacity_source) =
            r.price(&top, "capacity", Dimension::MoneyPerMbpsMonth)?;
        let (electricity, electricity_source) =
            r.price(&top, "electricity", Dimension::MoneyPerKwh)?;
        Ok(PriceBook {
            name: label.to_string(),
            title: r.text(&top, "", "title")?,
            date: r.text(&top, "", "date")?,
            level,
            cdn,
            cdn_source,
            transit,
            transit_source,
            capacity,
            capacity_source,
            electricity,
            electricity_source,
        })
    }

    /// One line naming the book and its prices, for run records and reports:
    /// `list-2024 (list prices, 2024): CDN 7 tiers, 0.085 $/GB down to 0.02 $/GB; transit
    /// 2 $/Mbps/month; server 0.06 $/Mbps/month; electricity 0.1545 $/kWh` (values to 4
    /// significant digits; the sources are in the fields and in `models/prices/README.md`).
    pub fn citation(&self) -> String {
        let per_gb = |p: f64| format_quantity(p, Dimension::MoneyPerGb);
        let tiers = self.cdn.tiers();
        let cdn = match (tiers.first(), tiers.last()) {
            (Some(first), Some(last)) if tiers.len() > 1 => format!(
                "{} tiers, {} down to {}",
                tiers.len(),
                per_gb(first.price),
                per_gb(last.price)
            ),
            (Some(only), _) => format!("flat {}", per_gb(only.price)),
            _ => "no tiers".to_string(),
        };
        let per_mbps = |p: f64| format_quantity(p, Dimension::MoneyPerMbpsMonth);
        format!(
            "{} ({} prices, {}): CDN {cdn}; transit {}; server {}; electricity {}",
            self.name,
            self.level,
            self.date,
            per_mbps(self.transit),
            per_mbps(self.capacity),
            format_quantity(self.electricity, Dimension::MoneyPerKwh)
        )
    }
}

/// Reads the keys of one book, naming it in every error.
struct Reader<'a> {
    book: &'a str,
}

impl Reader<'_> {
    /// An error at `key`.
    fn key(&self, key: &str, problem: String) -> CostError {
        CostError::BookKey {
            book: self.book.to_string(),
            key: key.to_string(),
            problem,
        }
    }

    /// A TOML syntax error, with line and column.
    fn syntax(&self, text: &str, e: &toml::de::Error) -> CostError {
        let message = e.message().trim();
        let problem = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}: {message}")
            }
            None => message.to_string(),
        };
        CostError::BookSyntax {
            book: self.book.to_string(),
            problem,
        }
    }

    /// Refuses keys of `table` (at `prefix`) not in `allowed`.
    fn known_keys(&self, table: &Table, prefix: &str, allowed: &[&str]) -> Result<(), CostError> {
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.key(
                &join(prefix, k),
                format!(
                    "is not a price book key (allowed here: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// The value at `prefix.name`, or an error saying it is missing and what it should be.
    fn get<'t>(
        &self,
        table: &'t Table,
        prefix: &str,
        name: &str,
        wanted: &str,
    ) -> Result<&'t Value, CostError> {
        table
            .get(name)
            .ok_or_else(|| self.key(&join(prefix, name), format!("is missing: give {wanted}")))
    }

    /// The table at `name` (top level).
    fn table<'t>(&self, top: &'t Table, name: &str, wanted: &str) -> Result<&'t Table, CostError> {
        match self.get(top, "", name, wanted)? {
            Value::Table(t) => Ok(t),
            other => Err(self.key(
                name,
                format!("must be a table ([{name}]) (got {})", shown(other)),
            )),
        }
    }

    /// A non-empty string at `prefix.name`.
    fn text(&self, table: &Table, prefix: &str, name: &str) -> Result<String, CostError> {
        let key = join(prefix, name);
        match self.get(table, prefix, name, "a non-empty string")? {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Value::String(_) => Err(self.key(&key, "must not be empty".to_string())),
            other => Err(self.key(&key, format!("must be a string (got {})", shown(other)))),
        }
    }

    /// The `source` of section `prefix`: a non-empty string with a provenance tag.
    fn source(&self, table: &Table, prefix: &str) -> Result<String, CostError> {
        let source = self.text(table, prefix, "source")?;
        if TAGS.iter().any(|t| source.contains(t)) {
            Ok(source)
        } else {
            Err(self.key(
                &join(prefix, "source"),
                format!(
                    "must carry a provenance tag {} (see literature.md) (got {source:?})",
                    TAGS.join(", ")
                ),
            ))
        }
    }

    /// A quantity of `dim` written as a string with a unit, finite and ≥ 0, in base units.
    fn quantity(
        &self,
        table: &Table,
        prefix: &str,
        name: &str,
        dim: Dimension,
    ) -> Result<f64, CostError> {
        let key = join(prefix, name);
        let example = dim.examples().split(", ").next().unwrap_or("");
        let wanted = format!("{} with its unit, such as {example}", dim.describe());
        let text = match self.get(table, prefix, name, &wanted)? {
            Value::String(s) => s,
            other => {
                return Err(self.key(
                    &key,
                    format!(
                        "must be a string with a unit, such as {example} (got {})",
                        shown(other)
                    ),
                ))
            }
        };
        let value = parse_quantity(text, dim)
            .map_err(|e| self.key(&key, format!("cannot be read: {e}")))?;
        if value >= 0.0 {
            Ok(value)
        } else {
            Err(self.key(
                &key,
                format!("must be finite and ≥ 0 {} (got {text:?})", dim.base_unit()),
            ))
        }
    }

    /// A price section `[name]`: `value` in `dim` and `source`.
    fn price(&self, top: &Table, name: &str, dim: Dimension) -> Result<(f64, String), CostError> {
        let wanted = format!(
            "a table [{name}] with `value` ({}) and `source`",
            dim.describe()
        );
        let section = self.table(top, name, &wanted)?;
        self.known_keys(section, name, &["value", "source"])?;
        let value = self.quantity(section, name, "value", dim)?;
        Ok((value, self.source(section, name)?))
    }

    /// The `[cdn]` section: its tiers, validated as [`TierTable::new`] does, and its source.
    fn cdn(&self, top: &Table) -> Result<(TierTable, String), CostError> {
        let wanted = "a table [cdn] with `tiers` and `source`";
        let section = self.table(top, "cdn", wanted)?;
        self.known_keys(section, "cdn", &["tiers", "source"])?;
        let wanted = "an array of tiers, such as [{ up_to = \"10 TiB\", price = \"0.085 $/GB\" }, \
                      { price = \"0.080 $/GB\" }]";
        let list = match self.get(section, "cdn", "tiers", wanted)? {
            Value::Array(list) => list,
            other => {
                return Err(self.key(
                    "cdn.tiers",
                    format!("must be {wanted} (got {})", shown(other)),
                ))
            }
        };
        let mut tiers = Vec::with_capacity(list.len());
        let mut bounds_text = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let prefix = format!("cdn.tiers[{i}]");
            let Value::Table(t) = item else {
                return Err(self.key(
                    &prefix,
                    format!(
                        "must be a table {{ up_to = ..., price = ... }} (got {})",
                        shown(item)
                    ),
                ));
            };
            self.known_keys(t, &prefix, &["up_to", "price"])?;
            let price = self.quantity(t, &prefix, "price", Dimension::MoneyPerGb)?;
            let up_to_gb = match t.get("up_to") {
                None => None,
                Some(_) => Some(self.quantity(t, &prefix, "up_to", Dimension::DataSize)? / GB),
            };
            bounds_text.push(t.get("up_to").and_then(Value::as_str).unwrap_or(""));
            tiers.push(Tier { up_to_gb, price });
        }
        let last = tiers.len().saturating_sub(1);
        let table =
            TierTable::new(tiers, 0.0).map_err(|e| self.tier_error(e, &bounds_text, last))?;
        Ok((table, self.source(section, "cdn")?))
    }

    /// A [`TierTable::new`] error in the book's words: the key, the rule, the value as written.
    fn tier_error(&self, e: CostError, bounds_text: &[&str], last: usize) -> CostError {
        match e {
            CostError::NoTiers => self.key(
                "cdn.tiers",
                "is empty: it needs at least one tier, the last one without `up_to`".to_string(),
            ),
            CostError::Tier {
                index,
                field: "up_to_gb",
                range,
                got,
            } => {
                let key = format!("cdn.tiers[{index}].up_to");
                let text = bounds_text.get(index).copied().unwrap_or("");
                let problem = match got {
                    None => format!(
                        "is missing: every tier but the last ({last}) gives its cumulative \
                         upper bound, such as \"10 TiB\""
                    ),
                    Some(_) if index == last => format!(
                        "must be absent: the last tier applies above every bound (got {text:?})"
                    ),
                    Some(gb) => format!("must be {range} (got {text:?} = {gb} GB)"),
                };
                self.key(&key, problem)
            }
            CostError::Tier {
                index,
                field,
                range,
                got,
            } => self.key(
                &format!("cdn.tiers[{index}].{field}"),
                format!("must be {range} (got {got:?})"),
            ),
            other => self.key("cdn.tiers", other.to_string()),
        }
    }
}

/// `prefix.name`, or `name` at the top.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A TOML value for a message: its type and, for scalars, the value.
fn shown(v: &Value) -> String {
    match v {
        Value::Table(_) | Value::Array(_) => format!("a {}", v.type_str()),
        other => format!("the {} {other}", other.type_str()),
    }
}

/// `"a", "b" or "c"`.
fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => q.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::TB_GB;
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    /// Money rows of literature §7.1 are exact to the cent.
    const CENT: f64 = 0.01;

    /// A value read by the book and the same text read by the unit parser are the same
    /// computation, so they agree to the last bit; one ulp of slack.
    const SAME: f64 = f64::EPSILON;

    fn message(text: &str) -> String {
        match PriceBook::parse(text, "test.toml") {
            Ok(b) => panic!("accepted {b:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A valid book; the tests below break one thing in it at a time.
    const GOOD: &str = r#"
title = "A test book"
date = "2024"
level = "list"

[cdn]
source = "[P] test"
tiers = [
    { up_to = "10 TiB", price = "0.085 $/GB" },
    { up_to = "50 TiB", price = "0.080 $/GB" },
    { price = "0.060 $/GB" },
]

[transit]
value = "2 $/Mbps/month"
source = "[P] test"

[capacity]
value = "60 $/Gbps/month"
source = "[P] test"

[electricity]
value = "15.45 c/kWh"
source = "[S] test"
"#;

    fn with(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from:?} is not in the test book");
        GOOD.replacen(from, to, 1)
    }

    #[test]
    fn names_match_the_embedded_files_and_include_the_default() {
        let embedded: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        assert_eq!(PriceBook::names(), embedded.as_slice());
        assert!(PriceBook::names().contains(&PriceBook::DEFAULT));
    }

    #[test]
    fn every_builtin_book_parses() {
        for &name in PriceBook::names() {
            let book = PriceBook::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(book.name, name);
            assert!(
                LEVELS.contains(&book.level.as_str()),
                "{name}: {}",
                book.level
            );
            assert!(book.citation().starts_with(name));
        }
    }

    /// The list book's CDN is the CloudFront US table of `models/costs.md`: CF-10TB, CF-50TB
    /// and CF-1PB to the cent.
    #[test]
    fn list_book_reproduces_cloudfront_reference_costs() {
        let book = PriceBook::builtin("list-2024").expect("built-in");
        assert_eq!(book.cdn, TierTable::cloudfront_us());
        assert_abs_diff_eq!(book.cdn.cost(10.0 * TB_GB), 870.40, epsilon = CENT);
        assert_abs_diff_eq!(book.cdn.cost(50.0 * TB_GB), 4147.20, epsilon = CENT);
        assert_abs_diff_eq!(book.cdn.cost(1024.0 * TB_GB), 40_724.48, epsilon = CENT);
    }

    /// The figures the README quotes: EIA January 2024, and the derived 2018 transit price.
    #[test]
    fn headline_figures() {
        let list = PriceBook::builtin("list-2024").expect("built-in");
        assert_relative_eq!(list.electricity, 0.1545, max_relative = SAME);
        assert_relative_eq!(list.transit, 2.0, max_relative = SAME);
        assert_relative_eq!(list.capacity, 0.06, max_relative = SAME);
        let neg = PriceBook::builtin("negotiated-2019").expect("built-in");
        assert_relative_eq!(neg.transit, 0.61, max_relative = SAME);
        assert_relative_eq!(neg.capacity, 0.04, max_relative = SAME);
        assert_relative_eq!(neg.electricity, 0.1301, max_relative = SAME);
        // 50 PiB in a month: 500 TiB at 0.005, 1548 at 0.004, 8192 at 0.003, 40,960 at
        // 0.001 → 74.228 $/GB·TiB × 1024 = $76,009.47, $0.00145/GB on average.
        assert_abs_diff_eq!(neg.cdn.cost(51_200.0 * TB_GB), 76_009.47, epsilon = CENT);
    }

    /// Every value in every built-in book equals its file's text read by the unit parser, and
    /// every source is the file's string: the book adds nothing and drops nothing.
    #[test]
    fn values_read_back_from_the_files() {
        for (name, text) in BUILTIN {
            let book = PriceBook::builtin(name).expect("built-in");
            let top: Table = toml::from_str(text).expect("built-in is TOML");
            let field = |section: &str, key: &str| -> String {
                top[section][key].as_str().expect("string").to_string()
            };
            let read = |section: &str, dim| {
                parse_quantity(&field(section, "value"), dim).expect("valid quantity")
            };
            let money = Dimension::MoneyPerMbpsMonth;
            assert_relative_eq!(book.transit, read("transit", money), max_relative = SAME);
            assert_relative_eq!(book.capacity, read("capacity", money), max_relative = SAME);
            let kwh = read("electricity", Dimension::MoneyPerKwh);
            assert_relative_eq!(book.electricity, kwh, max_relative = SAME);
            assert_eq!(book.transit_source, field("transit", "source"));
            assert_eq!(book.capacity_source, field("capacity", "source"));
            assert_eq!(book.electricity_source, field("electricity", "source"));
            assert_eq!(book.cdn_source, field("cdn", "source"));
            assert_eq!(book.title, top["title"].as_str().expect("string"));
            assert_eq!(book.date, top["date"].as_str().expect("string"));
            assert_eq!(book.level, top["level"].as_str().expect("string"));
            let rows = top["cdn"]["tiers"].as_array().expect("array");
            assert_eq!(rows.len(), book.cdn.tiers().len(), "{name}");
            for (row, tier) in rows.iter().zip(book.cdn.tiers()) {
                let price = row["price"].as_str().expect("string");
                let price = parse_quantity(price, Dimension::MoneyPerGb).expect("valid");
                assert_relative_eq!(tier.price, price, max_relative = SAME);
                match (row.get("up_to").and_then(Value::as_str), tier.up_to_gb) {
                    (Some(b), Some(gb)) => {
                        let bytes = parse_quantity(b, Dimension::DataSize).expect("valid");
                        assert_relative_eq!(gb, bytes / GB, max_relative = SAME);
                    }
                    (None, None) => {}
                    other => panic!("{name}: bound mismatch {other:?}"),
                }
            }
        }
    }

    #[test]
    fn citation_is_one_line_with_every_price() {
        let book = PriceBook::builtin("list-2024").expect("built-in");
        assert_eq!(
            book.citation(),
            "list-2024 (list prices, 2024): CDN 7 tiers, 0.085 $/GB down to 0.02 $/GB; \
             transit 2 $/Mbps/month; server 0.06 $/Mbps/month; electricity 0.1545 $/kWh"
        );
        let one = PriceBook::parse(
            &with(
                "{ up_to = \"10 TiB\", price = \"0.085 $/GB\" },\n    { up_to = \"50 TiB\", price = \"0.080 $/GB\" },\n",
                "",
            ),
            "flat",
        )
        .expect("valid");
        assert!(
            one.citation().contains("CDN flat 0.06 $/GB;"),
            "{}",
            one.citation()
        );
    }

    #[test]
    fn the_test_book_is_valid() {
        let book = PriceBook::parse(GOOD, "test.toml").expect("valid");
        assert_eq!(book.name, "test.toml");
        assert_relative_eq!(book.capacity, 0.06, max_relative = SAME);
        assert_relative_eq!(book.electricity, 0.1545, max_relative = SAME);
    }

    #[test]
    fn unknown_builtin_lists_the_names() {
        assert_eq!(
            PriceBook::builtin("nope").unwrap_err().to_string(),
            "unknown price book \"nope\": the built-in books are list-2024, negotiated-2019"
        );
    }

    #[test]
    fn negative_price_names_the_key_and_value() {
        assert_eq!(
            message(&with("2 $/Mbps/month", "-2 $/Mbps/month")),
            "price book 'test.toml': `transit.value` must be finite and ≥ 0 $/Mbps/month \
             (got \"-2 $/Mbps/month\")"
        );
        assert_eq!(
            message(&with("0.080 $/GB", "-0.08 $/GB")),
            "price book 'test.toml': `cdn.tiers[1].price` must be finite and ≥ 0 $/GB \
             (got \"-0.08 $/GB\")"
        );
    }

    #[test]
    fn missing_keys_are_named() {
        assert_eq!(
            message(&with("value = \"60 $/Gbps/month\"\n", "")),
            "price book 'test.toml': `capacity.value` is missing: give a price per Mbps per \
             month with its unit, such as \"1.5 $/Mbps/month\""
        );
        assert_eq!(
            message(&with(
                "[electricity]\nvalue = \"15.45 c/kWh\"\nsource = \"[S] test\"\n",
                ""
            )),
            "price book 'test.toml': `electricity` is missing: give a table [electricity] with \
             `value` (an energy price) and `source`"
        );
        assert_eq!(
            message(&with("date = \"2024\"\n", "")),
            "price book 'test.toml': `date` is missing: give a non-empty string"
        );
        assert_eq!(
            message(&with("source = \"[P] test\"\ntiers", "tiers")),
            "price book 'test.toml': `cdn.source` is missing: give a non-empty string"
        );
    }

    #[test]
    fn unknown_unit_names_the_key() {
        assert_eq!(
            message(&with("2 $/Mbps/month", "2 $/Mbps/mth")),
            "price book 'test.toml': `transit.value` cannot be read: unknown unit \
             \"$/Mbps/mth\" in \"2 $/Mbps/mth\"; did you mean \"$/Mbps/month\"? (a price per Mbps \
             per month takes: $/Mbps/month, $/Mbps/mo, USD/Mbps/month, USD/Mbps/mo, \
             $/Gbps/month, $/Gbps/mo, or a bare number in $/Mbps/month)"
        );
        assert_eq!(
            message(&with("15.45 c/kWh", "15.45 $/GB")),
            "price book 'test.toml': `electricity.value` cannot be read: \"15.45 $/GB\" is a \
             price per GB, but an energy price is expected here (such as \"0.15 $/kWh\")"
        );
    }

    #[test]
    fn bare_numbers_are_refused() {
        assert_eq!(
            message(&with("\"2 $/Mbps/month\"", "2")),
            "price book 'test.toml': `transit.value` must be a string with a unit, such as \
             \"1.5 $/Mbps/month\" (got the integer 2)"
        );
    }

    #[test]
    fn unsorted_and_misplaced_tier_bounds() {
        assert_eq!(
            message(&with("\"50 TiB\"", "\"5 TiB\"")),
            "price book 'test.toml': `cdn.tiers[1].up_to` must be finite and > 10240 GB (the \
             bound of tier 0): bounds are cumulative and strictly increasing \
             (got \"5 TiB\" = 5120 GB)"
        );
        assert_eq!(
            message(&with("{ up_to = \"50 TiB\", ", "{ ")),
            "price book 'test.toml': `cdn.tiers[1].up_to` is missing: every tier but the last \
             (2) gives its cumulative upper bound, such as \"10 TiB\""
        );
        assert_eq!(
            message(&with(
                "{ price = \"0.060 $/GB\" }",
                "{ up_to = \"1 PiB\", price = \"0.06 $/GB\" }"
            )),
            "price book 'test.toml': `cdn.tiers[2].up_to` must be absent: the last tier applies \
             above every bound (got \"1 PiB\")"
        );
        assert_eq!(
            message(&with("\"10 TiB\"", "\"0 TiB\"")),
            "price book 'test.toml': `cdn.tiers[0].up_to` must be finite and > 0 GB \
             (got \"0 TiB\" = 0 GB)"
        );
        let empty = message(&GOOD.replacen(
            &GOOD[GOOD.find("tiers = [").expect("tiers")..GOOD.find("[transit]").expect("transit")],
            "tiers = []\n\n",
            1,
        ));
        assert_eq!(
            empty,
            "price book 'test.toml': `cdn.tiers` is empty: it needs at least one tier, the last \
             one without `up_to`"
        );
    }

    #[test]
    fn unknown_keys_types_levels_and_tags() {
        assert_eq!(
            message(&with("[transit]\n", "[transit]\nvalu = 3\n")),
            "price book 'test.toml': `transit.valu` is not a price book key (allowed here: \
             value, source)"
        );
        assert_eq!(
            message(&with(
                "level = \"list\"",
                "level = \"list\"\negress = \"0.01 $/GB\""
            )),
            "price book 'test.toml': `egress` is not a price book key (allowed here: title, \
             date, level, cdn, transit, capacity, electricity)"
        );
        assert_eq!(
            message(&with("level = \"list\"", "level = \"retail\"")),
            "price book 'test.toml': `level` must be one of \"list\", \"negotiated\" or \
             \"wholesale\" (got \"retail\")"
        );
        assert_eq!(
            message(&with("title = \"A test book\"", "title = \"  \"")),
            "price book 'test.toml': `title` must not be empty"
        );
        assert_eq!(
            message(&with("date = \"2024\"", "date = 2024")),
            "price book 'test.toml': `date` must be a string (got the integer 2024)"
        );
        assert_eq!(
            message(&with("source = \"[S] test\"", "source = \"EIA\"")),
            "price book 'test.toml': `electricity.source` must carry a provenance tag [S], [D], \
             [P], [R] (see literature.md) (got \"EIA\")"
        );
        assert_eq!(
            message(&with("{ price = \"0.060 $/GB\" }", "\"0.06 $/GB\"")),
            "price book 'test.toml': `cdn.tiers[2]` must be a table { up_to = ..., price = ... \
             } (got the string \"0.06 $/GB\")"
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = message(&with("level = \"list\"", "level = list"));
        assert!(
            e.starts_with("price book 'test.toml': not valid TOML: line 4, column 9: "),
            "{e}"
        );
    }

    #[test]
    fn book_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<PriceBook>();
    }
}
