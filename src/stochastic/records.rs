//! Replicates stored bit for bit: the partial results of a shard (`--shard K/N`) or of an
//! unsharded run that may be resumed.
//!
//! A file is a header and then one fixed-size record per replicate, in the order the shard
//! runs its items, all little-endian:
//!
//! ```text
//! header   "PFREPS01" | fingerprint | items in the job | shard K | shard N | grid length | width
//! record   item | seed | arrivals, aborts, completions, seed departures, rejected (u64) |
//!          leecher-s, seed-s, server files, peer files (f64 bits) | rows (grid × width, f64
//!          bits: X_k, Y_k, d_k, server flow, peer flow, completed, aborted per grid time) |
//!          FNV-1a 64 of the record's bytes before it
//! ```
//!
//! Every value is the replicate's own bits, so folding records read back gives what folding
//! the replicates in memory gives. A record is 8 · (12 + grid · (3K + 4)) bytes. A record cut
//! short by a kill, or one whose checksum fails, ends the valid part of the file.

use super::{EventCounts, Replicate};

/// The first bytes of a records file (format version 1).
pub const MAGIC: &[u8; 8] = b"PFREPS01";

/// Bytes of the header.
pub const HEADER_BYTES: usize = 8 * 7;

/// What a records file holds: checked against the job before it is appended to or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Hash of everything that decides the replicates and the outputs.
    pub fingerprint: u64,
    /// Items (replicates over all scales) of the whole job.
    pub items: u64,
    /// Shard K.
    pub shard_index: u64,
    /// Shard count N.
    pub shard_count: u64,
    /// Grid times.
    pub grid_len: u64,
    /// Values per grid time (3K + 4).
    pub width: u64,
}

impl Header {
    /// Values of one replicate's rows.
    pub fn values(&self) -> usize {
        (self.grid_len * self.width) as usize
    }

    /// Bytes of one record.
    pub fn record_bytes(&self) -> usize {
        8 * (12 + self.values())
    }

    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES);
        out.extend_from_slice(MAGIC);
        for v in [
            self.fingerprint,
            self.items,
            self.shard_index,
            self.shard_count,
            self.grid_len,
            self.width,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Read a header; `None` when the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return None;
        }
        let w = |i: usize| u64_at(bytes, 8 + 8 * i);
        Some(Self {
            fingerprint: w(0),
            items: w(1),
            shard_index: w(2),
            shard_count: w(3),
            grid_len: w(4),
            width: w(5),
        })
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a, 64 bits (a checksum against torn or garbled records, not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Append the record of `item` to `out`.
pub fn encode(item: u64, rep: &Replicate, out: &mut Vec<u8>) {
    let start = out.len();
    let e = &rep.events;
    for v in [
        item,
        rep.seed,
        e.arrivals,
        e.aborts,
        e.completions,
        e.seed_departures,
        e.rejected_candidates,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [
        rep.leecher_seconds,
        rep.seed_seconds,
        rep.server_files,
        rep.peer_files,
    ]
    .iter()
    .chain(&rep.rows)
    {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    let sum = fnv1a(&out[start..]);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// Read one record (`bytes` of exactly [`Header::record_bytes`]); `None` when its checksum
/// fails.
pub fn decode(bytes: &[u8], header: &Header) -> Option<(u64, Replicate)> {
    let n = header.record_bytes();
    if bytes.len() != n || fnv1a(&bytes[..n - 8]) != u64_at(bytes, n - 8) {
        return None;
    }
    let w = |i: usize| u64_at(bytes, 8 * i);
    let f = |i: usize| f64::from_bits(w(i));
    let rows = (0..header.values()).map(|j| f(11 + j)).collect();
    Some((
        w(0),
        Replicate {
            seed: w(1),
            events: EventCounts {
                arrivals: w(2),
                aborts: w(3),
                completions: w(4),
                seed_departures: w(5),
                rejected_candidates: w(6),
            },
            leecher_seconds: f(7),
            seed_seconds: f(8),
            server_files: f(9),
            peer_files: f(10),
            rows,
            width: header.width as usize,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_bit_for_bit_and_a_flipped_bit_is_caught() {
        let header = Header {
            fingerprint: 7,
            items: 10,
            shard_index: 1,
            shard_count: 3,
            grid_len: 2,
            width: 7,
        };
        assert_eq!(Header::decode(&header.encode()), Some(header));
        let rep = Replicate {
            seed: 99,
            rows: (0..14).map(|i| f64::from(i) * 0.1 - 1e-300).collect(),
            width: 7,
            events: EventCounts {
                arrivals: 5,
                aborts: 1,
                completions: 3,
                seed_departures: 2,
                rejected_candidates: 8,
            },
            leecher_seconds: 1.0 / 3.0,
            seed_seconds: f64::MIN_POSITIVE,
            server_files: 0.1 + 0.2,
            peer_files: -0.0,
        };
        let mut bytes = Vec::new();
        encode(4, &rep, &mut bytes);
        assert_eq!(bytes.len(), header.record_bytes());
        let (item, back) = decode(&bytes, &header).expect("valid");
        assert_eq!(item, 4);
        assert_eq!(back.seed, rep.seed);
        assert_eq!(back.events, rep.events);
        let bits = |r: &Replicate| -> Vec<u64> {
            [
                r.leecher_seconds,
                r.seed_seconds,
                r.server_files,
                r.peer_files,
            ]
            .iter()
            .chain(&r.rows)
            .map(|v| v.to_bits())
            .collect()
        };
        assert_eq!(bits(&back), bits(&rep));
        bytes[40] ^= 1;
        assert!(decode(&bytes, &header).is_none());
        assert!(decode(&bytes[1..], &header).is_none());
    }
}
