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
