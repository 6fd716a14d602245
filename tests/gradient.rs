//! The symbolic gradient, evaluated by the interpreter, against central
//! differences on every example, against PRML's backpropagation formulas on
//! bishop.net, and at the kinks of relu, abs and max.

mod common;

use netgrad::autodiff::{differentiate, resolve_wrt, Gradient};
use netgrad::ir::ValueKind;

fn gradient(text: &str, wrt: &[&str]) -> Gradient {
    let dag = netgrad::front_end(text)
        .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", text, &d)));
    let names: Vec<String> = wrt.iter().map(|s| s.to_string()).collect();
    let ids = resolve_wrt(&dag.program, &names).unwrap();
    differentiate(dag, &ids)
}

/// The gradient of each wrt value at `given`, by name.
fn grads(g: &Gradient, given: &[Option<Vec<f64>>]) -> Vec<(String, Vec<f64>)> {
    let data = netgrad::eval::run(&g.dag.program, given);
    g.wrt
        .iter()
        .map(|(w, adj)| {
            (
                g.dag.program.value(*w).name.clone(),
                data[adj.index()].clone(),
            )
        })
        .collect()
}

#[test]
fn every_example_agrees_with_central_differences() {
    let mut worst_overall: f64 = 0.0;
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let probe = netgrad::front_end(&text).unwrap();
        // Every param and every input: the inputs exercise other adjoints.
        let all: Vec<String> = netgrad::eval::given_values(&probe.program)
            .map(|v| probe.program.value(v).name.clone())
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let g = gradient(&text, &all);
        for seed in 1..=3 {
            let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
            for c in netgrad::gradcheck::check(&g, &given, seed) {
                assert!(
                    c.worst <= 1e-6,
                    "{}: {} off by {:e} (seed {seed})",
                    path.display(),
                    c.name,
                    c.worst
                );
                worst_overall = worst_overall.max(c.worst);
            }
        }
    }
    eprintln!("worst relative error over all examples: {worst_overall:e}");
}

#[test]
fn bishop_follows_the_prml_formulas() {
    let text = std::fs::read_to_string(common::root().join("examples/bishop.net")).unwrap();
    let g = gradient(&text, &[]);
    let given = netgrad::gradcheck::random_values(&g.dag.program, 7);
    let p = &g.dag.program;
    let get = |name: &str| {
        given[p.ids().find(|v| p.value(*v).name == name).unwrap().index()]
            .clone()
            .unwrap()
    };
    let (x, t, w1, b1, w2, b2) = (
        get("x"),
        get("t"),
        get("w1"),
        get("b1"),
        get("w2"),
        get("b2"),
    );
    let (d, m, k) = (3, 4, 2);
    // Forward, PRML (5.48), (5.49), linear outputs.
    let a: Vec<f64> = (0..m)
        .map(|j| (0..d).map(|i| w1[j * d + i] * x[i]).sum::<f64>() + b1[j])
        .collect();
    let z: Vec<f64> = a.iter().map(|a| a.tanh()).collect();
    let y: Vec<f64> = (0..k)
        .map(|kk| (0..m).map(|j| w2[kk * m + j] * z[j]).sum::<f64>() + b2[kk])
        .collect();
    // Backward: delta_k = y_k - t_k (5.54), delta_j = (1 - z_j^2) sum_k w_kj delta_k (5.56).
    let dk: Vec<f64> = (0..k).map(|kk| y[kk] - t[kk]).collect();
    let dj: Vec<f64> = (0..m)
        .map(|j| (1.0 - z[j] * z[j]) * (0..k).map(|kk| w2[kk * m + j] * dk[kk]).sum::<f64>())
        .collect();
    let want = [
        (
            "w1",
            (0..m * d).map(|n| dj[n / d] * x[n % d]).collect::<Vec<_>>(),
        ),
        ("b1", dj.clone()),
        ("w2", (0..k * m).map(|n| dk[n / m] * z[n % m]).collect()),
        ("b2", dk.clone()),
    ];
    let got = grads(&g, &given);
    for ((name, expected), (got_name, got)) in want.iter().zip(&got) {
        assert_eq!(name, got_name);
        for (e, g) in expected.iter().zip(got) {
            assert!(
                (e - g).abs() <= 1e-12 * e.abs().max(1.0),
                "{name}: {e} vs {g}"
            );
        }
    }
}

