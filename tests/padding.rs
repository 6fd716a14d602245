//! Zero padding through `where`: a read in a branch is proved in bounds
//! under the ranges its condition guarantees (`netgrad::refine`), and no
//! later stage evaluates it outside that condition: the interpreter, the
//! adjoints, the simplifier and the DAG's hoisting (generated code:
//! tests/codegen.rs, `padding_agrees_with_the_interpreter`).

mod common;

use netgrad::ir::Expr;

/// A 1-D convolution over a zero-padded signal, the padding a value of its own.
const PAD1D: &str = "dim L = 7\ndim K = 3\ndim P = 1\ndim LP = L + 2 * P\ndim O = LP - K + 1\n\
                     param x[L], w[K]\n\
                     xp[i in LP] = where(i >= P and i < L + P, x[i - P], 0)\n\
                     y[o in O] = sum(k, w[k] * xp[o + k])\n\
                     loss E = sum(o, tanh(y[o])^2)\noutput y\n";

/// The same padding inside the sum: the condition compares the subscript's
/// affine form (`o + k - P`), x's adjoint solves `o + k - P = p`, and w's
/// partial, `x[o + k - P]`, is in the branch.
const PAD1D_INLINE: &str = "dim L = 7\ndim K = 3\ndim P = 1\ndim O = L + 2 * P - K + 1\n\
                            param x[L], w[K]\n\
                            y[o in O] = sum(k, where(o + k >= P and o + k < L + P, w[k] * x[o + k - P], 0))\n\
                            loss E = sum(o, tanh(y[o])^2)\noutput y\n";

/// A "same" 2-D convolution with channels: output H × W, a 3 × 3 kernel
/// and padding 1 on every side.
const PAD2D: &str = "dim C = 2\ndim H = 5\ndim W = 4\ndim P = 1\ndim K = 3\ndim F = 2\n\
                     param x[C, H, W], f[F, C, K, K]\n\
                     y[g, i in H, j in W] = sum(c, di, dj, f[g, c, di, dj] * \
                     where(i + di >= P and i + di < H + P and j + dj >= P and j + dj < W + P, \
                     x[c, i + di - P, j + dj - P], 0))\n\
                     loss E = sum(g, i, j, sigmoid(y[g, i, j]))\noutput y\n";

/// Padding in the else branch, by `or`, by `not`, with `==`, nested, over
/// a run-time length; a guarded subterm used twice (never hoisted into a
/// temporary, computed over all of i) and a reduction in a branch.
const BRANCHES: &str = "dim L = 6\ndim P = 2\ndim LP = L + P\ndim T\n\
                        input v[T]\nparam x[L], s\n\
                        a[i in LP] = where(i < P, 0, x[i - P])\n\
                        b[i in LP] = where(i < P or i >= L + P, 0, x[i - P]^2)\n\
                        c[i in LP] = where(not (i < P), sin(x[i - P]), 1)\n\
                        d[i in LP] = where(i >= P, where(i - P < L, x[i - P], 0), x[2 * i])\n\
                        e[i in L] = where(i == 2, x[i + 3], x[i] * x[i])\n\
                        g[i in LP] = where(i >= P and i < L + P, tanh(x[i - P]) * 3, 0) + where(i > P and i < L + P, tanh(x[i - P]) * 3, 1)\n\
                        q[i in LP] = where(i >= P and i < L + P, sum(k in L, x[k] * tanh(x[i - P] * x[k])), 0)\n\
                        h[t in T] = s * where(t + 1 < T, v[t + 1], v[t]) * where(t >= 1, v[t - 1], s)\n\
                        loss E = sum(i, a[i] * b[i] + c[i] * d[i]) + sum(i, e[i]^2) + sum(t, h[t]^2) + sum(i, g[i] * q[i])\n";

#[test]
fn padded_convolutions_agree_with_central_differences() {
    for (name, text) in [
        ("pad1d", PAD1D),
        ("pad1d_inline", PAD1D_INLINE),
        ("pad2d", PAD2D),
        ("branches", BRANCHES),
    ] {
        for simplified in [false, true] {
            let w = common::worst_check(text, simplified);
            assert!(w <= 1e-6, "{name} (simplified {simplified}): off by {w:e}");
        }
    }
}

