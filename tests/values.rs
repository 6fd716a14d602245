//! values.json: the template `netgrad values` writes reads back through the
//! parser `netgrad eval` uses, for every example; wrong shapes are named
//! accurately; and the fast interpreter agrees with a plain tree walk.

mod common;

use netgrad::ir::{Expr, Program, Reduction, Sub};
use netgrad::values::{parse, template, Fill};

#[test]
fn every_example_round_trips_through_its_template() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let p = netgrad::front_end(&text).unwrap().program;
        for (fill, seed) in [(Fill::Random(1), 1), (Fill::Random(9), 9)] {
            let json = template(&p, fill);
            let given = parse(&p, &json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The very numbers `check --seed` uses, bit for bit.
            assert_eq!(
                given,
                netgrad::gradcheck::random_values(&p, seed),
                "{}",
                path.display()
            );
        }
        let zeros = parse(&p, &template(&p, Fill::Zeros)).unwrap();
        for id in netgrad::eval::given_values(&p) {
            let data = zeros[id.index()].as_ref().unwrap();
            assert_eq!(data.len(), p.value(id).len());
            assert!(data.iter().all(|x| *x == 0.0));
        }
    }
}

#[test]
fn a_template_nests_each_value_in_its_shape() {
    let p = netgrad::front_end(
        "dim K = 2\ndim D = 3\ninput s\nparam w[K, D], b[K]\nloss E = s * sum(k, b[k] + sum(i, w[k, i]))\n",
    )
    .unwrap()
    .program;
    insta::assert_snapshot!(template(&p, Fill::Zeros), @r#"
    {
      "s": 0.0,
      "w": [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0]
      ],
      "b": [0.0, 0.0]
    }
    "#);
}

fn problems(src: &str, json: &str) -> String {
    let p = netgrad::front_end(src).unwrap().program;
    parse(&p, json).unwrap_err()
}

