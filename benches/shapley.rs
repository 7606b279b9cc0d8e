//! Placeholder until the incentives module lands (replaced by its benches).
fn main() {}
