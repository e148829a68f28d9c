//! Where `serve`'s settings come from: a flag, else its `HBMON_<NAME>`
//! environment variable, else the `--config` file (TOML, one key per flag:
//! `leave-timeout = "30s"`), else the default.
//!
//! The file is checked key by key: each value must have the TOML type its
//! flag takes (see [`Kind`]), then passes the flag's own parser, so a bad
//! value gets the same reason a bad flag would, plus the key and its line;
//! an unknown key is an error, never ignored. Values the command line or
//! the environment do not set are then handed to clap as if typed first.
//! `--print-config` writes the same types back, every value of a setting
//! that takes several, so a printed file reads back the same.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::ArgAction;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use toml::{Spanned, Value};

use crate::cli::Cli;
use crate::cli::OrOff;

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
    let matches = parse_args(&args);
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
    let matches = parse_args(&merged);
    Ok((Cli::from_arg_matches(&matches)?, matches))
}

/// `args` parsed as `hbmon`'s command line, or the process ends with
/// clap's usage error. A bad value that came from an `HBMON_*` variable is
/// reported under the variable's name: clap names only the flag, which the
/// user never typed.
fn parse_args(args: &[OsString]) -> ArgMatches {
    command()
        .try_get_matches_from(args)
        .unwrap_or_else(|error| {
            if matches!(
                error.kind(),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ) && let Some(bad) = bad_variable(args)
            {
                eprintln!("error: {bad}\n\nFor more information, try '--help'.");
                std::process::exit(error.exit_code());
            }
            error.exit()
        })
}

/// The first `HBMON_*` variable in use (its flag not on the command line)
/// whose value the flag's own parser refuses, and why.
fn bad_variable(args: &[OsString]) -> Option<String> {
    let command = command();
    let serve = command.find_subcommand("serve")?;
    serve.get_arguments().find_map(|arg| {
        let name = arg.get_env()?.to_str()?;
        let value = std::env::var_os(name)?;
        let flag = format!("--{}", arg.get_long()?);
        let typed = |a: &OsString| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
        };
        if args.iter().any(typed) {
            return None;
        }
        let alone = clap::Command::new("hbmon").arg(arg.clone());
        let error = alone.try_get_matches_from(["hbmon"]).err()?;
        Some(format!(
            "{name}={}: {}",
            value.to_string_lossy(),
            reason(&error)
        ))
    })
}

/// The first line of clap's message, without its `error: `.
fn reason(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.trim_start_matches("error: ").to_owned()
}

/// The file's settings as arguments, for those the command line and the
/// environment leave at their defaults.
fn from_file(path: &Path, given: &ArgMatches) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let table = parse_toml(path, &text)?;
    let command = command();
    let serve = command
        .find_subcommand("serve")
        .context("finding the serve subcommand")?;
    let mut args = Vec::new();
    for (key, value) in &table {
        let line = line_at(&text, value.span().start);
        let at = format!("{} line {line}: `{key}`", path.display());
        let id = key.replace('-', "_");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id() == id.as_str() && !NOT_SETTINGS.contains(&id.as_str()))
            .with_context(|| format!("{at} is not a setting (the settings are the flags of `hbmon serve --help` without their leading dashes: {})", keys(serve).join(", ")))?;
        if matches!(
            given.value_source(&id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        args.extend(as_args(arg, value.get_ref()).map_err(|e| anyhow::anyhow!("{at}{e}"))?);
    }
    Ok(args)
}

/// The file as a table of settings, each with where it is written; a
/// syntax error names its line, and its key when the line sets one.
fn parse_toml(path: &Path, text: &str) -> Result<BTreeMap<String, Spanned<Value>>> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let Some(span) = e.span() else {
            return anyhow::anyhow!("{} is not valid TOML: {}", path.display(), e.message());
        };
        let line = line_at(text, span.start);
        let key = text.lines().nth(line - 1).and_then(key_set_by);
        let at = match key {
            Some(key) => format!("{} line {line}: `{key}`", path.display()),
            None => format!("{} line {line}", path.display()),
        };
        anyhow::anyhow!("{at} is not valid TOML: {}", e.message().trim_end())
    })
}

/// The line (from 1) that holds byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// The key a `key = value` line sets, if it is one.
fn key_set_by(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (!key.is_empty() && key.chars().all(bare)).then_some(key)
}

