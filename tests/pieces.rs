//! Long right-hand sides are split into pieces (`graph::MAX_PIECE`), each a
//! temporary with an adjoint of its own, so that autodiff stays linear in
//! memory. Splitting must not change any number: the gradients of split
//! programs agree with central differences, and every piece is small.

mod common;

use netgrad::graph::MAX_PIECE;
use netgrad::ir::{Expr, ValueKind};

fn nodes(e: &Expr) -> usize {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => 1,
        Expr::Where { cond, then, els } => 1 + nodes(cond) + nodes(then) + nodes(els),
        Expr::Unary { arg, .. } => 1 + nodes(arg),
        Expr::Binary { lhs, rhs, .. } => 1 + nodes(lhs) + nodes(rhs),
        Expr::Reduce { body, .. } => 1 + nodes(body),
        Expr::At { pos, .. } => 1 + nodes(pos),
        Expr::Solve { body, .. } => 1 + nodes(body),
    }
}

/// Deep expressions whose values stay finite at the gradient check's random
/// points (uniform in [-1, 1)).
fn deep_programs() -> Vec<(&'static str, String)> {
    let s = "sigmoid(w)";
    let tower = format!("param w\nloss E = {}\n", [s; 200].join("^"));
    let product = format!(
        "param w\nloss E = {}\n",
        (1..=240)
            .map(|k| format!("(1 + w / {k})"))
            .collect::<Vec<_>>()
            .join(" * ")
    );
    let depth = netgrad::syntax::MAX_NESTING - 1;
    let nested = format!(
        "param w\nloss E = {}w{}\n",
        "sin(w * ".repeat(depth),
        " + w)".repeat(depth)
    );
    // Inside a reduction: the pieces range over the summed index.
    let reduced = format!(
        "dim N = 3\nparam v[N]\nloss E = sum(i, {})\n",
        ["sigmoid(v[i])"; 100].join("^")
    );
    // max and min: partials that read the siblings twice.
    let maxmin = format!(
        "param w, u\nloss E = {}\n",
        (0..120)
            .map(|k| format!("max(w, u * {k}) * min(u, w / {})", k + 1))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    vec![
        ("tower", tower),
        ("product", product),
        ("nested", nested),
        ("reduced", reduced),
        ("maxmin", maxmin),
    ]
}

#[test]
fn deep_expressions_are_split_into_small_pieces() {
    for (name, src) in deep_programs() {
        let dag = netgrad::front_end(&src).unwrap_or_else(|_| panic!("{name} is valid"));
        let p = &dag.program;
        let temps = p
            .values
            .iter()
            .filter(|v| v.kind == ValueKind::Temp)
            .count();
        assert!(temps > 0, "{name}: not split");
        for v in &p.values {
            if let Some(rhs) = &v.rhs {
                assert!(
                    nodes(rhs) <= 2 * MAX_PIECE + 1,
                    "{name}: `{}` has {} nodes",
                    v.name,
                    nodes(rhs)
                );
            }
        }
    }
}

#[test]
fn split_programs_have_exact_gradients() {
    for (name, src) in deep_programs() {
        for simplify in [false, true] {
            let dag = netgrad::front_end(&src).unwrap_or_else(|_| panic!("{name} is valid"));
            let (g, _) = netgrad::derive(dag, &[], simplify).expect("every param");
            for seed in [1, 2, 3] {
                let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
                for c in netgrad::gradcheck::check(&g, &given, seed) {
                    assert!(
                        c.worst <= 1e-6,
                        "{name} (simplified: {simplify}, seed {seed}): the gradient of `{}` is off by {:e}",
                        c.name,
                        c.worst
                    );
                }
            }
        }
    }
}
