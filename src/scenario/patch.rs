//! Setting one numeric key of a parsed scenario file in place, for sweeps: each point is the
//! base file as parsed once, cloned, with its swept keys set, and then validated by the same
//! [`validate_raw`](super::validate_raw) as any file (no TOML text is built, parsed or
//! deserialized per point).
//!
//! Only keys the base file gives can be set this way, and only numbers and quantities (the
//! kinds a sweep varies); for any other path [`Patch::patch`] returns false and the sweep puts
//! the value into a copy of the parsed TOML table instead (the general path).

use toml::Spanned;

use super::raw::*;

/// A value as a sweep writes it into a file: a TOML number, or a quoted quantity's text.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// A bare number (base units for a quantity).
    Number(f64),
    /// The text inside the quotes, such as `2 Mbps`.
    Text(&'a str),
}

impl<'a> Value<'a> {
    /// The value of TOML text as sweeps write it (`1e-2`, `"10 s"`); `None` for anything else
    /// (an escape in a string), which then takes the general path.
    pub fn of_toml(text: &'a str) -> Option<Self> {
        let t = text.trim();
        match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) if !inner.contains(['\\', '"']) => Some(Value::Text(inner)),
            Some(_) => None,
            None => t
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .map(Value::Number),
        }
    }
}

/// A node of the parsed file that a numeric key can be set in.
pub trait Patch {
    /// Set the key at `path` (below this node) to `value`, as if the file gave it; false when
    /// the path is not a number or quantity the file gives, or the value is not of its kind
    /// (nothing is changed then).
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool;
}

impl Patch for Quantity {
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
        if !path.is_empty() {
            return false;
        }
        *self = match value {
            Value::Number(v) => Quantity::Number(v),
            Value::Text(t) => Quantity::Text(t.to_string()),
        };
        true
    }
}

impl Patch for f64 {
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
        match (path.is_empty(), value) {
            (true, Value::Number(v)) => {
                *self = v;
                true
            }
            _ => false,
        }
    }
}

/// The value keeps its span in the file, so an error about it points where the base gave it
/// (as the general path does).
impl<T: Patch> Patch for Spanned<T> {
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
        self.get_mut().patch(path, value)
    }
}

impl<T: Patch> Patch for Option<T> {
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
        self.as_mut().is_some_and(|v| v.patch(path, value))
    }
}

impl<T: Patch> Patch for Vec<T> {
    fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        first
            .parse::<usize>()
            .ok()
            .and_then(|i| self.get_mut(i))
            .is_some_and(|v| v.patch(rest, value))
    }
}

/// Keys that are not numbers (names, choices, switches) are never set in place.
macro_rules! opaque {
    ($($t:ty),*) => {$(
        impl Patch for $t {
            fn patch(&mut self, _: &[&str], _: Value<'_>) -> bool {
                false
            }
        }
    )*};
}
opaque!(String, bool);

/// A table: its fields by their names in the file.
macro_rules! table {
    ($t:ty { $($field:ident),* $(,)? }) => {
        impl Patch for $t {
            fn patch(&mut self, path: &[&str], value: Value<'_>) -> bool {
                let Some((first, rest)) = path.split_first() else {
                    return false;
                };
                match *first {
                    $(stringify!($field) => self.$field.patch(rest, value),)*
                    _ => false,
                }
            }
        }
    };
}

table!(ScenarioFile {
    name,
    horizon,
    content,
    demand,
    swarm,
    peers,
    server,
    pricing,
    incentive,
    isp,
    locality,
    push,
    wireless,
    energy,
    coordination
});
table!(CoordinationFile {
    kind,
    tracker,
    dht,
    flood
});
table!(TrackerFile {
    interval,
    request,
    response,
    capacity,
    server
});
table!(DhtFile {
    message,
    lookups,
    refresh
});
table!(FloodFile {
    degree,
    ttl,
    message,
    queries,
    replication
});
table!(WirelessFile {
    users,
    demand,
    hosts,
    busy_hour_share,
    busy_hour,
    home_share,
    neighbour_share,
    host_uplink,
    tower_capacity,
    tower_cost,
    tower_power,
    femtocell_price,
    femtocell_lifetime,
    give_away
});
table!(EnergyFile {
    origin,
    cdn,
    network,
    peer_device,
    peer_power,
    carbon
});
table!(PushFile { devices, deadline });
table!(IspFile {
    name,
    class,
    transit,
    transit_capacity
});
table!(LocalityFile {
    selection,
    fraction,
    transit_capacity
});
table!(ContentFile {
    kind,
    size,
    bitrate,
    watch_time,
    prefetch,
    titles,
    zipf
});
table!(DemandFile {
    arrival_rate,
    profile,
    decay_time,
    peak_to_mean,
    period,
    peak_time,
    file
});
table!(SwarmFile {
    efficiency,
    abort_rate,
    seed_residence
});
table!(PeersFile {
    upload,
    download,
    class,
    cost
});
table!(PeerCostFile {
    power,
    electricity,
    upload_value,
    distribution,
    min,
    max,
    median,
    sigma,
    spread
});
table!(ClassCostFile {
    distribution,
    min,
    max,
    median,
    sigma,
    spread
});
table!(PricingFile {
    origin,
    transit,
    egress,
    capacity,
    cdn,
    cdn_tier,
    commit_discount,
    billing_month,
    tracker,
    book,
    billing,
    events_per_month,
    include_warmup,
    headroom
});
table!(CdnTierFile { up_to, price });
table!(IncentiveFile {
    mechanism,
    price,
    discount,
    response_time
});
table!(ClassFile {
    name,
    share,
    upload,
    download,
    seed_residence,
    abort_rate,
    cost
});
table!(ServerFile { capacity });