/// The arguments that give `arg` the file's `value`, checked by the flag's
/// own parser; the error (after the key) says what is wrong.
fn as_args(arg: &clap::Arg, value: &Value) -> Result<Vec<OsString>, String> {
    let flag = OsString::from(format!("--{}", arg.get_long().unwrap_or_default()));
    let kind = Kind::of(arg);
    let texts = match (kind, value) {
        (Kind::Switch, Value::Boolean(on)) => return Ok(on.then_some(flag).into_iter().collect()),
        (_, value) => kind
            .texts(value)
            .ok_or_else(|| mismatch(arg, kind, value))?,
    };
    let args: Vec<OsString> = texts
        .into_iter()
        .flat_map(|text| [flag.clone(), text.into()])
        .collect();
    // The flag's own parser, on its own, says what is wrong with it.
    let alone = clap::Command::new("hbmon").arg(arg.clone());
    if let Err(error) =
        alone.try_get_matches_from(std::iter::once("hbmon".into()).chain(args.clone()))
    {
        return Err(format!(": {}", reason(&error)));
    }
    Ok(args)
}

/// What a value of the wrong type gets: what was expected, how the default
/// is written, and what was given.
fn mismatch(arg: &clap::Arg, kind: Kind, given: &Value) -> String {
    let like = example(arg)
        .map(|e| format!(" (like {} = {e})", arg.get_long().unwrap_or_default()))
        .unwrap_or_default();
    let given = match given {
        Value::String(_) => format!("the string {given}"),
        other => other.to_string(),
    };
    format!(" must be {}{like}, not {given}", kind.expected())
}

/// How the file writes `arg`'s default, if it has one.
fn example(arg: &clap::Arg) -> Option<Value> {
    let raws: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    (!raws.is_empty()).then(|| Kind::of(arg).value(arg, &raws))
}

/// What TOML type a setting takes in the file, from the type its flag
/// parses to: numbers for counts and numbers, strings for durations,
/// addresses, paths and names, booleans for switches, a list (or one
/// delimited string) for flags that take several values. The environment
/// always speaks in strings: this is for the file only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Switch,
    Whole,
    Number,
    /// A number, or a word such as `off` (`silence-guard = 0.5`, `"off"`).
    NumberOrWord,
    Text,
    List,
}

impl Kind {
    fn of(arg: &clap::Arg) -> Kind {
        match arg.get_action() {
            ArgAction::SetTrue => return Kind::Switch,
            ArgAction::Append => return Kind::List,
            _ => {}
        }
        let parses_to = arg.get_value_parser().type_id();
        let whole = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i64>(),
        ];
        if whole.iter().any(|t| parses_to == *t) {
            Kind::Whole
        } else if parses_to == TypeId::of::<f64>() {
            Kind::Number
        } else if parses_to == TypeId::of::<OrOff>() {
            Kind::NumberOrWord
        } else {
            Kind::Text
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Switch => "true or false",
            Kind::Whole => "a whole number",
            Kind::Number => "a number",
            Kind::NumberOrWord => "a number or a string",
            Kind::Text => "a string",
            Kind::List => "a list of strings",
        }
    }

    /// The flag's values that `value` stands for, if it has this kind's
    /// type. (A switch has none: it is there or not.)
    fn texts(self, value: &Value) -> Option<Vec<String>> {
        use Kind::{List, Number, NumberOrWord, Text, Whole};
        let one = match (self, value) {
            (Whole | Number | NumberOrWord, Value::Integer(n)) => n.to_string(),
            (Number | NumberOrWord, Value::Float(x)) => x.to_string(),
            (NumberOrWord | Text | List, Value::String(s)) => s.clone(),
            (List, Value::Array(items)) => {
                return items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect();
            }
            _ => return None,
        };
        Some(vec![one])
    }

    /// How the file writes the flag's values `raws`, as clap holds them.
    fn value(self, arg: &clap::Arg, raws: &[String]) -> Value {
        let first = raws.first().cloned().unwrap_or_default();
        match self {
            Kind::Switch => Value::Boolean(first == "true"),
            Kind::List => {
                let delimiter = arg.get_value_delimiter();
                let items = raws
                    .iter()
                    .flat_map(|raw| match delimiter {
                        Some(d) => raw.split(d).map(str::to_owned).collect(),
                        None => vec![raw.clone()],
                    })
                    .map(Value::String);
                Value::Array(items.collect())
            }
            Kind::Whole => first
                .parse::<i64>()
                .map_or(Value::String(first), Value::Integer),
            Kind::Number | Kind::NumberOrWord => first
                .parse::<i64>()
                .map(Value::Integer)
                .or_else(|_| first.parse::<f64>().map(Value::Float))
                .unwrap_or(Value::String(first)),
            Kind::Text => Value::String(first),
        }
    }
}

/// The settings' keys, as the file spells them.
fn keys(serve: &clap::Command) -> Vec<String> {
    serve
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !NOT_SETTINGS.contains(&a.get_id().as_str()))
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

/// The effective settings of `serve`, as a config file would hold them:
/// every value of a setting that takes several.
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
        let Some(raws) = serve.get_raw(id) else {
            continue;
        };
        let raws: Vec<String> = raws.map(|r| r.to_string_lossy().into_owned()).collect();
        table.insert(long.to_owned(), Kind::of(arg).value(arg, &raws));
    }
    Ok(toml::to_string(&table)?)
}
