//! Max and min reductions: the gradient against central differences, the
//! first-extreme rule at ties (exactly, in the interpreter), NaN, the cost
//! of the derivative (one pass over the range), and what users read.
//! examples/maxpool.net is checked with every example besides.

mod common;

use netgrad::ir::{Expr, Reduction, ValueKind};

use common::{given_by_name as given, gradient_wrt as gradient, loss_and_gradients as run};

/// Pooling over an explicit window axis, a min, several binders, a max
/// inside a larger expression, and a max of a product of params.
const PROGRAMS: &[(&str, &str)] = &[
    (
        "max pooling",
        "dim N = 2\ndim C = 3\ndim K = 4\ninput t[N, C]\nparam a[N, C, K]\n\
         m[n, c] = max(k, a[n, c, k])\nloss E = sum(n, c, (m[n, c] - t[n, c])^2)\n",
    ),
    (
        "min",
        "dim K = 5\nparam a[K], w\nloss E = exp(min(k, a[k] * w)) + min(k in K, a[k])\n",
    ),
    (
        "several binders",
        "dim I = 3\ndim J = 4\nparam a[I, J]\n\
         loss E = max(i, j, a[i, j] * a[i, j]) - 2 * min(j, i, a[i, j])\n",
    ),
    (
        "inside an expression",
        "dim N = 3\ndim K = 4\ninput x[N, K]\nparam w[K], b\n\
         s[n] = tanh(max(k, w[k] * x[n, k]) + b) * sum(k, w[k])\n\
         loss E = sum(n, s[n]^2) + log(1 + max(k, w[k])^2)\n",
    ),
    (
        "nested in a sum",
        "dim N = 3\ndim K = 4\nparam a[N, K]\n\
         loss E = sum(n, sigmoid(max(k, a[n, k])) * min(k, a[n, k]))\n",
    ),
];

#[test]
fn max_and_min_agree_with_central_differences() {
    for (name, text) in PROGRAMS {
        let probe = netgrad::front_end(text).unwrap();
        let all: Vec<String> = netgrad::eval::given_values(&probe.program)
            .map(|v| probe.program.value(v).name.clone())
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let raw = gradient(text, &all);
        let simplified = netgrad::simplify::gradient(raw.clone()).0;
        for g in [&raw, &simplified] {
            for seed in 1..=4 {
                let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
                for c in netgrad::gradcheck::check(g, &given, seed) {
                    assert!(
                        c.worst <= 1e-6,
                        "{name}: {} off by {:e} (seed {seed})",
                        c.name,
                        c.worst
                    );
                }
            }
        }
    }
}

#[test]
fn the_adjoint_goes_to_the_first_position_of_a_tie() {
    let text = "dim K = 5\nparam a[K]\nloss E = 3 * max(k, a[k]) + min(k, a[k])\n";
    let g = gradient(text, &[]);
    let given = given(&g, &[("a", &[2.0, 7.0, 1.0, 7.0, 1.0])]);
    let (loss, grads) = run(&g, &given);
    assert_eq!(loss, 22.0);
    assert_eq!(grads, [vec![0.0, 3.0, 1.0, 0.0, 0.0]]);
    // Every entry equal: the first position takes both.
    let given = self::given(&g, &[("a", &[4.0; 5])]);
    assert_eq!(run(&g, &given).1, [vec![4.0, 0.0, 0.0, 0.0, 0.0]]);
}

#[test]
fn several_binders_tie_in_row_major_order() {
    // The maximum 5 at [0, 2], [1, 0] and [1, 2]: row-major, [0, 2] is
    // first; with the binders the other way round (`max(j, i, ...)`, j
    // outer), [1, 0] is. The minimum -1 at [0, 1] and [1, 1].
    let text = "dim I = 2\ndim J = 3\nparam a[I, J]\n\
                loss E = max(i, j, a[i, j]) + 10 * max(j, i, a[i, j]) + 100 * min(i, j, a[i, j])\n";
    let g = gradient(text, &[]);
    let given = given(&g, &[("a", &[1.0, -1.0, 5.0, 5.0, -1.0, 5.0])]);
    let (loss, grads) = run(&g, &given);
    assert_eq!(loss, 5.0 + 50.0 - 100.0);
    assert_eq!(grads, [vec![0.0, 100.0, 1.0, 10.0, 0.0, 0.0]]);
}

#[test]
fn ties_hold_after_simplification_and_through_a_pooling_layer() {
    let text = "dim N = 2\ndim K = 3\nparam a[N, K]\n\
                m[n] = max(k, relu(a[n, k]))\nloss E = sum(n, m[n] * m[n])\n";
    let g = netgrad::simplify::gradient(gradient(text, &[])).0;
    // Row 0: relu gives 0, 0, 0 (a tie at 0: the first position, and
    // relu'(0) = 0 cuts it anyway); row 1: 2 at positions 1 and 2.
    let given = given(&g, &[("a", &[-1.0, -2.0, 0.0, 1.0, 2.0, 2.0])]);
    let (loss, grads) = run(&g, &given);
    assert_eq!(loss, 4.0);
    assert_eq!(grads, [vec![0.0, 0.0, 0.0, 0.0, 4.0, 0.0]]);
}

