//! Scenarios shared by the solve bench and `examples/count.rs` (callgrind counts), so that both
//! measure the same problem.

/// The 4-class scenario of issue 2's speed target (DSL, cable, fibre, mobile, a 200 Mbps server).
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
