//! Where `serve`'s settings come from: a flag, else its `HBMON_<NAME>`
//! environment variable, else the `--config` file (TOML, one key per flag:
//! `leave-timeout = "30s"`), else the default.
//!
//! The file is checked key by key with the flags' own parsers, so a bad
//! value gets the same reason a bad flag would, plus the key and its line;
//! an unknown key is an error, never ignored. Values the command line or
//! the environment do not set are then handed to clap as if typed first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::builder::ArgAction;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use toml::{Spanned, Value};

use crate::cli::Cli;

/// Arguments of `serve` that are not settings (the file cannot hold them).
const NOT_SETTINGS: [&str; 4] = ["config", "check", "print_config", "help"];
/// Arguments of `serve` with no environment variable.
const NO_ENV: [&str; 3] = ["check", "print_config", "help"];

/// The `hbmon` command, with an `HBMON_<NAME>` environment variable for
/// every `serve` option.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("serve", |serve| {
        serve.mut_args(|arg| {
            if arg.get_long().is_none() || NO_ENV.contains(&arg.get_id().as_str()) {
                return arg;
            }
            let name = format!("HBMON_{}", arg.get_id().as_str().to_uppercase());
            arg.env(name)
        })
    })
}

/// Parses the command line, with a `serve --config` file merged in.
pub fn parse() -> Result<(Cli, ArgMatches)> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let matches = command().get_matches_from(&args);
    let Some(("serve", serve)) = matches.subcommand() else {
        return Ok((Cli::from_arg_matches(&matches)?, matches));
    };
    let Some(path) = serve.get_one::<PathBuf>("config") else {
        return Ok((Cli::from_arg_matches(&matches)?, matches));
    };
    let injected = from_file(path, serve)?;
    let at = args
        .iter()
        .position(|a| a == "serve")
        .context("finding the serve subcommand")?;
    let merged: Vec<OsString> = args[..=at]
        .iter()
        .cloned()
        .chain(injected)
        .chain(args[at + 1..].iter().cloned())
        .collect();
    let matches = command().get_matches_from(merged);
    Ok((Cli::from_arg_matches(&matches)?, matches))
}

/// The file's settings as arguments, for those the command line and the
/// environment leave at their defaults.
fn from_file(path: &Path, given: &ArgMatches) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: {}", path.display(), e.message()))
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let spans: std::collections::BTreeMap<String, Spanned<Value>> = toml::from_str(&text)
        .with_context(|| {
            format!(
                "{}: every setting is a top-level `key = value`",
                path.display()
            )
        })?;
    let command = command();
    let serve = command
        .find_subcommand("serve")
        .context("finding the serve subcommand")?;
    let mut args = Vec::new();
    for (key, value) in &table {
        let line = spans
            .get(key)
            .map_or(0, |v| text[..v.span().start].matches('\n').count() + 1);
        let at = format!("{} line {line}: `{key}`", path.display());
        let id = key.replace('-', "_");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id() == id.as_str() && !NOT_SETTINGS.contains(&id.as_str()))
            .with_context(|| format!("{at} is not a setting (the settings are the flags of `hbmon serve --help` without their leading dashes: {})", keys(serve).join(", ")))?;
        let flag = format!("--{}", arg.get_long().unwrap_or(key));
        if matches!(
            given.value_source(&id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match value {
                Value::Boolean(true) => args.push(flag.into()),
                Value::Boolean(false) => {}
                other => bail!("{at} must be true or false, not {other}"),
            }
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            Value::Float(x) => x.to_string(),
            other => bail!("{at} must be a string or a number, not {other}"),
        };
        // The flag's own parser, on its own, says what is wrong with it.
        let alone = clap::Command::new("hbmon").arg(arg.clone());
        if let Err(error) = alone.try_get_matches_from([
            OsString::from("hbmon"),
            flag.clone().into(),
            text.clone().into(),
        ]) {
            let reason = error.render().to_string();
            let reason = reason
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            bail!("{at}: {reason}");
        }
        args.push(flag.into());
        args.push(text.into());
    }
    Ok(args)
}

/// The settings' keys, as the file spells them.
fn keys(serve: &clap::Command) -> Vec<String> {
    serve
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !NOT_SETTINGS.contains(&a.get_id().as_str()))
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

/// The effective settings of `serve`, as a config file would hold them.
pub fn effective(serve: &ArgMatches) -> Result<String> {
    let command = command();
    let serve_command = command
        .find_subcommand("serve")
        .context("finding the serve subcommand")?;
    let mut table = toml::Table::new();
    for arg in serve_command.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if NOT_SETTINGS.contains(&id) {
            continue;
        }
        let value = if matches!(arg.get_action(), ArgAction::SetTrue) {
            Value::Boolean(serve.get_flag(id))
        } else {
            match serve.get_raw(id).and_then(|mut v| v.next()) {
                Some(raw) => {
                    let raw = raw.to_string_lossy().into_owned();
                    raw.parse::<i64>()
                        .map(Value::Integer)
                        .unwrap_or(Value::String(raw))
                }
                None => continue,
            }
        };
        table.insert(long.to_owned(), value);
    }
    Ok(toml::to_string(&table)?)
}
