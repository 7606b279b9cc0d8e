//! Issue 23: `simulate` and `validate` sharded over separate processes and merged equal the
//! unsharded run byte for byte (1, 2 and 3 shards); missing and duplicated shards are refused
//! with their indices; a shard killed with SIGKILL resumes to the same bytes; shards of a
//! sweep run side by side in one folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two classes, a server and a flash crowd (the chain's general path with thinning), small.
const TWO: &str = "name = \"two\"\nhorizon = 300.0\n\
    [content]\nsize = 1\n\
    [demand]\narrival_rate = 1.0\nprofile = \"flash-crowd\"\ndecay_time = 100.0\n\
    [swarm]\nefficiency = 0.9\nabort_rate = 0.002\nseed_residence = 25.0\n\
    [[peers.class]]\nname = \"dsl\"\nshare = 0.6\nupload = 0.08\ndownload = 0.4\n\
    [[peers.class]]\nname = \"fibre\"\nshare = 0.4\nupload = 0.8\ndownload = 2.0\n\
    [server]\ncapacity = 0.4\n";

const VALIDATE: [&str; 8] = [
    "validate",
    "--scales",
    "20,50",
    "--replicates",
    "4",
    "--points",
    "10",
    "--no-plots",
];

fn bin() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("peerfluid")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("two.toml");
    std::fs::write(&p, TWO).expect("write scenario");
    p
}

/// `args` with `file` and `--out out`, and extra flags.
fn cmd(args: &[&str], file: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run shards 0..n of `args` as n processes at once into `out`, then `merge out`.
fn sharded(args: &[&str], file: &Path, out: &Path, n: u64) {
    let children: Vec<_> = (0..n)
        .map(|k| {
            cmd(
                args,
                file,
                out,
                &["--shard", &format!("{k}/{n}"), "--threads", "1"],
            )
            .spawn()
            .expect("spawn shard")
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().expect("shard"));
    }
    ok(Command::new(bin())
        .args(["merge", "--no-plots"])
        .arg(out)
        .output()
        .expect("merge"));
}

fn bytes(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn validate_in_1_2_3_shard_processes_merged_equals_the_unsharded_run_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(dir.path());
    let whole = dir.path().join("whole");
    ok(cmd(&VALIDATE, &file, &whole, &["--threads", "2"])
        .output()
        .expect("run"));
    assert!(
        !whole.join("replicates.partial").exists(),
        "the records of an unsharded run are removed at the end"
    );
    for n in 1..=3 {
        let out = dir.path().join(format!("shards-{n}"));
        sharded(&VALIDATE, &file, &out, n);
        for f in ["validation.csv", "validation.json"] {
            assert!(
                bytes(&out, f) == bytes(&whole, f),
                "{n} shards: {f} differs from the unsharded run"
            );
        }
        let timing: serde_json::Value =
            serde_json::from_slice(&bytes(&out, "timing.json")).expect("json");
        assert_eq!(timing["shards"].as_array().map(Vec::len), Some(n as usize));
    }
    // The library's in-memory `validate` folds the same replicates in the same order.
    let s = peerfluid::scenario::Scenario::from_path(&file).expect("scenario");
    let (rec, swarm) = peerfluid::run::fluid_for_simulation(&s, 10).expect("fluid");
    let fluid = peerfluid::stochastic::FluidReference::from_record(&rec).expect("columns");
    let v = peerfluid::stochastic::validate(&swarm, &fluid, &[20.0, 50.0], 4, 1, false, |_| {})
        .expect("validates");
    let mut json = serde_json::to_vec_pretty(&v).expect("json");
    json.push(b'\n');
    assert!(json == bytes(&whole, "validation.json"));
}

#[test]
fn simulate_in_3_shard_processes_merged_equals_the_unsharded_run_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(dir.path());
    let args = [
        "simulate",
        "--scale",
        "30",
        "--replicates",
        "5",
        "--points",
        "10",
    ];
    let whole = dir.path().join("whole");
    ok(cmd(&args, &file, &whole, &[]).output().expect("run"));
    let out = dir.path().join("three");
    sharded(&args, &file, &out, 3);
    for f in ["timeseries.csv", "summary.json"] {
        assert!(bytes(&out, f) == bytes(&whole, f), "{f} differs");
    }
}

