//! Inputs that `fuzz/` found to break netgrad, minimised, each with what
//! must happen instead. The fuzz targets' properties, run on each.

/// What the `pipeline` fuzz target asks of any input, in short: the front
/// end gives a program or diagnostics that render, never a panic.
fn diagnostics(text: &str) -> String {
    match netgrad::front_end(text) {
        Ok(_) => panic!("expected diagnostics for {text:?}"),
        Err(diags) => netgrad::diag::render("f.net", text, &diags),
    }
}

/// A definition with a repeated left-hand index and no loss: the hint for
/// the missing loss sliced the definition's index variables by its rank,
/// but the repeated index had not been added (pipeline target, 2026-11-27).
#[test]
fn repeated_index_and_no_loss() {
    let rendered = diagnostics("d[k, k] = w[k, k]\n");
    assert!(rendered.contains("error[E0205]"), "{rendered}");
    assert!(rendered.contains("error[E0300]"), "{rendered}");
}

/// A loss with factors of 0 (`0/5 * ...`, `0.5 * lambda * ...` with
/// lambda = 0): every form of the constant 0 (`0 * x`, `0.5 * 0`, ...) stayed
/// in its e-class, and the rules matched through them until the e-graph
/// reached its node limit: 0.8 s in a release build, 15 s under the fuzzer's
/// instrumentation (pipeline target, a slow unit, 2026-11-27). A constant's
/// class now keeps only the number. This checks the result (the time is in
/// BENCHMARKS.md; tests do not time).
#[test]
fn factors_of_zero_simplify_to_zero() {
    let text = "const lambda = 0*01\ndim D = 3\ndim K = 2\ninput x[D], t[K]\n\
                param W[K, D], b[K]\ny[k] = sum(i, W[k, i] * x[i]) + b[k]\n\
                loss E = 0/5 * sum(k, (y[k] - t[k])^2) + 0.5 * lambda * sum(k, i, W[k, i]^2)\n\
                output y\n";
    let dag = netgrad::front_end(text).unwrap();
    let (g, _) = netgrad::derive(dag, &[], true).unwrap();
    let p = &g.dag.program;
    let shown: Vec<String> = p
        .ids()
        .filter_map(|id| {
            let v = p.value(id);
            v.rhs
                .as_ref()
                .map(|rhs| format!("{} = {}", v.name, netgrad::pretty::expr(p, v, rhs)))
        })
        .collect();
    assert!(shown.contains(&"E = 0".to_string()), "{shown:?}");
    let steps = netgrad::explain::explain_with_steps(&g, "f.net", netgrad::explain::Format::Text);
    assert!(steps.contains("Simplified"), "{steps}");
}