#[test]
fn kinks_follow_the_language_conventions() {
    // relu'(0) = 0, abs'(0) = 0, max and min take `a` on ties.
    let g = gradient(
        "param w\ninput x\nloss E = relu(w) + abs(w) + max(w, x) + 3 * min(x, w)\n",
        &["w", "x"],
    );
    let given = vec![Some(vec![0.0]), Some(vec![0.0]), None];
    let mut given = given;
    given.resize(g.dag.program.values.len(), None);
    let got = grads(&g, &given);
    assert_eq!(
        got,
        [("w".to_string(), vec![1.0]), ("x".to_string(), vec![3.0])]
    );
}

#[test]
fn literal_and_repeated_subscripts_become_kronecker_deltas() {
    let src = "dim K = 3\nparam w[K, K]\nloss E = sum(i, w[i, i]) + 2 * w[0, 1]\n";
    let g = gradient(src, &[]);
    let p = &g.dag.program;
    let adj = p.value(g.wrt[0].1);
    let text = netgrad::pretty::definition(p, adj);
    assert_eq!(text, "∂E/∂w[i, i'] = δ(i', i) + 2 * δ(i, 0) * δ(i', 1)");
    let given = netgrad::gradcheck::random_values(p, 3);
    let got = &grads(&g, &given)[0].1;
    assert_eq!(got, &[1.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn fanout_sums_three_chain_rule_products() {
    let text = std::fs::read_to_string(common::root().join("examples/fanout.net")).unwrap();
    let g = gradient(&text, &[]);
    let p = &g.dag.program;
    let h = p
        .ids()
        .find(|v| p.value(*v).kind == ValueKind::Adjoint && p.value(*v).name == "∂E/∂h")
        .unwrap();
    assert_eq!(
        netgrad::pretty::definition(p, p.value(h)),
        "∂E/∂h = ∂E/∂u * h + ∂E/∂u * h + ∂E/∂v * cos(h)"
    );
}

#[test]
fn a_param_that_does_not_reach_the_loss_has_a_zero_gradient() {
    let g = gradient(
        "dim K = 2\nparam w[K], unused[K]\nloss E = sum(k, w[k]^2)\n",
        &[],
    );
    let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
    assert_eq!(grads(&g, &given)[1], ("unused".to_string(), vec![0.0, 0.0]));
}

#[test]
fn eval_json_matches_its_snapshot() {
    insta::glob!("../examples", "*.net", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        // mlp_mnist's full gradient has 101,770 numbers: its snapshot keeps the biases.
        let wrt: &[&str] = if text.contains("dim D = 784") {
            &["b1", "b2"]
        } else {
            &[]
        };
        // As `netgrad eval` computes it: simplified.
        let (g, _) = netgrad::simplify::gradient(gradient(&text, wrt));
        let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
        let data = netgrad::eval::run(&g.dag.program, &given);
        insta::assert_snapshot!(netgrad::values::result(&g, &data).unwrap());
    });
}

/// Counts what the gradient check reports.
#[derive(Default)]
struct Counter {
    total: u64,
    done: u64,
    finished: u32,
}

impl netgrad::gradcheck::Progress for Counter {
    fn start(&mut self, total: u64) {
        self.total = total;
    }
    fn advance(&mut self, n: u64) {
        self.done += n;
    }
    fn finish(&mut self) {
        self.finished += 1;
    }
}

#[test]
fn probes_that_recompute_a_region_agree_at_every_element() {
    // Literal and repeated subscripts, broadcasts, reductions inside and
    // outside, a value read twice, an output the loss does not read: a probe
    // that missed an element it changes would be far off.
    let src = "dim K = 3\ndim M = 2\n\
               param w[K, K], u[K], v[M, K]\n\
               h[i] = w[i, i] * u[0] + w[0, i] * u[i]\n\
               y[i, j] = h[i] * w[j, i] + u[j]\n\
               s[m] = logsumexp(k, v[m, k] * h[k]) + sum(k, v[m, k])\n\
               side[i] = exp(u[i])\n\
               loss E = sum(i, sum(j, tanh(y[i, j]))) + h[2] * u[1] + mean(m, s[m]^2)\n\
               output side\n";
    let g = gradient(src, &["w", "u", "v"]);
    for seed in 1..=3 {
        let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
        let mut counter = Counter::default();
        let checks = netgrad::gradcheck::check_with(
            &g,
            &given,
            seed,
            netgrad::gradcheck::Sample::All,
            &mut counter,
        )
        .unwrap();
        for c in &checks {
            assert_eq!(c.checked, c.len);
            assert!(c.worst <= 1e-8, "{}: {:e} (seed {seed})", c.name, c.worst);
        }
        let all: usize = checks.iter().map(|c| c.len).sum();
        assert_eq!((counter.total, counter.done), (all as u64, all as u64));
        assert_eq!(counter.finished, 1);
    }
}

#[test]
fn a_sample_is_seeded_and_of_the_size_asked() {
    let text = std::fs::read_to_string(common::root().join("examples/mlp_mnist.net")).unwrap();
    let g = gradient(&text, &["w2", "b2"]);
    let given = netgrad::gradcheck::random_values(&g.dag.program, 2);
    let run = |n| {
        netgrad::gradcheck::check_with(
            &g,
            &given,
            2,
            netgrad::gradcheck::Sample::AtMost(n),
            &mut (),
        )
        .unwrap()
    };
    let few = run(5);
    assert_eq!(
        few.iter().map(|c| (c.checked, c.len)).collect::<Vec<_>>(),
        [(5, 1280), (5, 10)]
    );
    assert_eq!(few, run(5), "the same seed samples the same elements");
    // The default sample is the one `check` takes.
    assert_eq!(
        run(netgrad::gradcheck::MAX_CHECKED),
        netgrad::gradcheck::check(&g, &given, 2)
    );
}

#[test]
fn a_loss_that_is_not_finite_is_reported_before_any_probe() {
    let g = gradient("param w\nloss E = log(w - 2)\n", &[]);
    let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
    let mut counter = Counter::default();
    let r = netgrad::gradcheck::check_with(
        &g,
        &given,
        1,
        netgrad::gradcheck::Sample::All,
        &mut counter,
    );
    assert!(matches!(r, Err(netgrad::gradcheck::NotFinite { loss }) if loss.is_nan()));
    assert_eq!((counter.total, counter.done), (0, 0));
}

/// A loss that is a sum or mean of terms, checked as `netgrad check` does.
fn check_all(g: &Gradient, sample: netgrad::gradcheck::Sample) -> Vec<netgrad::gradcheck::Check> {
    let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
    netgrad::gradcheck::check_with(g, &given, 1, sample, &mut ()).unwrap()
}

#[test]
fn a_large_sum_is_checked_with_the_fixed_step_alone() {
    // The loss is 2^16 terms of about 1/3 each; the whole loss's central
    // difference loses five digits to rounding and needed the extrapolation
    // (about two dozen evaluations a probe). Differencing the one term a
    // probe changes is exact enough for the fixed step: two evaluations.
    let g = gradient(
        "dim N = 65536\nparam w[N]\nloss E = sum(i, w[i]^2)\n",
        &["w"],
    );
    let checks = check_all(&g, netgrad::gradcheck::Sample::AtMost(48));
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].checked, 48);
    assert!(checks[0].worst <= 1e-9, "{:e}", checks[0].worst);
    assert_eq!(checks[0].evaluations, 2 * 48);
}