#[test]
fn a_nan_propagates_from_its_first_position() {
    let text = "dim K = 4\nparam a[K]\nm = max(k, a[k])\nloss E = 2 * m + min(k, a[k])\noutput m\n";
    let g = gradient(text, &[]);
    let given = given(&g, &[("a", &[1.0, f64::NAN, 3.0, f64::NAN])]);
    let data = netgrad::eval::run(&g.dag.program, &given);
    let p = &g.dag.program;
    let m = p.ids().find(|v| p.value(*v).name == "m").unwrap();
    assert!(data[m.index()][0].is_nan());
    let adj = &data[g.wrt[0].1.index()];
    // The max and the min are both at the first NaN, position 1, and their
    // adjoints (2 and 1) do not depend on the NaN.
    assert_eq!(adj, &[0.0, 3.0, 0.0, 0.0]);
    // -inf everywhere: the first position attains it.
    let given = self::given(&g, &[("a", &[f64::NEG_INFINITY; 4])]);
    let data = netgrad::eval::run(&g.dag.program, &given);
    assert_eq!(data[g.wrt[0].1.index()], [3.0, 0.0, 0.0, 0.0]);
}

/// How deeply reductions nest in `e`.
fn depth(e: &Expr) -> usize {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => 0,
        Expr::Where { cond, then, els } => depth(cond).max(depth(then)).max(depth(els)),
        Expr::Unary { arg, .. } => depth(arg),
        Expr::Binary { lhs, rhs, .. } => depth(lhs).max(depth(rhs)),
        Expr::Reduce { body, .. } => 1 + depth(body),
        Expr::At { pos, .. } => depth(pos),
        Expr::Solve { body, .. } => depth(body),
    }
}

#[test]
fn the_derivative_reads_the_position_once_computed() {
    // The adjoint of `a` reads the position of the max, a value computed
    // once per element of m in one pass over k: no reduction is left in the
    // adjoint (a search for the first maximum inside it would cost a pass
    // over k for every k).
    let text = "dim N = 2\ndim K = 1000\nparam a[N, K]\nm[n] = max(k, a[n, k])\n\
                loss E = sum(n, m[n]^2)\n";
    let g = netgrad::simplify::gradient(gradient(text, &[])).0;
    let p = &g.dag.program;
    let adj = p.value(g.wrt[0].1);
    assert_eq!(depth(adj.rhs.as_ref().unwrap()), 0, "{adj:?}");
    let positions: Vec<_> = p
        .values
        .iter()
        .filter(|v| {
            matches!(
                v.rhs,
                Some(Expr::Reduce {
                    op: Reduction::ArgMax,
                    ..
                })
            )
        })
        .collect();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].kind, ValueKind::Temp);
    // Only the gradient computes it: the forward program has no position.
    let forward = netgrad::front_end(text).unwrap();
    assert!(forward.program.values.iter().all(|v| !matches!(
        v.rhs,
        Some(Expr::Reduce {
            op: Reduction::ArgMax | Reduction::ArgMin,
            ..
        })
    )));
}

#[test]
fn a_max_inside_an_expression_becomes_a_value_of_its_own() {
    let dag = netgrad::front_end(
        "dim K = 3\nparam a[K]\nloss E = exp(max(k, a[k])) + min(k, a[k]) * 2\n",
    )
    .unwrap();
    let temps: Vec<&Expr> = dag
        .program
        .values
        .iter()
        .filter(|v| v.kind == ValueKind::Temp)
        .filter_map(|v| v.rhs.as_ref())
        .collect();
    assert_eq!(temps.len(), 2, "{temps:?}");
    assert!(temps.iter().all(|e| matches!(
        e,
        Expr::Reduce {
            op: Reduction::Max | Reduction::Min,
            ..
        }
    )));
}

#[test]
fn max_of_two_values_stays_elementwise() {
    // `max(w, x)`: both declared; `max(h[j], 0)`: not a bare name first.
    let text = "dim J = 2\nparam w, h[J]\ninput x\nloss E = max(w, x) + sum(j, max(h[j], 0))\n";
    let dag = netgrad::front_end(text).unwrap();
    let loss = dag.program.value(dag.program.loss).rhs.as_ref().unwrap();
    let mut reductions = Vec::new();
    fn walk(e: &Expr, out: &mut Vec<Reduction>) {
        match e {
            Expr::Unary { arg, .. } => walk(arg, out),
            Expr::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            Expr::Reduce { op, body, .. } => {
                out.push(*op);
                walk(body, out);
            }
            _ => {}
        }
    }
    walk(loss, &mut reductions);
    assert_eq!(reductions, [Reduction::Sum]);
}

#[test]
fn explain_says_what_the_bracket_means_without_internal_names() {
    use netgrad::explain::{explain, explain_with_steps, Format};
    let (_, text) = PROGRAMS[0];
    let g = common::simplified(text);
    let out = explain(&g, "pool.net", Format::Text);
    for line in [
        "  m[n, c] = max_k(a[n, c, k])",
        "  ∂m[n, c]/∂a[n, c, k] = [k = argmax_k'(a[n, c, k'])]",
        "  [k = argmax_k'(a[n, c, k'])] is 1 if k is the first position of the maximum (ties go to the first), else 0.",
        "  ∂E/∂a[n, c, k] = ∂E/∂m[n, c] · [k = argmax_k'(a[n, c, k'])]",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // The whole explanation of examples/maxpool.net, in every format, is in
    // tests/snapshots/explain__*@maxpool.net.snap.
    for (name, text) in PROGRAMS {
        let g = common::simplified(text);
        let dag = netgrad::front_end(text).unwrap();
        let mut outputs = vec![
            netgrad::summary::summary(&dag),
            netgrad::dot::dot(&dag, "n"),
        ];
        for format in [Format::Text, Format::Latex, Format::Markdown] {
            outputs.push(explain(&g, "f.net", format));
            outputs.push(explain_with_steps(&g, "f.net", format));
        }
        for out in outputs {
            for internal in ["_argmax", "_argmin", "_t1", "_t2"] {
                assert!(!out.contains(internal), "{name}: shows {internal}:\n{out}");
            }
        }
    }
}
