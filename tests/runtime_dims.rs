//! Run-time dims (`dim N` without a size) through every command but
//! `compile`: sizes from values.json in `eval`, from `--dim` or the default
//! in `check` and `values`, by name in `explain` and `graph`.

mod common;

use std::path::{Path, PathBuf};

use common::{netgrad, text};

/// A batched two-layer network over a batch of any length: `mean` divides
/// by the run-time N, and `1 / N` uses it as a number.
const BATCH: &str = "\
# A batch of any length.
dim N            # given at run time
dim D = 3
dim H = 4
input x[N, D], t[N]
param w1[H, D], b1[H], w2[H], b2

a[n, j] = sum(i, w1[j, i] * x[n, i]) + b1[j]
z[n, j] = tanh(a[n, j])
y[n] = sum(j, w2[j] * z[n, j]) + b2
loss E = mean(n, (y[n] - t[n])^2) + 0.01 / N * sum(j, w2[j]^2)
output y
";

/// A folder of this test's own, with `batch.net` in it.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "netgrad-runtime-dims-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("batch.net"), BATCH).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs netgrad; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = netgrad(args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn check_passes_at_the_default_size_and_at_sizes_given() {
    let dir = temp_dir("check");
    let net = dir.join("batch.net");
    let (code, out, err) = run(&["check", s(&net)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("dims         N (given at run time; here 3), D = 3, H = 4"),
        "{out}"
    );
    assert!(out.contains("x[N, D]   9 scalars"), "{out}");
    // The gradient against central differences at several sizes, 1 included.
    for n in ["1", "2", "8"] {
        let (code, out, err) = run(&["check", s(&net), "--dim", &format!("N={n}")]);
        assert_eq!(code, Some(0), "N = {n}: {err}");
        assert!(
            out.contains(&format!("N (given at run time; here {n})")),
            "{out}"
        );
        assert!(out.contains("gradient check"), "{out}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_at_a_size_from_values_equals_eval_with_that_size_written() {
    let dir = temp_dir("eval");
    let net = dir.join("batch.net");
    let fixed = dir.join("fixed.net");
    std::fs::write(&fixed, BATCH.replace("dim N ", "dim N = 8 ")).unwrap();
    let values = dir.join("v.json");
    let (code, _, err) = run(&["values", s(&net), "--dim", "N=8", "-o", s(&values)]);
    assert_eq!(code, Some(0), "{err}");
    let template = std::fs::read_to_string(&values).unwrap();
    let (code, fixed_template, _) = run(&["values", s(&fixed)]);
    assert_eq!(code, Some(0));
    assert_eq!(template, fixed_template, "the template has N = 8 rows");
    let (code, at_runtime, err) = run(&["eval", s(&net), "--values", s(&values)]);
    assert_eq!(code, Some(0), "{err}");
    let (code, written, err) = run(&["eval", s(&fixed), "--values", s(&values)]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(at_runtime, written);
    let json: serde_json::Value = serde_json::from_str(&at_runtime).unwrap();
    assert_eq!(json["outputs"]["y"].as_array().unwrap().len(), 8);
    // Other sizes give other results, from the same file.
    let values3 = dir.join("v3.json");
    run(&["values", s(&net), "--dim", "N=3", "-o", s(&values3)]);
    let (code, at3, err) = run(&["eval", s(&net), "--values", s(&values3)]);
    assert_eq!(code, Some(0), "{err}");
    assert_ne!(at3, at_runtime);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mean_and_a_dim_as_a_number_use_the_size_at_run_time() {
    let dir = temp_dir("mean");
    let net = dir.join("mean.net");
    std::fs::write(
        &net,
        "dim N\ninput x[N]\nparam w\nloss E = mean(n, w * x[n]) + w / N\n",
    )
    .unwrap();
    let values = dir.join("v.json");
    std::fs::write(&values, r#"{"x": [1, 2, 3, 6], "w": 2}"#).unwrap();
    let (code, out, err) = run(&["eval", s(&net), "--values", s(&values)]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    // mean = 2 * 3 = 6, plus 2 / 4; dE/dw = 3 + 1 / 4.
    assert_eq!(json["loss"].as_f64(), Some(6.5));
    assert_eq!(json["gradient"]["w"].as_f64(), Some(3.25));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_names_both_inputs_that_disagree_on_a_size() {
    let dir = temp_dir("conflict");
    let net = dir.join("batch.net");
    let values = dir.join("v.json");
    run(&["values", s(&net), "--dim", "N=2", "-o", s(&values)]);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&values).unwrap()).unwrap();
    json["t"] = serde_json::json!([0.5, 0.25, 0.125]);
    std::fs::write(&values, json.to_string()).unwrap();
    let (code, out, err) = run(&["eval", s(&net), "--values", s(&values)]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(
        err,
        "error: the run-time dim `N` has two sizes: `x` has 2 elements along dimension 1 (x[N, D]), so N = 2, but `t` has 3 elements, so N = 3\n"
    );
    // A size given with --dim must agree with the inputs too.
    json["t"] = serde_json::json!([0.5, 0.25]);
    std::fs::write(&values, json.to_string()).unwrap();
    let (code, _, err) = run(&["eval", s(&net), "--values", s(&values), "--dim", "N=5"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`--dim N=5`, so N = 5, but `x` has 2 elements"),
        "{err}"
    );
    let (code, _, err) = run(&["eval", s(&net), "--values", s(&values), "--dim", "N=2"]);
    assert_eq!(code, Some(0), "{err}");
    // An empty batch is not a size.
    json["x"] = serde_json::json!([]);
    json["t"] = serde_json::json!([]);
    std::fs::write(&values, json.to_string()).unwrap();
    let (code, _, err) = run(&["eval", s(&net), "--values", s(&values)]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("error: the run-time dim `N` would be 0"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_size_no_input_tells_is_given_with_dim() {
    let dir = temp_dir("untold");
    let net = dir.join("ones.net");
    std::fs::write(
        &net,
        "dim N\nparam w\nones[n in N] = 1\nloss E = w^2 * sum(n, ones[n])\n",
    )
    .unwrap();
    let values = dir.join("v.json");
    std::fs::write(&values, r#"{"w": 3}"#).unwrap();
    let (code, _, err) = run(&["eval", s(&net), "--values", s(&values)]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: the size of the run-time dim `N` cannot be told from values.json: no input has `N` in its shape\n  = help: give it with `--dim N=SIZE`\n"
    );
    let (code, out, err) = run(&["eval", s(&net), "--values", s(&values), "--dim", "N=4"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["loss"].as_f64(), Some(36.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dim_flags_name_only_run_time_dims() {
    let dir = temp_dir("flags");
    let net = dir.join("batch.net");
    let (code, out, err) = run(&["values", s(&net)]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(
        err,
        "error: the file has run-time dims: a template needs their sizes\n  = help: give `--dim N=SIZE`\n"
    );
    let (code, _, err) = run(&["check", s(&net), "--dim", "n=4"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: `--dim n=4`: `n` is not a run-time dim of the file\n  = help: did you mean `N`?\n"
    );
    let (code, _, err) = run(&["check", s(&net), "--dim", "D=4"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: `D` has the fixed size 3 in the file; `--dim` sets only run-time dims (`dim D` without a size)\n"
    );
    let (code, _, err) = run(&["check", s(&net), "--dim", "N=0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("a size must be between 1 and"), "{err}");
    let (code, _, err) = run(&["check", s(&net), "--dim", "N"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expected NAME=SIZE"), "{err}");
    // A size too large for the file's limits is a diagnostic, not a crash.
    let (code, _, err) = run(&["check", s(&net), "--dim", "N=40000000"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("error[E0402]: this value has too many scalars"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_and_graph_name_the_run_time_dim() {
    let dir = temp_dir("explain");
    let net = dir.join("batch.net");
    let (code, out, err) = run(&["explain", s(&net)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("input x ∈ ℝ^(N×D), input t ∈ ℝ^N"), "{out}");
    assert!(
        out.contains("Sizes given at run time: N; a number computed from one is shown at N = 3."),
        "{out}"
    );
    assert!(out.contains("E = (1/N) Σ_n (y[n] − t[n])²"), "{out}");
    let (code, out, err) = run(&["graph", s(&net)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("label=\"x[N, D]\\ninput\""), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The library: the sizes a program is instantiated at, and a run-time
/// dim kept as such in the program.
#[test]
fn the_front_end_instantiates_run_time_dims() {
    let dag = netgrad::front_end(BATCH).unwrap();
    let p = &dag.program;
    assert_eq!(
        p.sizes(),
        netgrad::ir::Sizes::from([("N".to_string(), netgrad::ir::DEFAULT_RUNTIME_SIZE)])
    );
    let sizes = netgrad::resolve_sizes(p, &[("N".to_string(), 5)]).unwrap();
    let dag = netgrad::front_end_sized(BATCH, &sizes).unwrap();
    let x = &dag.program.values[0];
    assert_eq!((x.name.as_str(), x.len()), ("x", 15));
    assert!(dag.program.is_runtime(&x.shape[0]));
    assert!(!dag.program.is_runtime(&x.shape[1]));
    assert!(netgrad::codegen_unsupported(&dag.program, false).is_empty());
    assert!(netgrad::codegen_unsupported(&dag.program, true).len() == 1);
}
