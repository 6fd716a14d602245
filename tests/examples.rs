//! Every example checks, and its summary and DOT match their snapshots.

mod common;

#[test]
fn examples_check_and_match_their_snapshots() {
    insta::glob!("../examples", "*.net", |path| {
        let name = common::relative(path);
        let dag = match common::check_bytes(&name, std::fs::read(path).unwrap()) {
            Ok(dag) => dag,
            Err(d) => panic!("{name} has errors:\n{d}"),
        };
        insta::assert_snapshot!("summary", netgrad::summary::summary(&dag));
        let stem = path.file_stem().unwrap().to_string_lossy();
        insta::assert_snapshot!("dot", netgrad::dot::dot(&dag, &stem));
    });
}

#[test]
fn output_is_identical_from_run_to_run() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let outputs: Vec<(String, String)> = (0..3)
            .map(|_| {
                let dag = netgrad::front_end(&text).unwrap();
                (
                    netgrad::summary::summary(&dag),
                    netgrad::dot::dot(&dag, "n"),
                )
            })
            .collect();
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{} differs between runs",
            path.display()
        );
    }
}

/// The examples the issues ask for: issue 1's eight, and issue 10's
/// (language version 2), whose run-time ones have a run-time dim.
#[test]
fn there_are_the_examples_of_issues_1_and_10() {
    let names: Vec<String> = common::net_files("examples")
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into())
        .collect();
    for want in [
        "batch_mlp",
        "bishop",
        "fanout",
        "lenet",
        "mlp_mnist",
        "softmax_regression",
        "tied_autoencoder",
        "weight_decay",
        "xor",
        "conv1d",
        "huber_regression",
        "causal_attention",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "examples/{want}.net is missing"
        );
    }
    for (name, dim) in [
        ("huber_regression", "N"),
        ("causal_attention", "T"),
        ("lenet", "N"),
    ] {
        let path = common::root().join(format!("examples/{name}.net"));
        let text = std::fs::read_to_string(path).unwrap();
        let program = netgrad::front_end(&text).unwrap().program;
        let run_time: Vec<&str> = program.runtime_dims().map(|d| d.name.as_str()).collect();
        assert_eq!(run_time, [dim], "examples/{name}.net's run-time dims");
    }
}

/// Whether `text` shows a compiler temporary's internal name: `_t` and a digit.
fn shows_a_temporary(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'_' && w[1] == b't' && w[2].is_ascii_digit())
}

/// Every user-facing output of a program: the check summary with op counts,
/// explain in three formats with and without steps, and DOT.
fn user_facing_outputs(text: &str, wrt: &[String]) -> Vec<(String, String)> {
    use netgrad::explain::{explain, explain_with_steps, Format};
    let dag = netgrad::front_end(text).unwrap();
    let mut out = vec![
        ("summary".to_string(), netgrad::summary::summary(&dag)),
        ("dot".to_string(), netgrad::dot::dot(&dag, "n")),
    ];
    let (g, stats) = netgrad::derive(dag, wrt, true).unwrap();
    out.push(("op counts".into(), netgrad::summary::op_counts(&g, &stats)));
    for format in [Format::Text, Format::Latex, Format::Markdown] {
        out.push((format!("explain {format:?}"), explain(&g, "f.net", format)));
        out.push((
            format!("explain --steps {format:?}"),
            explain_with_steps(&g, "f.net", format),
        ));
    }
    out
}

/// Compiler temporaries (`_t1`, ...) never reach what users read: a hoisted
/// subterm is written out where it is used, and its adjoint is `∂E/∂(...)`.
#[test]
fn no_user_facing_output_shows_a_compiler_temporary() {
    let mut programs: Vec<(String, String, Vec<String>)> = common::net_files("examples")
        .iter()
        .map(|p| {
            (
                common::relative(p),
                std::fs::read_to_string(p).unwrap(),
                vec![],
            )
        })
        .collect();
    // Shared subterms differentiated through, as inputs and params.
    let shared = "dim N = 2\ninput y[N]\nparam w[N]\np[n] = sigmoid(w[n])\n\
                  loss E = sum(n, (1 - y[n]) * log(1 - p[n]) + (1 - y[n]) * p[n])\n";
    programs.push(("shared".into(), shared.into(), vec!["y".into(), "w".into()]));
    let nested = "dim K = 3\ninput x[K]\nparam w[K]\n\
                  a[k] = exp(w[k] * x[k] + 1) + exp(w[k] * x[k] + 1) * x[k]\n\
                  loss E = logsumexp(k, a[k]) * sum(k, a[k]) + logsumexp(k, a[k])\n";
    programs.push(("nested".into(), nested.into(), vec!["x".into(), "w".into()]));
    let mut temporaries = 0;
    for (name, text, wrt) in &programs {
        let dag = netgrad::front_end(text).unwrap();
        temporaries += dag
            .program
            .values
            .iter()
            .filter(|v| v.kind == netgrad::ir::ValueKind::Temp)
            .count();
        for (what, output) in user_facing_outputs(text, wrt) {
            assert!(
                !shows_a_temporary(&output),
                "{name}: {what} shows a compiler temporary:\n{output}"
            );
        }
    }
    assert!(
        temporaries >= 3,
        "the test programs hoist only {temporaries} subterms"
    );
    assert!(shows_a_temporary("x = _t12 + 1"));
}