#[test]
fn sums_and_means_of_terms_agree_at_every_element() {
    // Nested outer reductions, a mean, a literal subscript, a term read
    // through definitions, a repeated index, a reduction inside a term: a
    // probe that left out a term it changes would be far off.
    let src = "dim K = 3\ndim M = 4\n\
               param w[K, K], u[K], v[M, K]\n\
               input t[M]\n\
               h[m] = tanh(sum(k, v[m, k] * u[k]))\n\
               loss E = mean(m, sum(k, (h[m] - t[m])^2 * w[k, k] + v[m, k] * w[0, k] + exp(sum(j, w[k, j] * u[j]))))\n";
    let g = gradient(src, &["w", "u", "v", "t"]);
    for c in check_all(&g, netgrad::gradcheck::Sample::All) {
        assert_eq!(c.checked, c.len);
        assert!(c.worst <= 1e-8, "{}: {:e}", c.name, c.worst);
    }
}

#[test]
fn a_wrong_gradient_of_a_sum_is_still_caught() {
    // The check differences only the changed terms; a gradient off by 0.1 %
    // must still show as off by about that.
    let mut g = gradient(
        "dim N = 1000\nparam w[N]\nloss E = sum(i, sin(w[i]) + w[i]^2)\n",
        &["w"],
    );
    let adj = g.wrt[0].1;
    let v = &mut g.dag.program.values[adj.index()];
    let rhs = v.rhs.take().unwrap();
    v.rhs = Some(netgrad::ir::Expr::binary(
        netgrad::ir::BinOp::Mul,
        rhs,
        netgrad::ir::Expr::Num(1.001),
    ));
    let c = &check_all(&g, netgrad::gradcheck::Sample::AtMost(48))[0];
    assert!(c.worst > 1e-4 && c.worst < 1e-2, "{:e}", c.worst);
}