#[test]
fn merge_refuses_missing_duplicated_and_unfinished_shards_by_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(dir.path());
    let out = dir.path().join("s");
    for k in [0, 2] {
        ok(cmd(&VALIDATE, &file, &out, &["--shard", &format!("{k}/4")])
            .output()
            .expect("shard"));
    }
    let merge = || {
        Command::new(bin())
            .args(["merge", "--no-plots"])
            .arg(&out)
            .output()
            .expect("merge")
    };
    let e = stderr(&merge());
    assert!(e.contains("shard(s) 1, 3 of 4 missing"), "{e}");
    // Shard 1 as 1-based id 2 (a Slurm array 1-4), shard 3 as 0-based.
    ok(cmd(
        &VALIDATE,
        &file,
        &out,
        &["--shard", "2/4", "--shard-base", "1"],
    )
    .output()
    .expect("shard"));
    ok(cmd(&VALIDATE, &file, &out, &["--shard", "3/4"])
        .output()
        .expect("shard"));
    // A manifest copied under another name claims shard 2 a second time.
    std::fs::copy(
        out.join("shard-0002-of-0004.json"),
        out.join("shard-0002-of-0004-copy.json"),
    )
    .expect("copy");
    let e = stderr(&merge());
    assert!(
        e.contains("shard(s) 2 (") && e.contains("found more than once"),
        "{e}"
    );
    std::fs::remove_file(out.join("shard-0002-of-0004-copy.json")).expect("rm");
    // An unfinished shard (its manifest says so) is named with its progress.
    let m = out.join("shard-0003-of-0004.json");
    let text = std::fs::read_to_string(&m).expect("manifest");
    std::fs::write(
        &m,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .expect("w");
    let e = stderr(&merge());
    assert!(
        e.contains("shard(s) 3 (2 of 2 done) of 4 not finished; rerun them with --resume"),
        "{e}"
    );
    // --resume of a shard whose records are complete just marks it complete again.
    ok(cmd(&VALIDATE, &file, &out, &["--shard", "3/4", "--resume"])
        .output()
        .expect("resume"));
    ok(merge());
    // Shards of another job in the folder are refused.
    let mut other = VALIDATE;
    other[4] = "8";
    let e = stderr(
        &cmd(&other, &file, &out, &["--shard", "0/4"])
            .output()
            .expect("other"),
    );
    assert!(e.contains("written for another job"), "{e}");
}

