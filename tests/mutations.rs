//! Issue 18's property test: mutated versions of every shipped scenario go through validation
//! and, when they pass, a whole `compare` and the writer (the same library calls as
//! `peerfluid compare --no-plots`). Asserted for every mutation: no panic; no case runs past
//! its watchdog (the solvers' work budgets end a runaway solve in well under a second); a
//! result that is written holds no non-finite number (the writer refuses one, naming it); a
//! refused or failed case leaves nothing in its output folder.
//!
//! A fixed-seed slice runs in CI (`MUTATIONS_PER_FILE` per file); a long run by hand:
//! `PEERFLUID_MUTATIONS=200 cargo test --release --test tests mutations -- --nocapture`
//! (counts in README, Reliability).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Mutations per scenario file in CI.
const MUTATIONS_PER_FILE: usize = 3;
/// A case that takes longer has hung (a compare of a shipped scenario takes well under a
/// second in release; debug builds are ~20× slower).
const WATCHDOG: Duration = Duration::from_secs(120);

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values put in place of a key's value: extremes, wrong kinds and degenerate numbers.
const REPLACEMENTS: [&str; 18] = [
    "0",
    "-1",
    "1e300",
    "1e-300",
    "\"1e300/s\"",
    "\"1e-300 s\"",
    "\"inf\"",
    "\"nan\"",
    "\"0 B\"",
    "\"1e308 $/GB\"",
    "\"-5 Mbps\"",
    "true",
    "\"\"",
    "[]",
    "1e15",
    "\"1e15 d\"",
    "\"100\"",
    "\"1 yr\"",
];

/// One mutation of `text`: a `key = value` line gets its number scaled by 10^k (k in
/// −12..=12) or its value replaced by one of [`REPLACEMENTS`].
fn mutate(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let candidates: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            !l.starts_with('#') && !l.starts_with('[') && l.contains('=')
        })
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return text.to_string();
    }
    let i = candidates[rng.below(candidates.len())];
    let (key, value) = lines[i].split_once('=').expect("has =");
    let value = value.trim();
    let k = rng.below(25) as i32 - 12;
    let pick = rng.below(REPLACEMENTS.len());
    let scaled = || -> Option<String> {
        // The first number in the value, scaled.
        let start = value.find(|c: char| c.is_ascii_digit())?;
        let end = value[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+'))
            .map_or(value.len(), |e| start + e);
        let x: f64 = value[start..end].parse().ok()?;
        Some(format!(
            "{}{:e}{}",
            &value[..start],
            x * 10f64.powi(k),
            &value[end..]
        ))
    };
    let new_value = if rng.below(2) == 0 {
        scaled().unwrap_or_else(|| REPLACEMENTS[pick].to_string())
    } else {
        REPLACEMENTS[pick].to_string()
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[i] = format!("{key}= {new_value}");
    out.join("\n")
}

#[derive(Debug, Default)]
struct Counts {
    cases: usize,
    refused: usize,
    written: usize,
    failed: usize,
}

/// Run one mutated scenario as `compare --no-plots` would; the outcome or the panic message.
fn case(
    text: String,
    dir: std::path::PathBuf,
    base: std::path::PathBuf,
) -> Result<&'static str, String> {
    let r = std::panic::catch_unwind(move || -> Result<&'static str, String> {
        let s = match peerfluid::scenario::Scenario::from_toml(&text, "mutated.toml", Some(&base)) {
            Ok(s) => s,
            Err(_) => return Ok("refused"),
        };
        let opts = peerfluid::run::RunOptions {
            points: 50,
            ..Default::default()
        };
        let rec = match peerfluid::run::compare_scenario(&s, &opts) {
            Ok(r) => r,
            Err(_) => return Ok("failed"),
        };
        match peerfluid::output::write_run(&dir, &rec, false) {
            Ok(files) => {
                for f in files
                    .iter()
                    .filter(|f| f.extension().is_some_and(|e| e == "csv"))
                {
                    let body = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
                    for cell in body.split([',', '\n']) {
                        let c = cell.trim().to_ascii_lowercase();
                        if c == "inf" || c == "-inf" || c == "nan" {
                            return Err(format!("{}: a non-finite cell was written", f.display()));
                        }
                    }
                }
                Ok("written")
            }
            Err(_) => {
                if dir.exists() {
                    return Err(format!(
                        "{}: left behind after a failed write",
                        dir.display()
                    ));
                }
                Ok("failed")
            }
        }
    });
    match r {
        Ok(x) => x,
        Err(p) => Err(format!(
            "panic: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

#[test]
fn mutated_scenarios_never_panic_hang_or_write_non_finite_numbers() {
    let per_file = std::env::var("PEERFLUID_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MUTATIONS_PER_FILE);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut counts = Counts::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for m in 0..per_file {
            let mutated = mutate(&text, &mut rng);
            let dir = tmp.path().join(format!(
                "{}-{m}",
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            let (tx, rx) = mpsc::channel();
            let (t2, d2, b2) = (mutated.clone(), dir.clone(), root.clone());
            std::thread::spawn(move || {
                let _ = tx.send(case(t2, d2, b2));
            });
            counts.cases += 1;
            let clock = std::time::Instant::now();
            let watchdog = std::env::var("PEERFLUID_WATCHDOG_S")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(WATCHDOG, Duration::from_secs);
            let outcome = rx.recv_timeout(watchdog);
            let took = clock.elapsed();
            if took > Duration::from_secs(2) {
                let changed = mutated
                    .lines()
                    .zip(text.lines())
                    .find(|(a, b)| a != b)
                    .map_or("", |(a, _)| a);
                eprintln!("slow: {} {took:.1?}: {changed}", file.display());
            }
            match outcome {
                Ok(Ok("refused")) => counts.refused += 1,
                Ok(Ok("written")) => counts.written += 1,
                Ok(Ok(_)) => counts.failed += 1,
                Ok(Err(e)) => problems.push(format!("{}: {e}\n{mutated}", file.display())),
                Err(_) => problems.push(format!(
                    "{}: no answer within {watchdog:?} (hang)\n{mutated}",
                    file.display()
                )),
            }
        }
    }
    eprintln!("mutations: {counts:?}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(counts.refused > 0 && counts.written > 0, "{counts:?}");
}
