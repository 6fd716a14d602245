//! Affine subscripts (`x[S * i + di]`): gradients against central
//! differences, the bounds proof and its diagnostics, and the shape of the
//! adjoint that keeps it linear in the size of the read.

mod common;

use netgrad::ir::{Expr, ValueId};

/// A 1-D convolution over a learned signal (its adjoint solves `i + di = p`).
const CONV1D: &str = "dim N = 9\ndim K = 3\ndim O = N - K + 1\nparam x[N], w[K]\n\
                      y[i in O] = sum(di, w[di] * x[i + di])\n\
                      loss E = 0.5 * sum(i, tanh(y[i])^2)\n";

/// A 2-D convolution with channels: two affine subscripts in one read.
const CONV2D: &str = "dim C = 2\ndim H = 6\ndim W = 5\ndim K = 2\ndim KH = 3\ndim KW = 2\n\
                      dim OH = H - KH + 1\ndim OW = W - KW + 1\n\
                      param x[C, H, W], f[K, C, KH, KW]\n\
                      y[k, i in OH, j in OW] = sum(c, di, dj, f[k, c, di, dj] * x[c, i + di, j + dj])\n\
                      loss E = sum(k, i, j, sigmoid(y[k, i, j]))\n";

/// Stride 2: the constraint `2·o + dw = p` is solved for o, with a
/// divisibility check.
const STRIDED: &str = "dim L = 11\ndim W = 3\ndim S = 2\ndim O = (L - W) / S + 1\n\
                       param x[L], w[W]\n\
                       y[o in O] = sum(dw, w[dw] * x[S * o + dw])\n\
                       loss E = sum(o, y[o]^2)\n";

/// A forward difference, `x[i + 1]` with i over one fewer value.
const SHIFTED: &str = "dim N = 6\ndim N1 = N - 1\nparam x[N], v[N1]\n\
                       d[i in N1] = x[i + 1] * v[i] - x[2 * i - i + 1]^2\n\
                       loss E = sum(i, d[i]^2) + 0.1 * sum(i, x[i]^4)\n";

/// A negative coefficient (a reversal), and an affine subscript next to a
/// plain use of the same index (a delta the adjoint keeps).
const REVERSED: &str = "dim N = 5\ndim N1 = N - 1\nparam x[N], w[N, N1], u[N1]\n\
                        r[i] = x[N - 1 - i] * x[i]\n\
                        s[i in N1] = w[i + 1, i] * u[i]\n\
                        loss E = sum(i, r[i]^2) + sum(i, s[i]^2)\n";

/// Affine subscripts with `where`: a value whose definition compares its
/// index, read at an affine subscript (`h[o + 1]`: in the adjoint, the
/// compared index is the subscript's value), and affine reads in a branch
/// and in a condition's operand.
const WHERE: &str = "dim N = 6\ndim M = 5\nparam w[N], x[N]\n\
                     h[i] = where(i < 3 and i >= 1, w[i]^2, 2 * w[i] + x[N - 1 - i])\n\
                     y[o in M] = h[o + 1] * where(o + 1 > 2 and x[o + 1] < 0.5, x[o + 1], 1)\n\
                     loss E = sum(o, y[o]^2)\n";

#[test]
fn gradients_agree_with_central_differences() {
    for (name, text) in [
        ("conv1d", CONV1D),
        ("conv2d", CONV2D),
        ("strided", STRIDED),
        ("shifted", SHIFTED),
        ("reversed", REVERSED),
        ("where", WHERE),
    ] {
        for simplified in [false, true] {
            let w = common::worst_check(text, simplified);
            assert!(w <= 1e-6, "{name} (simplified {simplified}): off by {w:e}");
        }
    }
}

fn errors(text: &str) -> String {
    match netgrad::front_end(text) {
        Ok(_) => panic!("should not check:\n{text}"),
        Err(d) => netgrad::diag::render("t.net", text, &d),
    }
}

