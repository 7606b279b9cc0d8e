//! `peerfluid` binary: parse the command line, run, print any error once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = peerfluid::cli::Cli::parse();
    match peerfluid::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `peerfluid ... | head`: the reader has what it wanted; stop quietly, as ripgrep does.
        Err(e) if peerfluid::cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
