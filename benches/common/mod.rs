//! Scenarios shared by the solve bench and `examples/count.rs` (callgrind counts), so that both
//! measure the same problem.

/// The 4-class scenario of issue 2's speed target (DSL, cable, fibre, mobile, a 200 Mbps server).
#[allow(dead_code)] // not every bench that includes this module uses it
pub const FOUR_CLASSES: &str = r#"
name = "four"
[content]
size = "1 GB"
[demand]
arrival_rate = "0.2/s"
[swarm]
efficiency = 0.9
abort_rate = "0.2/h"
seed_residence = "20 min"
[[peers.class]]
name = "dsl"
share = 0.3
upload = "1 Mbps"
download = "16 Mbps"
[[peers.class]]
name = "cable"
share = 0.3
upload = "10 Mbps"
download = "200 Mbps"
[[peers.class]]
name = "fibre"
share = 0.3
upload = "100 Mbps"
download = "500 Mbps"
[[peers.class]]
name = "mobile"
share = 0.1
upload = "5 Mbps"
download = "50 Mbps"
[server]
capacity = "200 Mbps"
"#;

/// Issue 17's several-class sweep point: `k` classes (0: the one-class file form) with upload
/// 4 Mbps and downloads spread geometrically over 4–16 Mbps (k = 4: 5.66, 7.13, 8.98,
/// 11.31 Mbps), equal shares, λ = 1.0771/s, θ = 0.001/s, seed residence 353.5 s, η = 0.9,
/// 1 MB, 5000 s from empty (the same as `spread_classes_toml` in tests/reference.rs).
#[allow(dead_code)] // not every bench that includes this module uses it
pub fn spread_classes(k: usize) -> String {
    let mut s = String::from(
        "name = \"spread\"\nhorizon = \"5000 s\"\n[content]\nsize = \"1 MB\"\n[demand]\n\
         arrival_rate = \"1.0771/s\"\n[swarm]\nefficiency = 0.9\nabort_rate = \"0.001/s\"\n\
         seed_residence = \"353.5 s\"\n",
    );
    if k == 0 {
        s.push_str("[peers]\nupload = \"4 Mbps\"\ndownload = \"8 Mbps\"\n");
    }
    for j in 0..k {
        let down = 4.0 * 2f64.powf(2.0 * (j as f64 + 0.5) / k as f64);
        s.push_str(&format!(
            "[[peers.class]]\nname = \"c{j}\"\nshare = {}\nupload = \"4 Mbps\"\ndownload = \"{down:.4} Mbps\"\n",
            1.0 / k as f64
        ));
    }
    s
}

/// A 100 × 100 log grid over seed residence (10–1000 s) and arrival rate (0.01–10/s) on the
/// scenario file `base` (issue 17's dynamics grid), `evaluate = "run"`.
#[allow(dead_code)]
pub fn dynamics_grid(base: &str) -> String {
    format!(
        "base = \"{base}\"\n[sweep]\nmode = \"grid\"\nevaluate = \"run\"\n\
         [[sweep.parameter]]\nkey = \"swarm.seed_residence\"\nfrom = \"10 s\"\nto = \"1000 s\"\nsteps = 100\nscale = \"log\"\n\
         [[sweep.parameter]]\nkey = \"demand.arrival_rate\"\nfrom = \"0.01/s\"\nto = \"10/s\"\nsteps = 100\nscale = \"log\"\n"
    )
}