#[test]
fn a_subscript_that_folds_to_an_index_is_a_plain_use() {
    // `x[i + 0]` is `x[i]`: it gives i the range of x, 6, which conflicts
    // with N1 (an affine subscript would not, and the adjoint would read d
    // past its end).
    let text =
        "dim N = 6\ndim N1 = N - 1\nparam x[N]\nd[i in N1] = x[i + 0]\nloss E = sum(i, d[i])\n";
    assert!(errors(text).contains("error[E0202]"));
}

#[test]
fn a_read_before_the_start_is_rejected() {
    let text = "dim N = 5\nparam x[N]\nd[i] = x[i] - x[i - 1]\nloss E = sum(i, d[i]^2)\n";
    let e = errors(text);
    assert!(
        e.contains("error[E0209]: `x[i - 1]` reads position -1 of dimension 1 of `x`, which has positions 0..4 (N = 5): i starts at 0 (N = 5)"),
        "{e}"
    );
}

#[test]
fn a_read_past_the_end_shows_the_ranges_that_reach_it() {
    let text = "dim C = 1\ndim H = 28\ndim KH = 3\ndim OH = 27\nparam x[C, H], w[KH]\n\
                y[c, i in OH] = sum(di, w[di] * x[c, i + di])\nloss E = sum(c, i, y[c, i])\n";
    let e = errors(text);
    assert!(
        e.contains("`x[c, i + di]` reads position 28 of dimension 2 of `x`, which has positions 0..27 (H = 28): i reaches 26 (OH = 27) and di reaches 2 (KH = 3)"),
        "{e}"
    );
    assert!(
        e.contains("help: did you mean `dim OH = H - KH + 1`?"),
        "{e}"
    );
    // With the size the hint gives, the file checks.
    let fixed = text.replace("dim OH = 27", "dim OH = H - KH + 1");
    assert!(netgrad::front_end(&fixed).is_ok());
}

#[test]
fn a_strided_read_is_proved_with_its_coefficient() {
    // S·(O - 1) + W - 1 = 2·4 + 2 = 10 = L - 1: in bounds; one more output is not.
    assert!(netgrad::front_end(STRIDED).is_ok());
    let e = errors(&STRIDED.replace("dim O = (L - W) / S + 1", "dim O = 5 + 1"));
    assert!(e.contains("reads position 12 of dimension 1 of `x`"), "{e}");
    assert!(
        e.contains("o reaches 5 (O = 6) and dw reaches 2 (W = 3)"),
        "{e}"
    );
}

#[test]
fn run_time_dims_are_proved_at_every_size() {
    // `x[t + 1]` with t over T reads x[T] at the last step, at every T.
    let past = "dim T\ninput x[T]\nparam a\ny[t] = a * x[t] * x[t + 1]\nloss E = sum(t, y[t])\n";
    assert!(errors(past)
        .contains("reads position T of dimension 1 of `x`, which has positions 0..T - 1"));
    // `x[N - 1 - i]` needs a fixed N: a run-time dim in a subscript is reserved.
    let runtime = "dim T\ninput x[T]\nparam a\ny[t] = a * x[T - 1 - t]\nloss E = sum(t, y[t])\n";
    assert!(errors(runtime).contains("error[E0506]"));
}

#[test]
fn a_condition_in_a_subscript_is_a_condition_where_a_number_belongs() {
    for sub in ["i < 2", "i < 2 and i > 0", "not i < 2", "i + (i < 2)"] {
        let text = format!("dim N = 5\nparam x[N]\nd[i] = x[{sub}]\nloss E = sum(i, d[i])\n");
        let e = errors(&text);
        assert!(e.contains("error[E0600]"), "{sub}: {e}");
    }
}

#[test]
fn an_index_used_only_in_affine_subscripts_needs_a_range() {
    let text = "dim N = 8\ndim K = 3\ndim O = N - K + 1\nparam x[N]\n\
                y[i in O] = sum(di, x[i + di])\nloss E = sum(i, y[i]^2)\n";
    let e = errors(text);
    assert!(
        e.contains(
            "error[E0206]: index `di` is used only in affine subscripts, which give it no range"
        ),
        "{e}"
    );
    let ranged = text.replace("sum(di,", "sum(di in K,");
    assert!(common::worst_check(&ranged, true) <= 1e-6);
}