/// Values by name.
type Named = Vec<(String, Vec<f64>)>;

/// Loss and gradient (by name) at the given values, through the interpreter,
/// with and without simplification.
fn at_point(text: &str, values: &[(&str, Vec<f64>)]) -> [(f64, Named); 2] {
    [false, true].map(|simplify| {
        let dag = netgrad::front_end(text).unwrap();
        let (g, _) = netgrad::derive(dag, &[], simplify).unwrap();
        let p = &g.dag.program;
        let mut given = netgrad::gradcheck::random_values(p, 1);
        for (name, x) in values {
            let id = p.ids().find(|v| p.value(*v).name == *name).unwrap();
            given[id.index()] = Some(x.clone());
        }
        let data = netgrad::eval::run(p, &given);
        (data[p.loss.index()][0], grads(&g, &given))
    })
}

#[test]
fn the_derivative_of_a_power_in_its_exponent_is_0_at_0() {
    // d(w^p)/dp = w^p * log(w) is 0 * -inf at w = 0; but 0^p is 0 for
    // every p > 0, so the derivative is 0 there (docs/language.md).
    for (loss, grads) in at_point(
        "param w, p\nloss E = w^p\n",
        &[("w", vec![0.0]), ("p", vec![2.5])],
    ) {
        assert_eq!(loss, 0.0);
        assert_eq!(grads, [("w".into(), vec![0.0]), ("p".into(), vec![0.0])]);
    }
    // Elsewhere it is w^p * log(w), and NaN where that is not real.
    for (_, grads) in at_point(
        "param w, p\nloss E = w^p\n",
        &[("w", vec![2.0]), ("p", vec![3.0])],
    ) {
        assert_eq!(grads[1].1, [8.0 * 2f64.ln()]);
    }
    for (_, grads) in at_point(
        "param w, p\nloss E = w^p\n",
        &[("w", vec![-2.0]), ("p", vec![3.0])],
    ) {
        assert!(grads[1].1[0].is_nan());
    }
}

#[test]
fn a_mean_of_huge_values_does_not_overflow() {
    // The sum of four 1.7e308s overflows; their mean is 1.7e308. Once as a
    // reduction of reads (a dot loop), once of a computed body (a tree).
    for text in [
        "dim N = 4\ninput x[N]\nparam w\nloss E = mean(i, x[i]) + w\n",
        "dim N = 4\ninput x[N]\nparam w\nloss E = mean(i, x[i] * w)\n",
        "dim N = 4\ninput x[N]\nparam w\nloss E = mean(i, abs(x[i]) + w)\n",
    ] {
        for (loss, grads) in at_point(text, &[("x", vec![1.7e308; 4]), ("w", vec![1.0])]) {
            assert_eq!(loss, 1.7e308, "{text}");
            assert!(
                grads.iter().all(|(_, g)| g.iter().all(|x| x.is_finite())),
                "{text}: {grads:?}"
            );
        }
    }
    // Not where the mean itself overflows.
    let text = "dim N = 4\ninput x[N]\nparam w\nloss E = mean(i, x[i]) * w\n";
    for (loss, _) in at_point(text, &[("x", vec![1.7e308; 4]), ("w", vec![2.0])]) {
        assert_eq!(loss, f64::INFINITY);
    }
}

