//! Running hbmon as a service: the config file and its precedence, `--check`,
//! `--print-config`, the example config and unit in `assets/`, shell
//! completions and the manual page.

mod common;

use std::path::Path;
use std::process::Output;

use common::{hbmon, temp};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");

fn serve(args: &[&str], env: &[(&str, &str)]) -> Output {
    hbmon()
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn config(name: &str, text: &str) -> String {
    let path = temp(name).with_extension("toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let file = config(
        "precedence",
        "tick = \"250ms\"\nthreshold = 3\ncursor = 4\n",
    );
    let output = serve(
        &["--config", &file, "--threshold", "7", "--print-config"],
        &[("HBMON_TICK", "2s"), ("HBMON_RECOVER", "9")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: toml::Table = stdout(&output).parse().unwrap();
    assert_eq!(printed["threshold"].as_integer(), Some(7), "flag over file");
    assert_eq!(
        printed["tick"].as_str(),
        Some("2s"),
        "environment over file"
    );
    assert_eq!(printed["cursor"].as_integer(), Some(4), "file over default");
    assert_eq!(
        printed["recover"].as_integer(),
        Some(9),
        "environment over default"
    );
    assert_eq!(
        printed["leave-timeout"].as_str(),
        Some("30s"),
        "the default"
    );
    // What --print-config prints is a config file that reads back the same.
    let again = config("printed", &stdout(&output));
    let output = serve(&["--config", &again, "--print-config"], &[]);
    let reread: toml::Table = stdout(&output).parse().unwrap();
    assert_eq!(reread, printed);
}

#[test]
fn every_kind_of_bad_config_names_the_key_its_line_and_what_was_expected() {
    let cases = [
        ("\n\ntik = \"1s\"\n", "line 3: `tik` is not a setting"),
        (
            "threshold = 0\n",
            "line 1: `threshold`: invalid value '0' for '--threshold <THRESHOLD>': 0 is not in 1..=4294967295",
        ),
        ("tick = \"soon\"\n", "line 1: `tick`: invalid value 'soon'"),
        (
            "no-tui = \"yes\"\n",
            "line 1: `no-tui` must be true or false",
        ),
        (
            "tick = [1]\n",
            "line 1: `tick` must be a string (like tick = \"1s\"), not [1]",
        ),
        ("tick = \n", "is not valid TOML"),
        (
            "detector = \"magic\"\n",
            "line 1: `detector`: invalid value 'magic'",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = config(&format!("bad{i}"), text);
        let output = serve(&["--config", &file, "--check"], &[]);
        assert_eq!(output.status.code(), Some(1), "{text}");
        let stderr = stderr(&output);
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
        assert!(stderr.contains(&file), "names the file: {stderr}");
    }
    let output = serve(&["--config", "/nonexistent/hbmon.toml", "--check"], &[]);
    assert!(stderr(&output).contains("cannot read the config file /nonexistent/hbmon.toml"));
}

#[test]
fn check_finds_what_serve_would_refuse_without_listening() {
    let good = serve(
        &["--config", &format!("{ASSETS}/hbmon.toml"), "--check"],
        &[],
    );
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(stdout(&good).contains("the settings are good"));
    let journal = serve(
        &["--journal", "/nonexistent/dir/journal.jsonl", "--check"],
        &[],
    );
    assert_eq!(journal.status.code(), Some(1));
    assert!(stderr(&journal).contains("cannot write the journal /nonexistent/dir/journal.jsonl"));
    let token = serve(&["--token-file", "/nonexistent/token", "--check"], &[]);
    assert_eq!(token.status.code(), Some(1));
    assert!(stderr(&token).contains("cannot read the token file /nonexistent/token"));
}

#[test]
fn the_service_unit_starts_serve_with_settings_that_check_out() {
    let unit = std::fs::read_to_string(format!("{ASSETS}/hbmon.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let journal = temp("unit-journal");
    // The unit's paths, as this machine has them.
    let exec = exec
        .replace("/etc/hbmon/hbmon.toml", &format!("{ASSETS}/hbmon.toml"))
        .replace("/var/lib/hbmon/journal.jsonl", journal.to_str().unwrap());
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/hbmon"));
    let output = hbmon().args(words).arg("--check").output().unwrap();
    assert!(output.status.success(), "{exec}: {}", stderr(&output));
    for hardening in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "StateDirectory=hbmon",
        "LimitNOFILE=65536",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    let _ = std::fs::remove_file(journal);
}

#[test]
fn completions_parse_and_the_manual_page_renders() {
    let bash = hbmon().args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success());
    let script = temp("completions").with_extension("bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{}", stderr(&syntax));
    assert!(stdout(&bash).contains("--leave-timeout"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = hbmon().args(["completions", shell]).output().unwrap();
        assert!(
            output.status.success() && !output.stdout.is_empty(),
            "{shell}"
        );
    }
    let man = hbmon().arg("man").output().unwrap();
    let page = stdout(&man);
    assert!(page.contains(".TH hbmon 1"), "{page}");
    for subcommand in ["serve", "top", "client", "simulate", "history", "bench"] {
        assert!(page.contains(subcommand), "{subcommand}");
    }
    let serve = stdout(&hbmon().args(["man", "serve"]).output().unwrap());
    assert!(serve.contains("leave\\-timeout"), "{serve}");
    assert!(serve.contains("admin\\-token\\-file"), "{serve}");
    assert!(Path::new(&script).exists());
    let _ = std::fs::remove_file(script);
}

#[test]
fn a_toml_syntax_error_names_its_line_and_key() {
    for (text, expected) in [
        (
            "tick = \"1s\"\n\nthreshold = \n",
            "line 3: `threshold` is not valid TOML",
        ),
        ("tick = \"1s\"\n[limits\n", "line 2 is not valid TOML"),
    ] {
        check_refuses("syntax", text, expected);
    }
}

#[test]
fn a_value_of_the_wrong_type_is_refused_with_key_line_given_and_expected() {
    let cases = [
        (
            "tick = \"1s\"\nthreshold = \"5\"\n",
            "line 2: `threshold` must be a whole number (like threshold = 5), not the string \"5\"",
        ),
        (
            "max-frame = 1.5\n",
            "line 1: `max-frame` must be a whole number (like max-frame = 65536), not 1.5",
        ),
        (
            "tick = 5\n",
            "line 1: `tick` must be a string (like tick = \"1s\"), not 5",
        ),
        (
            "phi-threshold = \"8\"\n",
            "line 1: `phi-threshold` must be a number (like phi-threshold = 8), not the string \"8\"",
        ),
    ];
    for (text, expected) in cases {
        check_refuses("wrong-type", text, expected);
    }
    // The environment speaks in strings: the type rule is for the file.
    let output = serve(&["--check"], &[("HBMON_THRESHOLD", "5")]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Numbers where a number or a word fits: the example config's 0.5.
    let file = config(
        "number-or-word",
        "silence-guard = 0.5\nclose-rate = \"off\"\n",
    );
    let output = serve(&["--config", &file, "--check"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `serve --check` on a config file named `name` holding `text` exits 1,
/// saying `FILE EXPECTED` on stderr.
fn check_refuses(name: &str, text: &str, expected: &str) {
    let file = config(name, text);
    let output = serve(&["--config", &file, "--check"], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let stderr = stderr(&output);
    assert!(
        stderr.contains(&format!("{file} {expected}")),
        "{text:?}: {stderr}"
    );
}
