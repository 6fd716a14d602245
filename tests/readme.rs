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

/// The README's examples of output: code blocks whose first line is
/// `$ netgrad ...`, the command and what it prints, `...` standing for lines
/// left out.
fn readme_examples() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| {
            let mut lines = block.lines().skip(1);
            let command = lines.next()?.strip_prefix("$ netgrad ")?.to_string();
            Some((command, lines.map(|l| l.trim_end().to_string()).collect()))
        })
        .collect()
}

/// Whether `shown`, in pieces separated by `...`, stands in `output` in
/// order, each piece as consecutive lines.
fn shown_in(shown: &[String], output: &[&str]) -> Result<(), String> {
    let mut from = 0;
    for piece in shown.split(|l| l == "...").filter(|p| !p.is_empty()) {
        let found =
            (from..output.len()).find(|&at| output[at..].iter().take(piece.len()).eq(piece.iter()));
        match found {
            Some(at) => from = at + piece.len(),
            None => {
                return Err(format!(
                    "not in the output, in order:\n{}",
                    piece.join("\n")
                ))
            }
        }
    }
    Ok(())
}

#[test]
fn the_readme_examples_show_what_netgrad_prints() {
    let examples = readme_examples();
    assert!(examples.len() >= 2, "{examples:?}");
    for (command, shown) in examples {
        let out = Command::new(env!("CARGO_BIN_EXE_netgrad"))
            .args(command.split_whitespace())
            .current_dir(common::root())
            .output()
            .expect("netgrad runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        if let Err(e) = shown_in(&shown, &lines) {
            panic!("README: `netgrad {command}`: {e}\n--- it printed:\n{text}");
        }
    }
}

#[test]
fn the_example_matcher_needs_order_and_adjacency() {
    let lines = ["a", "b", "c", "d"];
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(shown_in(&s(&["a", "b", "...", "d"]), &lines).is_ok());
    assert!(shown_in(&s(&["a", "c"]), &lines).is_err());
    assert!(shown_in(&s(&["c", "...", "a"]), &lines).is_err());
}