/// Every reduction in `e`, with the size of its index.
fn sums(e: &Expr, sizes: &[usize], out: &mut Vec<usize>, solves: &mut usize) {
    match e {
        Expr::Reduce { index, body, .. } => {
            out.push(sizes[index.index()]);
            sums(body, sizes, out, solves);
        }
        Expr::Solve { body, .. } => {
            *solves += 1;
            sums(body, sizes, out, solves);
        }
        Expr::Unary { arg, .. } => sums(arg, sizes, out, solves),
        Expr::Binary { lhs, rhs, .. } => {
            sums(lhs, sizes, out, solves);
            sums(rhs, sizes, out, solves);
        }
        Expr::At { pos, .. } => sums(pos, sizes, out, solves),
        Expr::Where { cond, then, els } => {
            sums(cond, sizes, out, solves);
            sums(then, sizes, out, solves);
            sums(els, sizes, out, solves);
        }
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => {}
    }
}

#[test]
fn the_input_adjoint_of_a_convolution_sums_over_the_taps_only() {
    // 1,000 outputs × 3 taps: each element of ∂E/∂x sums 3 terms, not 1,000.
    let text = "dim N = 1002\ndim K = 3\ndim O = N - K + 1\nparam x[N], w[K]\n\
                y[i in O] = sum(di, w[di] * x[i + di])\nloss E = sum(i, y[i]^2)\n";
    let strided = "dim L = 2001\ndim W = 3\ndim O = (L - W) / 2 + 1\nparam x[L], w[W]\n\
                   y[o in O] = sum(dw, w[dw] * x[2 * o + dw])\nloss E = sum(o, y[o]^2)\n";
    for text in [text, strided] {
        for g in [common::gradient(text), common::simplified(text)] {
            let p = &g.dag.program;
            let x = p.ids().find(|v| p.value(*v).name == "x").unwrap();
            let adj: ValueId = g.adjoint_of[x.index()].unwrap();
            let a = p.value(adj);
            let sizes: Vec<usize> = a.indices.iter().map(|v| v.extent.size).collect();
            let (mut found, mut solves) = (Vec::new(), 0);
            sums(a.rhs.as_ref().unwrap(), &sizes, &mut found, &mut solves);
            assert_eq!((found, solves), (vec![3], 1), "{}", a.name);
        }
    }
    // And its values are exact: the interpreter against central differences.
    assert!(common::worst_check(text, true) <= 1e-6);
}

#[test]
fn huge_coefficients_are_errors_not_overflows() {
    for sub in [
        "4611686018427387904 * i + 4611686018427387904 * i",
        "9223372036854775807 * i - 9223372036854775807 * i + 9223372036854775807 * i",
        "-9223372036854775807 * i",
        "(4611686018427387904 * i + 1) * 4",
    ] {
        let text = format!("dim N = 3\nparam x[N]\ny[i in N] = x[{sub}]\nloss E = sum(i, y[i])\n");
        let e = errors(&text);
        assert!(e.contains("error[E0"), "{sub}: {e}");
    }
}

#[test]
fn a_read_in_error_does_not_also_lose_its_affine_indices_ranges() {
    // One mistake (q is bound nowhere), one error: not also "di has no range".
    let text = "dim N = 8\ndim K = 3\ndim O = N - K + 1\nparam x[N, N]\n\
                y[i in O] = sum(di, x[i + di, q])\nloss E = sum(i, y[i]^2)\n";
    let e = errors(text);
    assert!(e.contains("error[E0203]"), "{e}");
    assert_eq!(e.matches("error[").count(), 1, "{e}");
}

#[test]
fn a_subscript_stays_as_small_as_a_literal() {
    // Reads hold many subscripts: the memory budgets of tests/scaling.rs
    // count them.
    assert_eq!(std::mem::size_of::<netgrad::ir::Sub>(), 16);
}

#[test]
fn three_index_variables_in_one_subscript_are_reserved() {
    let text = "dim N = 2\nparam x[4]\ny[i in N, j in N, k in N] = x[i + j + k]\n\
                loss E = sum(i, j, k, y[i, j, k])\n";
    let e = errors(text);
    assert!(
        e.contains("error[E0506]: a subscript combining more than 2 index variables"),
        "{e}"
    );
}