#[test]
fn a_wrong_shape_is_named_by_what_was_given() {
    let src = "dim N = 2\nparam x[N, N], v[N], s\nloss E = s + sum(i, v[i] + sum(j, x[i, j]))\n";
    let err = problems(src, r#"{"x": [[1, 2, 3, 4]], "v": [1], "s": 0}"#);
    assert!(
        err.contains("`x` has shape [1, 4]; expected [2, 2] (`x` is x[N, N])"),
        "{err}"
    );
    assert!(
        err.contains("`v` has 1 element; expected 2 (`v` is v[N])"),
        "{err}"
    );
    let err = problems(src, r#"{"x": [1, 2, 3, 4], "v": [[1, 2]], "s": [0]}"#);
    assert!(err.contains("`x` has shape [4]; expected [2, 2]"), "{err}");
    assert!(err.contains("`v` has shape [1, 2]; expected [2]"), "{err}");
    assert!(err.contains("`s` must be a number, not an array"), "{err}");
    // Ragged: the first row that differs is named.
    let err = problems(src, r#"{"x": [[1, 2], [3]], "v": [1, 2], "s": 0}"#);
    assert!(
        err.contains("`x[1]` has 1 element; expected 2 (`x` is x[N, N])"),
        "{err}"
    );
}

#[test]
fn a_nan_is_reported_without_an_element_for_a_scalar() {
    let g = common::gradient("dim K = 2\nparam w, v[K]\nloss E = sqrt(w) + sum(k, sqrt(v[k]))\n");
    let p = &g.dag.program;
    let given = parse(p, r#"{"w": -1, "v": [1, -1]}"#).unwrap();
    let data = netgrad::eval::run(p, &given);
    let err = netgrad::values::result(&g, &data).unwrap_err();
    assert!(err.lines().any(|l| l == "the loss is NaN"), "{err}");
    assert!(err.contains("the gradient of `w` is NaN\n"), "{err}");
    assert!(err.contains("the gradient of `v` is NaN at v[1]"), "{err}");
}

/// The interpreter before it was compiled: one tree walk per element,
/// sums left to right. The fast one must agree up to rounding.
fn reference(p: &Program, given: &[Option<Vec<f64>>]) -> Vec<Vec<f64>> {
    fn walk(p: &Program, owner: usize, data: &[Vec<f64>], e: &Expr, env: &mut Vec<usize>) -> f64 {
        let sub = |s: &Sub, env: &[usize]| match s {
            Sub::Var(v) => env[v.index()] as i64,
            Sub::Lit(n) => *n as i64,
            Sub::Affine(a) => a.eval(env),
        };
        match e {
            Expr::Num(x) => *x,
            Expr::Read { value, subs } => {
                let strides = netgrad::eval::strides(p.value(*value));
                let at: usize = subs
                    .iter()
                    .zip(&strides)
                    .map(|(s, st)| usize::try_from(sub(s, env)).expect("in bounds") * st)
                    .sum();
                data[value.index()][at]
            }
            Expr::Delta(a, b) => f64::from(u8::from(sub(a, env) == sub(b, env))),
            Expr::At { index, pos } => {
                let k = env[index.index()] as f64;
                f64::from(u8::from(k == walk(p, owner, data, pos, env)))
            }
            // By its definition: the sum over the index of the body where
            // `scale * index = value`, every term visited.
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => {
                let n = p.values[owner].indices[index.index()].extent.size;
                let target = sub(value, env);
                let mut total = 0.0;
                for k in 0..n {
                    env[index.index()] = k;
                    if *scale * k as i64 == target {
                        total += walk(p, owner, data, body, env);
                    }
                }
                total
            }
            Expr::Index(i) => env[i.index()] as f64,
            Expr::Where { cond, then, els } => {
                if walk(p, owner, data, cond, env) != 0.0 {
                    walk(p, owner, data, then, env)
                } else {
                    walk(p, owner, data, els, env)
                }
            }
            Expr::Unary { func, arg } => func.apply(walk(p, owner, data, arg, env)),
            Expr::Binary { op, lhs, rhs } => {
                let a = walk(p, owner, data, lhs, env);
                op.apply(a, walk(p, owner, data, rhs, env))
            }
            Expr::Reduce { op, index, body } => {
                let n = p.values[owner].indices[index.index()].extent.size;
                let xs: Vec<f64> = (0..n)
                    .map(|k| {
                        env[index.index()] = k;
                        walk(p, owner, data, body, env)
                    })
                    .collect();
                match op {
                    Reduction::Sum => xs.iter().sum(),
                    Reduction::Mean => xs.iter().sum::<f64>() / n as f64,
                    Reduction::LogSumExp => {
                        let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
                    }
                    Reduction::Max => xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    Reduction::Min => xs.iter().cloned().fold(f64::INFINITY, f64::min),
                    // The first position of the extreme.
                    Reduction::ArgMax | Reduction::ArgMin => {
                        let better = |x: f64, y: f64| {
                            if *op == Reduction::ArgMax {
                                x > y
                            } else {
                                x < y
                            }
                        };
                        let best = (0..n).fold(0, |b, k| if better(xs[k], xs[b]) { k } else { b });
                        best as f64
                    }
                }
            }
        }
    }
    let mut data: Vec<Vec<f64>> = Vec::new();
    for (i, v) in p.values.iter().enumerate() {
        let values = match &v.rhs {
            None => given[i].clone().unwrap(),
            Some(rhs) => {
                let strides = netgrad::eval::strides(v);
                (0..v.len())
                    .map(|flat| {
                        let mut env = vec![0; v.indices.len()];
                        let mut rest = flat;
                        for (m, s) in strides.iter().enumerate() {
                            env[m] = rest / s;
                            rest %= s;
                        }
                        walk(p, i, &data, rhs, &mut env)
                    })
                    .collect()
            }
        };
        data.push(values);
    }
    data
}

#[test]
fn the_interpreter_agrees_with_a_plain_tree_walk() {
    let mut worst: f64 = 0.0;
    // Besides the examples, the other shapes of dot loop: one read, three
    // reads, a read that does not move with the index, a repeated and a
    // literal subscript, lengths that are and are not multiples of four.
    let loops = "dim K = 7\ndim M = 8\n\
                 param a[K, M], b[M], c[K], q[K, K]\n\
                 s1[k] = sum(m, a[k, m]) + mean(m, b[m] * a[k, m] * b[m])\n\
                 s2[m] = sum(k, a[k, m] * c[k] * c[0] * a[k, 2]) + sum(k, c[k] * b[m])\n\
                 s3 = sum(k, q[k, k] * c[k]) + sum(k, sum(m, a[k, m] * b[m]))\n\
                 loss E = sum(k, tanh(s1[k]) * c[k]) + sum(m, s2[m] * b[m]) + s3^2\n";
    let mut sources: Vec<(String, String)> = common::net_files("examples")
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    sources.push(("loops".into(), loops.into()));
    for (path, text) in &sources {
        for g in [common::gradient(text), common::simplified(text)] {
            let p = &g.dag.program;
            let given = netgrad::gradcheck::random_values(p, 4);
            let fast = netgrad::eval::run(p, &given);
            let slow = reference(p, &given);
            for (v, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert_eq!(a.len(), b.len());
                // Every element has a bound of its own: sums of up to 784
                // products of numbers below about 10 in size.
                for (x, y) in a.iter().zip(b) {
                    let err = (x - y).abs() / x.abs().max(1.0);
                    worst = worst.max(err);
                    assert!(
                        err <= 1e-12,
                        "{path}: {} differs: {x} vs {y}",
                        p.values[v].name
                    );
                }
            }
        }
    }
    eprintln!("worst difference from the tree walk: {worst:e}");
}