/// Wait until `path` holds at least `len` bytes (or a minute passes).
fn wait_for(path: &Path, len: u64) {
    let t0 = Instant::now();
    while std::fs::metadata(path).map_or(0, |m| m.len()) < len
        && t0.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_shard_killed_with_sigkill_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(dir.path());
    // Long enough per replicate that the kill comes mid-run (one thread: 2 a chunk).
    let args = [
        "validate",
        "--scales",
        "400",
        "--replicates",
        "16",
        "--points",
        "10",
        "--no-plots",
    ];
    let whole = dir.path().join("whole");
    ok(cmd(&args, &file, &whole, &[]).output().expect("run"));

    let out = dir.path().join("killed");
    let mut child = cmd(&args, &file, &out, &["--shard", "1/2", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let reps = out.join("shard-0001-of-0002.reps");
    // Header (56 bytes) and two records of 8 · (12 + 11 · 10) bytes.
    let record = 8 * (12 + 11 * 10);
    wait_for(&reps, 56 + 2 * record);
    child.kill().expect("kill"); // SIGKILL on Unix
    child.wait().expect("wait");
    let done = std::fs::metadata(&reps).expect("records").len();
    assert!(
        done < 56 + 8 * record,
        "the kill came after the end: make the run longer"
    );
    // A torn record at the end (the kill mid-write) is dropped on resume.
    let mut torn = std::fs::read(&reps).expect("read");
    torn.extend_from_slice(&[7u8; 100]);
    std::fs::write(&reps, torn).expect("write");
    let e = stderr(
        &cmd(&args, &file, &out, &["--shard", "1/2"])
            .output()
            .expect("again"),
    );
    assert!(e.contains("--resume"), "{e}");
    let resumed = ok(cmd(&args, &file, &out, &["--shard", "1/2", "--resume"])
        .output()
        .expect("resume"));
    let said = String::from_utf8_lossy(&resumed.stdout);
    assert!(said.contains("from the earlier run"), "{said}");
    ok(cmd(&args, &file, &out, &["--shard", "0/2"])
        .output()
        .expect("shard 0"));
    ok(Command::new(bin())
        .args(["merge", "--no-plots"])
        .arg(&out)
        .output()
        .expect("merge"));
    for f in ["validation.csv", "validation.json"] {
        assert!(bytes(&out, f) == bytes(&whole, f), "{f} differs");
    }
}

#[test]
fn an_unsharded_simulate_killed_with_sigkill_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(dir.path());
    let args = [
        "simulate",
        "--scale",
        "400",
        "--replicates",
        "16",
        "--points",
        "10",
    ];
    let whole = dir.path().join("whole");
    ok(cmd(&args, &file, &whole, &[]).output().expect("run"));
    let out = dir.path().join("killed");
    let mut child = cmd(&args, &file, &out, &["--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let partial = out.join("replicates.partial");
    wait_for(&partial, 56 + 2 * 8 * (12 + 11 * 10));
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert!(partial.exists() && !out.join("summary.json").exists());
    ok(cmd(&args, &file, &out, &["--resume"])
        .output()
        .expect("resume"));
    assert!(!partial.exists());
    for f in ["timeseries.csv", "summary.json"] {
        assert!(bytes(&out, f) == bytes(&whole, f), "{f} differs");
    }
}

/// Before issue 23 every sweep shard locked the whole folder, so shards running side by side
/// on one machine (GNU parallel, N processes standing in for nodes) refused each other. Here
/// this test holds shard 1's lock while shard 0 runs as a process (the old folder lock
/// refused it), then shard 1 is refused with this process's pid.
#[test]
fn sweep_shards_run_side_by_side_in_one_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenario(dir.path());
    let sweep = dir.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "base = \"two.toml\"\n[sweep]\n[[sweep.parameter]]\nkey = \"swarm.seed_residence\"\n\
         from = \"1 s\"\nto = \"100 s\"\nsteps = 6\n",
    )
    .expect("write");
    let whole = dir.path().join("whole");
    ok(cmd(&["sweep", "--no-plots"], &sweep, &whole, &[])
        .output()
        .expect("sweep"));
    let out = dir.path().join("shards");
    let shard = |k: u64| {
        cmd(
            &["sweep", "--no-plots"],
            &sweep,
            &out,
            &["--shard", &format!("{k}/3")],
        )
        .output()
        .expect("shard")
    };
    let held = peerfluid::output::lock::ShardLock::acquire(&out, "shard-0001-of-0003")
        .expect("lock shard 1");
    ok(shard(0));
    let e = stderr(&shard(1));
    assert!(
        e.contains(&format!(
            "in use by another peerfluid process (pid {})",
            std::process::id()
        )),
        "{e}"
    );
    drop(held);
    ok(shard(1));
    ok(shard(2));
    ok(Command::new(bin())
        .args(["merge", "--no-plots"])
        .arg(&out)
        .output()
        .expect("merge"));
    assert!(bytes(&out, "sweep.csv") == bytes(&whole, "sweep.csv"));
}