/// y of a padded 1-D convolution by plain loops.
fn conv1d_reference(x: &[f64], w: &[f64], pad: usize) -> Vec<f64> {
    let l = x.len() as isize;
    let k = w.len();
    let out = x.len() + 2 * pad - k + 1;
    (0..out)
        .map(|o| {
            (0..k)
                .map(|d| {
                    let at = (o + d) as isize - pad as isize;
                    let xv = if (0..l).contains(&at) {
                        x[at as usize]
                    } else {
                        0.0
                    };
                    w[d] * xv
                })
                .sum()
        })
        .collect()
}

#[test]
fn the_interpreter_reads_padding_as_zeros() {
    // Values that make a read of the wrong slot visible: every x distinct.
    let x: Vec<f64> = (0..7).map(|i| 1.0 + i as f64 * 0.25).collect();
    let w = [0.5, -1.25, 2.0];
    let want = conv1d_reference(&x, &w, 1);
    for text in [PAD1D, PAD1D_INLINE] {
        for g in [common::gradient(text), common::simplified(text)] {
            let given = common::given_by_name(&g, &[("x", &x), ("w", &w)]);
            let data = netgrad::eval::run(&g.dag.program, &given);
            let p = &g.dag.program;
            let y = p.ids().find(|v| p.value(*v).name == "y").unwrap();
            let got = &data[y.index()];
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-12, "{got:?} against {want:?}");
            }
        }
    }
    // 2-D: y[0, 0, 0] reads the top-left corner, where 5 of the 9 taps are padding.
    let g = common::simplified(PAD2D);
    let x: Vec<f64> = (0..40).map(|i| 0.1 * i as f64 - 1.0).collect();
    let f: Vec<f64> = (0..36).map(|i| 0.05 * i as f64 - 0.7).collect();
    let given = common::given_by_name(&g, &[("x", &x), ("f", &f)]);
    let data = netgrad::eval::run(&g.dag.program, &given);
    let p = &g.dag.program;
    let y = &data[p.ids().find(|v| p.value(*v).name == "y").unwrap().index()];
    let (h, w) = (5isize, 4isize);
    for g_ in 0..2usize {
        for i in 0..h {
            for j in 0..w {
                let mut want = 0.0;
                for c in 0..2usize {
                    for di in 0..3isize {
                        for dj in 0..3isize {
                            let (r, s) = (i + di - 1, j + dj - 1);
                            if (0..h).contains(&r) && (0..w).contains(&s) {
                                want += f[((g_ * 2 + c) * 3 + di as usize) * 3 + dj as usize]
                                    * x[(c * 5 + r as usize) * 4 + s as usize];
                            }
                        }
                    }
                }
                let got = y[(g_ * 5 + i as usize) * 4 + j as usize];
                assert!(
                    (got - want).abs() <= 1e-12,
                    "y[{g_}, {i}, {j}] = {got}, not {want}"
                );
            }
        }
    }
}

#[test]
fn every_read_of_every_stage_stays_in_bounds() {
    // After autodiff (a branch's partial stays in its `where`), after
    // simplification, and after the DAG's hoisting, every read of every
    // value is proved in bounds where it is evaluated.
    for text in [PAD1D, PAD1D_INLINE, PAD2D, BRANCHES] {
        for g in [common::gradient(text), common::simplified(text)] {
            let p = &g.dag.program;
            for id in p.ids() {
                let v = p.value(id);
                let Some(rhs) = &v.rhs else { continue };
                assert!(
                    netgrad::refine::reads_in_bounds(p, v, rhs),
                    "{}: {}",
                    v.name,
                    netgrad::pretty::expr(p, v, rhs)
                );
            }
        }
    }
}

#[test]
fn the_adjoint_of_a_padded_read_keeps_its_guard() {
    // ∂E/∂w[k] = Σ_o ∂E/∂y[o] · where(cond, x[o + k - P], 0): the read stays
    // in the branch (as `where(cond, 1, 0) · x[...]` it would be read at
    // x[-1] and x[L]).
    let g = common::gradient(PAD1D_INLINE);
    let p = &g.dag.program;
    let w = p.ids().find(|v| p.value(*v).name == "w").unwrap();
    let adj = g.adjoint_of[w.index()].unwrap();
    let text = netgrad::pretty::expr(p, p.value(adj), p.value(adj).rhs.as_ref().unwrap());
    assert_eq!(
        text,
        "sum(o, ∂E/∂y[o] * where(o + k >= 1 and o + k < 7 + 1, x[k + o - 1], 0))"
    );
    assert!(!text.contains("1, 0)"), "{text}");
}

