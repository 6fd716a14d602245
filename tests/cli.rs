//! The `netgrad` binary: exit codes, where output goes, and that nothing is
//! written when a file has errors.

mod common;

use std::process::{Command, Output};

fn netgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netgrad"))
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_exits_0_on_every_example() {
    for path in common::net_files("examples") {
        let name = common::relative(&path);
        let out = netgrad(&["check", &name]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("{name}: no errors")));
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn check_exits_1_with_a_location_on_every_wrong_file() {
    for path in common::net_files("tests/fail") {
        let name = common::relative(&path);
        let out = netgrad(&["check", &name]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        let location = regex_like_location(&err, &name);
        assert!(location, "{name}: no {name}:LINE:COL in\n{err}");
        assert!(out.stdout.is_empty(), "{name}: wrote to stdout");
    }
}

/// Whether `err` contains `--> NAME:LINE:COL` with numeric line and column.
fn regex_like_location(err: &str, name: &str) -> bool {
    err.lines().any(|l| {
        let Some(rest) = l.trim_start().strip_prefix(&format!("--> {name}:")) else {
            return false;
        };
        let mut parts = rest.split(':');
        let line = parts.next().is_some_and(|p| p.parse::<u32>().is_ok());
        let col = parts.next().is_some_and(|p| p.parse::<u32>().is_ok());
        line && col
    })
}

#[test]
fn graph_writes_dot_and_nothing_on_errors() {
    let dir = std::env::temp_dir().join(format!("netgrad-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.dot");
    let out = netgrad(&["graph", "examples/bishop.net", "-o", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&good)
        .unwrap()
        .starts_with("digraph \"bishop\""));

    let bad = dir.join("bad.dot");
    let out = netgrad(&[
        "graph",
        "tests/fail/E0100_unknown_name.net",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!bad.exists(), "a file was written despite errors");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn graph_to_stdout() {
    let out = netgrad(&["graph", "examples/fanout.net"]);
    assert_eq!(out.status.code(), Some(0));
    let dot = text(&out.stdout);
    assert!(dot.contains("used 3 times"), "{dot}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = netgrad(&["check", "no/such/file.net"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot read `no/such/file.net`"));
}

#[test]
fn help_describes_every_command() {
    let out = netgrad(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for cmd in ["check", "graph"] {
        assert!(help.contains(cmd), "{help}");
        let sub = netgrad(&[cmd, "--help"]);
        assert_eq!(sub.status.code(), Some(0));
        assert!(text(&sub.stdout).contains("<FILE>"));
    }
}

#[test]
fn a_wrong_command_line_exits_2() {
    assert_eq!(netgrad(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(netgrad(&["check"]).status.code(), Some(2));
}
