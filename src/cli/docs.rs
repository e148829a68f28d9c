//! `hbmon completions` and `hbmon man`: generated from the same clap
//! structs the parser uses, so they cannot fall behind the flags.

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "hbmon", &mut std::io::stdout());
}

/// Prints the manual page, of `hbmon` or of one subcommand.
pub fn man(subcommand: Option<&str>) -> Result<()> {
    let mut command = Cli::command();
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => command
            .find_subcommand(name)
            .cloned()
            .with_context(|| format!("no subcommand '{name}' (see hbmon --help)"))?,
    };
    clap_mangen::Man::new(page)
        .render(&mut std::io::stdout())
        .context("writing the manual page")
}
