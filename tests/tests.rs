//! The single integration-test binary (style.md): reference values, scenarios, CLI.

mod cli;
mod properties;
mod reference;
mod scenarios;
mod util;
mod validation;
