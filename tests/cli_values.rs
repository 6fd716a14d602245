//! The `values`, `eval` and `check` commands: a values template feeds
//! `eval` for every example, the gradient check's sample on the command line,
//! and clean standard error when it is not a terminal.

mod common;

use std::path::PathBuf;

use common::{netgrad, text};

/// A folder of this test's own, so that tests running in parallel never
/// touch each other's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("netgrad-cli-values-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn values_then_eval_works_on_every_example() {
    let dir = temp_dir("roundtrip");
    for path in common::net_files("examples") {
        let name = common::relative(&path);
        let json = dir.join("v.json");
        // A file with run-time dims needs their sizes (lenet.net: N).
        let dag = netgrad::front_end(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let sizes: Vec<String> = dag
            .program
            .runtime_dims()
            .flat_map(|d| ["--dim".to_string(), format!("{}=2", d.name)])
            .collect();
        let mut args = vec!["values", &name, "-o", json.to_str().unwrap()];
        args.extend(sizes.iter().map(String::as_str));
        let out = netgrad(&args);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
        let out = netgrad(&["eval", &name, "--values", json.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("{\n  \"loss\": "), "{name}");
        assert!(out.stderr.is_empty(), "{name}: {}", text(&out.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn values_are_random_from_seed_1_by_default_or_zeros() {
    let default = netgrad(&["values", "examples/bishop.net"]);
    let seed1 = netgrad(&["values", "examples/bishop.net", "--random", "1"]);
    let seed2 = netgrad(&["values", "examples/bishop.net", "--random", "2"]);
    assert_eq!(default.status.code(), Some(0));
    assert_eq!(default.stdout, seed1.stdout);
    assert_ne!(default.stdout, seed2.stdout);
    let zeros = text(&netgrad(&["values", "examples/fanout.net", "--zeros"]).stdout);
    assert_eq!(zeros, "{\n  \"w\": 0.0,\n  \"x\": 0.0\n}\n");
    let both = netgrad(&["values", "examples/fanout.net", "--zeros", "--random", "3"]);
    assert_eq!(both.status.code(), Some(2));
    // A file with errors writes nothing.
    let out = netgrad(&["values", "tests/fail/E0100_unknown_name.net"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn check_samples_large_values_unless_told_full() {
    let out = netgrad(&["check", "examples/bishop.net", "--sample", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for want in [
        "central differences at every element, or 5 sampled of a larger value",
        "(5 of 12 elements)",
        "(all 4 elements)",
    ] {
        assert!(report.contains(want), "missing {want:?} in\n{report}");
    }
    let out = netgrad(&["check", "examples/bishop.net", "--full"]);
    assert_eq!(out.status.code(), Some(0));
    let report = text(&out.stdout);
    assert!(
        report.contains("central differences at every element;"),
        "{report}"
    );
    assert!(report.contains("(all 12 elements)"), "{report}");
    assert_eq!(
        netgrad(&["check", "examples/bishop.net", "--sample", "0"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_batch_check_leaves_standard_error_empty_when_it_is_not_a_terminal() {
    // The progress bar appears only on a terminal (and after a second).
    let out = netgrad(&["check", "examples/mlp_mnist_batch.net", "--sample", "200"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("(200 of 100352 elements)"), "{report}");
}

#[test]
fn eval_names_the_shape_it_was_given() {
    let dir = temp_dir("shape");
    let net = dir.join("f.net");
    std::fs::write(
        &net,
        "dim N = 2\nparam x[N, N], s\nloss E = s * sum(i, sum(j, x[i, j]))\n",
    )
    .unwrap();
    let json = dir.join("v.json");
    std::fs::write(&json, r#"{"x": [[1, 2, 3, 4]], "s": [1]}"#).unwrap();
    let out = netgrad(&[
        "eval",
        net.to_str().unwrap(),
        "--values",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("`x` has shape [1, 4]; expected [2, 2] (`x` is x[N, N])"),
        "{err}"
    );
    assert!(err.contains("`s` must be a number, not an array"), "{err}");
    std::fs::write(&json, r#"{"x": [[1, 2], [3, 4]], "s": -1}"#).unwrap();
    std::fs::write(
        &net,
        "dim N = 2\nparam x[N, N], s\nloss E = sqrt(s) * sum(i, sum(j, x[i, j]))\n",
    )
    .unwrap();
    let out = netgrad(&[
        "eval",
        net.to_str().unwrap(),
        "--values",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("  the loss is NaN\n"), "{err}");
    assert!(
        err.contains("the gradient of `x` is NaN at x[0, 0]"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
