//! `hbmon completions` and `hbmon man`: generated from the same clap
//! structs the parser uses, so they cannot fall behind the flags, and the
//! manual's KEYS section from the table the dashboard's help draws, so it
//! cannot fall behind the keys.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use hbmon::front::tui::keys::{KEYS, Scope};
use roff::{Roff, bold, roman};

use super::Cli;

/// The pages that document the dashboard: the main one, and those of the
/// subcommands that open it.
const DASHBOARD_PAGES: [&str; 4] = ["hbmon", "hbmon-serve", "hbmon-top", "hbmon-demo"];

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "hbmon", &mut std::io::stdout());
}

/// The command the pages describe. `help` is left out: its page would say
/// only what `--help` does, and every page a page names must exist.
fn documented() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Prints the manual page, of `hbmon` or of one subcommand.
pub fn man(subcommand: Option<&str>) -> Result<()> {
    let command = documented();
    let command = match subcommand {
        None => command,
        Some(name) => command
            .find_subcommand(name)
            .cloned()
            .with_context(|| format!("no subcommand '{name}' (see hbmon --help)"))?,
    };
    print!("{}", page(command)?);
    Ok(())
}

/// Writes `hbmon.1` and a page for each subcommand it names into `dir`,
/// and says which.
pub fn write_pages(dir: &Path) -> Result<()> {
    let command = documented();
    let mut commands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    commands.insert(0, command);
    for command in commands {
        let name = command.get_display_name().unwrap_or(command.get_name());
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page(command.clone())?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// One page in roff: clap_mangen's sections, with KEYS before VERSION on
/// the pages of the dashboard.
fn page(command: clap::Command) -> Result<String> {
    let name = command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_owned();
    let mut roff = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut roff)
        .context("rendering the manual page")?;
    let mut page = String::from_utf8(roff).context("the manual page is not UTF-8")?;
    if DASHBOARD_PAGES.contains(&name.as_str()) {
        let at = page.find(".SH VERSION").unwrap_or(page.len());
        page.insert_str(at, &keys_section());
    }
    Ok(page)
}

/// The dashboard's keys, from [`KEYS`], with where each works.
fn keys_section() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["KEYS"]);
    roff.text([roman(
        "The dashboard of hbmon serve, hbmon top and hbmon demo; ? or F1 lists these keys on screen.",
    )]);
    for k in KEYS {
        let scope = match k.scope {
            Scope::Everywhere => "",
            Scope::Live => " (on the clients screen)",
            Scope::Kicks => " (on the clients screen; not in top --read-only)",
        };
        roff.control("TP", []);
        roff.text([bold(k.keys)]);
        roff.text([roman(format!("{}{scope}", k.does))]);
    }
    roff.to_roff()
}
