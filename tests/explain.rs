//! `netgrad explain`: snapshots of every example in every format, and the
//! derivations issue 3 asks to be recognisable.

mod common;

use netgrad::explain::{explain, Format};

fn explained(path: &std::path::Path, format: Format) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let g = common::simplified(&text);
    explain(&g, &common::relative(path), format)
}

#[test]
fn explain_matches_its_snapshots() {
    insta::glob!("../examples", "*.net", |path| {
        insta::assert_snapshot!("text", explained(path, Format::Text));
        insta::assert_snapshot!("latex", explained(path, Format::Latex));
        insta::assert_snapshot!("markdown", explained(path, Format::Markdown));
        let g = common::simplified(&std::fs::read_to_string(path).unwrap());
        insta::assert_snapshot!(
            "steps",
            netgrad::explain::explain_with_steps(&g, &common::relative(path), Format::Text)
        );
    });
}

#[test]
fn bishop_shows_the_backpropagation_formulas() {
    let text = explained(&common::root().join("examples/bishop.net"), Format::Text);
    for line in [
        // delta_k = y_k - t_k (up to the constant 0.5 * 2 that simplification folds)
        "∂E/∂y[k] = 0.5 · (2 · (y[k] − t[k]))",
        // delta_j = (1 - z_j^2) sum_k w_kj delta_k, in its two chain-rule steps
        "z1[j] is used once, by y[k], for every k ∈ K.",
        "∂E/∂z1[j] = Σ_k ∂E/∂y[k] · ∂y[k]/∂z1[j]",
        "∂E/∂z1[j] = Σ_k ∂E/∂y[k] · w2[k, j]",
        "∂z1[j]/∂a1[j] = 1 − z1[j]²",
        "∂E/∂a1[j] = ∂E/∂z1[j] · (1 − z1[j]²)",
        // dE/dw_ji = delta_j x_i
        "∂E/∂w1[j, i] = ∂E/∂a1[j] · x[i]",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn fanout_shows_the_three_uses_of_h_and_their_sum() {
    let text = explained(&common::root().join("examples/fanout.net"), Format::Text);
    for line in [
        "h is used 3 times: by u (twice); by v.",
        "∂E/∂h = ∂E/∂u · ∂u/∂h + ∂E/∂u · ∂u/∂h + ∂E/∂v · ∂v/∂h",
        "∂E/∂h = ∂E/∂u · h + ∂E/∂u · h + ∂E/∂v · cos(h)",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn explain_is_identical_from_run_to_run() {
    for path in common::net_files("examples") {
        for format in [Format::Text, Format::Latex, Format::Markdown] {
            assert_eq!(
                explained(&path, format),
                explained(&path, format),
                "{}",
                path.display()
            );
        }
    }
}

/// `explain --steps` of `text` in a thread of its own, or a failure after
/// `secs` seconds. This is a guard against a hang (a 100-factor product took
/// 138 s, 40 nested `max` never finished), not a speed target: the bounds
/// themselves are checked on the output, and the time is far above any run.
fn steps_within(text: &str, secs: u64) -> String {
    let text = text.to_string();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let g = common::simplified(&text);
        let _ = send.send(netgrad::explain::explain_with_steps(
            &g,
            "f.net",
            Format::Text,
        ));
    });
    receive
        .recv_timeout(std::time::Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("explain --steps took more than {secs} s"))
}

#[test]
fn steps_have_a_budget_per_definition() {
    let text = format!("param w\nloss E = {}\n", ["w"; 12].join(" * "));
    let out = steps_within(&text, 300);
    let steps = out.lines().filter(|l| l.starts_with("  = ")).count();
    assert_eq!(steps, netgrad::explain::MAX_STEPS, "{out}");
    assert!(out.contains("… 15 more steps (at most 40"), "{out}");
    // The result is still shown.
    assert!(out.contains("Simplified:"), "{out}");
}

#[test]
fn steps_of_large_expressions_are_bounded() {
    let product = format!("param w\nloss E = {}\n", ["w"; 100].join(" * "));
    let mut nested = "w".to_string();
    for _ in 0..40 {
        nested = format!("max({nested}, w)");
    }
    let nested = format!("param w\nloss E = {nested}\n");
    for text in [product, nested] {
        let out = steps_within(&text, 300);
        assert!(out.len() < 1 << 20, "{} bytes", out.len());
        assert!(out.contains("No step-by-step explanation"), "{out}");
    }
}