#[test]
fn the_simplifier_keeps_a_read_in_the_branch_that_guards_it() {
    // `where(c, x[i - P], x[i - P])` is `x[i - P]` on the reals, but the
    // read is not in bounds over all of i: the simplified form must not
    // read it outside a `where` that guards it (the form is made by hand,
    // as no program sema accepts reads that way).
    let dag = netgrad::front_end(PAD1D).unwrap();
    let p = &dag.program;
    let xp = p.value(p.ids().find(|v| p.value(*v).name == "xp").unwrap());
    let Some(Expr::Where { cond, then, .. }) = xp.rhs.clone() else {
        panic!("xp is a where")
    };
    let same = Expr::select(*cond, (*then).clone(), (*then).clone());
    let simpler = netgrad::simplify::expression_in(p, &same, xp);
    assert!(matches!(simpler, Expr::Where { .. }), "{simpler:?}");
    assert!(!netgrad::refine::reads_in_bounds(p, xp, &then));
}

/// The diagnostics of a file that does not check.
fn errors(text: &str) -> String {
    match netgrad::front_end(text) {
        Ok(_) => panic!("checks, but should not:\n{text}"),
        Err(d) => netgrad::diag::render("t.net", text, &d),
    }
}

#[test]
fn a_guard_too_weak_is_still_out_of_bounds() {
    let head = "dim L = 6\ndim P = 1\ndim LP = L + 2 * P\nparam x[L]\n";
    // Only a lower bound: i - P reaches L.
    let e = errors(&format!(
        "{head}y[i in LP] = where(i >= P, x[i - P], 0)\nloss E = sum(i, y[i])\n"
    ));
    assert!(e.contains("error[E0209]"), "{e}");
    assert!(e.contains("reads position 6 of dimension 1 of `x`"), "{e}");
    assert!(
        e.contains("the condition of the enclosing `where` does not bound `i` from above"),
        "{e}"
    );
    // The upper bound one too loose: i - P reaches L, by the condition.
    let e = errors(&format!(
        "{head}y[i in LP] = where(i >= P and i <= L + P, x[i - P], 0)\nloss E = sum(i, y[i])\n"
    ));
    assert!(
        e.contains("reads position 6 of dimension 1 of `x`, which has positions 0..5 (L = 6): i reaches 7 (within the condition of its `where`)"),
        "{e}"
    );
}

#[test]
fn refinement_does_not_leak_out_of_its_branch() {
    let head = "dim L = 6\ndim P = 1\ndim LP = L + 2 * P\nparam x[L]\n";
    // The same read beside the `where`, and in the other branch.
    for rhs in [
        "where(i >= P and i < L + P, x[i - P], 0) + x[i - P]",
        "where(i >= P and i < L + P, x[i - P], x[i - P])",
        "where(i >= P and i < L + P, 0, 1) * x[i - P]",
    ] {
        let e = errors(&format!(
            "{head}y[i in LP] = {rhs}\nloss E = sum(i, y[i])\n"
        ));
        assert!(e.contains("error[E0209]"), "{rhs}: {e}");
        assert_eq!(e.matches("error[E0209]").count(), 1, "{rhs}: {e}");
    }
}

#[test]
fn or_refines_only_what_both_sides_imply() {
    let head = "dim L = 6\ndim P = 1\ndim LP = L + 2 * P\nparam x[L]\n";
    // Either bound may hold, not both: nothing is known.
    let e = errors(&format!(
        "{head}y[i in LP] = where(i >= P or i < L + P, x[i - P], 0)\nloss E = sum(i, y[i])\n"
    ));
    assert!(e.contains("error[E0209]"), "{e}");
    // Both sides bound i from below, the weaker (i >= P) holds.
    netgrad::front_end(&format!(
        "{head}y[i in LP] = where((i >= P and i < L) or (i >= 3 and i < L + P), x[i - P], 0)\nloss E = sum(i, y[i])\n"
    ))
    .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", "", &d)));
    // The negation of `and` is an `or`: in its else branch nothing is known.
    let e = errors(&format!(
        "{head}y[i in LP] = where(i < P and i >= L + P, 0, x[i - P])\nloss E = sum(i, y[i])\n"
    ));
    assert!(e.contains("error[E0209]"), "{e}");
    // A comparison of values says nothing of i.
    let e = errors(&format!(
        "{head}y[i in LP] = where(x[0] > 0, x[i - P], 0)\nloss E = sum(i, y[i])\n"
    ));
    assert!(e.contains("error[E0209]"), "{e}");
}
