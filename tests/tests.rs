//! The single integration-test binary (style.md): reference values, scenarios, CLI.

mod cli;
mod economics;
mod properties;
mod reference;
mod scenarios;
mod util;
mod validation;