#[test]
fn the_gradient_of_log_1_plus_exp_is_finite_at_800() {
    // Simplified, log(1 + exp(w)) is softplus(w) and its derivative
    // sigmoid(w); unsimplified, 1 / (1 + exp(w)) * exp(w) is 0 * inf.
    for text in [
        "param w\nloss E = log(1 + exp(w))\n",
        "param w\nloss E = log(1 + exp(2 * w))\n",
    ] {
        let [_, (loss, grads)] = at_point(text, &[("w", vec![800.0])]);
        assert!(loss.is_finite(), "{text}");
        let want = if text.contains("2 *") { 2.0 } else { 1.0 };
        assert_eq!(grads[0].1, [want], "{text}");
    }
}

#[test]
fn a_logsumexp_keeps_its_rounding_error_in_differences() {
    // At logits [1e16, 1e16] the logsumexp 1e16 + ln 2 rounds to 1e16, so
    // without its residual `lse - a[0]` is 0 (not ln 2) and the softmax
    // `exp(a[k] - lse)` is [1, 1] (not [0.5, 0.5]). As one value, inside a
    // larger expression (a hoisted logsumexp), per sample of a batch, and a
    // softmax written out.
    let ln2 = 2f64.ln();
    for text in [
        "dim K = 2\nparam a[K]\nlse = logsumexp(k, a[k])\nloss E = lse - a[0]\n",
        "dim K = 2\nparam a[K]\nloss E = logsumexp(k, a[k]) - a[0]\n",
        "dim K = 2\nparam a[K]\nlse = logsumexp(k, a[k])\np[k] = exp(a[k] - lse)\nloss E = -log(p[0])\n",
    ] {
        for (loss, grads) in at_point(text, &[("a", vec![1e16, 1e16])]) {
            assert_eq!(loss, ln2, "{text}");
            assert_eq!(grads, [("a".into(), vec![-0.5, 0.5])], "{text}");
        }
    }
    let batch = "dim N = 3\ndim K = 2\nparam a[N, K]\n\
                 loss E = sum(n, logsumexp(k, a[n, k]) - a[n, 0])\n";
    let logits = vec![1e16, 1e16, -3e15, -3e15, 2.0, 2.0];
    for (loss, grads) in at_point(batch, &[("a", logits)]) {
        assert_eq!(loss, 3.0 * ln2);
        assert_eq!(grads[0].1, [-0.5, 0.5, -0.5, 0.5, -0.5, 0.5]);
    }
    // Logits 2 apart at 1e16: exactly ln(1 + e^-2) and the sigmoid of 2.
    for (loss, grads) in at_point(batch, &[("a", vec![1e16 + 2.0, 1e16, 0.0, 0.0, 0.0, 0.0])]) {
        assert!(
            (loss - ((-2f64).exp().ln_1p() + 2.0 * ln2)).abs() <= 1e-15,
            "{loss}"
        );
        let s = 1.0 / (1.0 + 2f64.exp());
        assert!(
            (grads[0].1[0] + s).abs() <= 1e-15 && (grads[0].1[1] - s).abs() <= 1e-15,
            "{grads:?} {s}"
        );
    }
}

#[test]
fn a_deep_network_is_checked_within_one_budget_of_probes() {
    // 64 layers of 8 x 8 weights: 48 probes each, every one re-evaluating
    // the layers after it, made the check quadratic in the depth; the
    // sample is now at most `MAX_PROBED` elements in all, shared evenly.
    let mut text = String::from("dim D = 8\ninput x[D]\nh0[j] = x[j]\n");
    for l in 1..=64 {
        text.push_str(&format!(
            "param W{l}[D, D]\nh{l}[j] = tanh(sum(k, W{l}[j, k] * h{}[k]))\n",
            l - 1
        ));
    }
    text.push_str("loss E = sum(j, h64[j]^2)\n");
    let g = netgrad::derive(netgrad::front_end(&text).unwrap(), &[], true)
        .unwrap()
        .0;
    let checks = check_all(&g, netgrad::gradcheck::Sample::AtMost(48));
    assert_eq!(checks.len(), 64);
    let share = netgrad::gradcheck::MAX_PROBED / 64;
    assert!(share < 48);
    for c in &checks {
        assert_eq!(c.checked, share, "{}", c.name);
        assert!(c.worst <= 1e-6, "{}: {:e}", c.name, c.worst);
    }
}
