//! The `netgrad` binary: exit codes, where output goes, and that nothing is
//! written when a file has errors.

mod common;

use std::process::{Command, Output};

use common::{netgrad, text};

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
    let dir = std::env::temp_dir().join(format!("netgrad-cli-{}-graph", std::process::id()));
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
    for cmd in ["check", "compile", "eval", "explain", "graph", "values"] {
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

/// Writes a file in a folder of its own, so that tests running in parallel
/// never touch each other's files.
fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netgrad-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn eval_prints_loss_gradient_and_outputs() {
    let out = netgrad(&[
        "eval",
        "examples/bishop.net",
        "--values",
        "examples/bishop.values.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    let keys: Vec<usize> = [
        "\"loss\"",
        "\"gradient\"",
        "\"w1\"",
        "\"b2\"",
        "\"outputs\"",
        "\"y\"",
    ]
    .iter()
    .map(|k| {
        json.find(k)
            .unwrap_or_else(|| panic!("{k} missing:\n{json}"))
    })
    .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "keys out of order:\n{json}"
    );
}

#[test]
fn eval_names_every_problem_with_the_values() {
    let values = write_temp(
        "bad.json",
        r#"{"x": [1, 2], "t": [1, "a"], "w1": 3, "b1": [0, 0, 0, 0], "w2": [[0, 0, 0, 0], [0, 0, 0]], "extra": 1}"#,
    );
    let out = netgrad(&[
        "eval",
        "examples/bishop.net",
        "--values",
        values.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    for want in [
        "`x` has 2 elements; expected 3 (`x` is x[D])",
        "`t[1]` must be a number, not a string",
        "`w1` must be an array of 4 arrays of 3 numbers, not a number",
        "`w2[1]` has 3 elements; expected 4",
        "`b2` is missing: expected an array of 2 numbers",
        "`extra` is not an input or param of this file",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
}

#[test]
fn eval_reports_a_result_that_is_not_finite() {
    let net = write_temp("nan.net", "param w\nloss E = log(w)\n");
    let values = write_temp("nan.json", r#"{"w": -1}"#);
    let out = netgrad(&[
        "eval",
        net.to_str().unwrap(),
        "--values",
        values.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("the loss is NaN"), "{err}");
}

#[test]
fn wrt_selects_inputs_and_params_and_rejects_others() {
    let out = netgrad(&[
        "eval",
        "examples/bishop.net",
        "--values",
        "examples/bishop.values.json",
        "--wrt",
        "x,b2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    assert!(
        json.contains("\"x\"") && json.contains("\"b2\"") && !json.contains("\"w1\""),
        "{json}"
    );
    let out = netgrad(&["check", "examples/bishop.net", "--wrt", "y"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`y` is a definition; only inputs and params"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_fails_when_the_tolerance_is_impossible() {
    let out = netgrad(&["check", "examples/fanout.net", "--tol", "1e-300"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error: the gradient of `w` differs from central differences")
    );
}

#[test]
fn check_reports_a_loss_that_is_not_finite_at_the_random_point() {
    let net = write_temp("nanloss.net", "input x\nparam w\nloss E = w * log(x - 2)\n");
    let out = netgrad(&["check", net.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: the loss is NaN at the random values of seed 1"),
        "{err}"
    );
}

#[test]
fn compile_writes_a_stamped_module_or_nothing() {
    let out = netgrad(&["compile", "examples/bishop.net"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let code = text(&out.stdout);
    assert!(
        code.starts_with("// @generated by netgrad from examples/bishop.net\n"),
        "{}",
        &code[..80]
    );
    for item in [
        "pub const N_INPUTS: usize = 5;",
        "pub const N_PARAMS: usize = 26;",
        "pub fn loss_flat(",
        "pub fn gradient_flat(",
        "pub fn gradient(",
    ] {
        assert!(code.contains(item), "missing {item}");
    }

    // An absolute path is stamped relative to the current directory.
    let absolute = common::root().join("examples/bishop.net");
    let out = netgrad(&["compile", absolute.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), code);

    let f32_file = write_temp("f32.rs", "");
    let out = netgrad(&[
        "compile",
        "examples/xor.net",
        "--float",
        "f32",
        "-o",
        f32_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let f32_code = std::fs::read_to_string(&f32_file).unwrap();
    assert!(f32_code.contains("pub fn loss_flat(inputs: &[f32], params: &[f32]) -> f32"));

    let target = write_temp("never.rs", "").with_file_name("not-written.rs");
    let out = netgrad(&[
        "compile",
        "tests/fail/E0203_unbound_index.net",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[E0203]"));
    assert!(!target.exists(), "a module was written despite errors");

    let out = netgrad(&["compile", "examples/bishop.net", "--wrt", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--wrt takes params only"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn simplification_is_on_by_default_and_can_be_turned_off() {
    let simplified = text(&netgrad(&["explain", "examples/bishop.net"]).stdout);
    assert!(
        simplified.contains("Simplified:\n  ∂E/∂y[k] = y[k] − t[k]"),
        "{simplified}"
    );
    let raw = text(&netgrad(&["explain", "examples/bishop.net", "--no-simplify"]).stdout);
    assert!(!raw.contains("Simplified:"), "{raw}");

    let out = netgrad(&["check", "examples/fanout.net", "--stats"]);
    assert_eq!(out.status.code(), Some(0));
    let stats = text(&out.stdout);
    assert!(
        stats.contains("gradient program") && stats.contains("∂E/∂h"),
        "{stats}"
    );

    let out = netgrad(&["compile", "examples/fanout.net", "--stats"]);
    assert!(text(&out.stderr).contains("weighted op counts"));
    assert!(text(&out.stdout).contains("let d_h: f64 = 2.0_f64 * h + h.cos();"));
    let out = netgrad(&["compile", "examples/fanout.net", "--no-simplify"]);
    assert!(text(&out.stdout).contains("let d_h: f64 = d_u * h + d_u * h + d_v * h.cos();"));
}

/// Runs the binary with standard input and extra environment variables.
fn netgrad_with(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_netgrad"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .current_dir(common::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

const WRONG: &str = "tests/fail/E0202_conflicting_range.net";

#[test]
fn diagnostics_are_coloured_only_when_asked_or_on_a_terminal() {
    let escape = |out: &Output| text(&out.stderr).contains('\x1b');
    // The tests' standard error is a pipe: auto means no colour.
    assert!(!escape(&netgrad(&["check", WRONG])));
    assert!(!escape(&netgrad(&["check", WRONG, "--color", "never"])));
    let always = netgrad(&["check", WRONG, "--color", "always"]);
    assert_eq!(always.status.code(), Some(1));
    assert!(escape(&always));
    assert!(text(&always.stderr).contains("E0202"));
    // `--color always` wins over NO_COLOR; errors without a file are coloured too.
    let forced = netgrad_with(
        &["--color=always", "check", WRONG],
        "",
        &[("NO_COLOR", "1")],
    );
    assert!(escape(&forced));
    let missing = netgrad(&["check", "no/such.net", "--color", "always"]);
    assert!(text(&missing.stderr).starts_with("\x1b[1;31merror"));
    let bad = netgrad(&["check", WRONG, "--color", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn message_format_json_gives_one_object_per_diagnostic() {
    let out = netgrad(&["check", "--message-format", "json", WRONG]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let d: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(d["code"], "E0202");
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().unwrap().contains("different sizes"));
    assert!(d["help"].as_str().unwrap().contains("one size"));
    let spans = d["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let primary = spans.iter().find(|s| s["is_primary"] == true).unwrap();
    assert_eq!(primary["file_name"], WRONG);
    assert_eq!(primary["line_start"], 6);
    assert_eq!(primary["column_start"], 29);
    let source = std::fs::read_to_string(common::root().join(WRONG)).unwrap();
    let (a, b) = (
        primary["byte_start"].as_u64().unwrap() as usize,
        primary["byte_end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&source[a..b], "i");
    assert!(primary["label"].as_str().unwrap().contains("size 4"));
    assert!(d["rendered"].as_str().unwrap().starts_with("error[E0202]"));

    // Errors that are not about a span are objects too.
    let out = netgrad(&["--message-format=json", "check", "no/such.net"]);
    let d: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert!(d["code"].is_null());
    assert!(d["message"].as_str().unwrap().contains("cannot read"));
    // Several diagnostics: several lines, each a JSON object.
    let out = netgrad(&[
        "check",
        "--message-format",
        "json",
        "tests/fail/E0301_two_losses.net",
    ]);
    for line in text(&out.stderr).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn a_dash_reads_the_file_from_standard_input() {
    let source = std::fs::read_to_string(common::root().join("examples/bishop.net")).unwrap();
    let out = netgrad_with(&["check", "-"], &source, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("<stdin>: no errors"));
    let out = netgrad_with(&["compile", "-"], &source, &[]);
    assert!(text(&out.stdout).contains("// @generated by netgrad from <stdin>"));
    let out = netgrad_with(&["check", "-"], "dim D = 3\nloss E = D *\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--> <stdin>:"));
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = netgrad(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for command in ["check", "eval", "values", "explain", "compile", "graph"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    let out = netgrad(&["manpage"]);
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(page.contains(".TH netgrad 1"));
    assert!(page.contains("netgrad\\-check"), "subcommands are listed");
}

#[test]
fn every_help_states_the_exit_codes() {
    for args in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["eval", "--help"],
        vec!["explain", "--help"],
        vec!["compile", "--help"],
        vec!["graph", "--help"],
        vec!["values", "--help"],
        vec!["completions", "--help"],
        vec!["manpage", "--help"],
    ] {
        let help = text(&netgrad(&args).stdout);
        assert!(help.contains("Exit status:"), "{args:?}");
        assert!(help.contains("2  the command line is wrong"), "{args:?}");
    }
}
