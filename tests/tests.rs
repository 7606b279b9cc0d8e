//! The single integration-test binary (style.md): reference values, scenarios, CLI.

mod bound;
mod cli;
mod cluster;
mod coordination;
mod decision;
mod economics;
mod edges;
mod fit;
mod isp;
mod mutations;
mod plots;
mod properties;
mod reference;
mod reliability;
mod scenarios;
mod stochastic;
mod sweep;
mod terms;
mod util;
mod validation;
mod validity;
mod video;
mod wireless;
