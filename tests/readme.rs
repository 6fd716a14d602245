//! The README's first two commands, exactly as written: the first thing a
//! visitor types must work on a fresh clone.

mod common;

use std::process::Command;

/// The commands of README.md's first `sh` code block.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a ```sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn the_readme_starts_with_a_run_command_and_the_test_command() {
    let commands = readme_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].contains("examples/"), "{commands:?}");
    // The test command is what .ci/run runs (with --locked); running it
    // here would recurse.
    assert_eq!(commands[1], "cargo test --workspace");
    let in_ci = commands[1].replacen("cargo test", "cargo test --locked", 1);
    let ci = std::fs::read_to_string(common::root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == in_ci),
        ".ci/run does not run the README's test command"
    );
}

#[test]
fn the_readme_first_command_works_as_written() {
    let first = &readme_commands()[0];
    let out = Command::new("sh")
        .arg("-c")
        .arg(first)
        .current_dir(common::root())
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`{first}` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(": no errors"),
        "`{first}` printed:\n{stdout}"
    );
}
