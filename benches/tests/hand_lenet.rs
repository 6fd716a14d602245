//! The hand-written `lenet.net` (`netgrad_benches::hand_lenet`) computes the
//! network's loss and gradient: its loss against a naive evaluation written
//! here from the formulas (over an explicitly padded image), its gradient
//! against central differences of its loss, and its variant without padding
//! against netgrad's interpreter on that network, ties in the pooling
//! windows included.

use netgrad_benches::hand_lenet::{self, C1, C2, H, HP, K, M, N_PARAMS, P, Q2, S};
use netgrad_benches::values;

/// `n` images of `w × w` and their targets (each a distribution over the
/// classes), flat as `x` then `t`, from `seed`.
fn batch(n: usize, w: usize, seed: u64) -> Vec<f64> {
    let mut inputs: Vec<f64> = values(n * w * w, seed).iter().map(|v| 2.0 * v).collect();
    for row in values(n * M, seed + 1).chunks(M) {
        let e: Vec<f64> = row.iter().map(|v| (2.0 * v).exp()).collect();
        let sum: f64 = e.iter().sum();
        inputs.extend(e.iter().map(|e| e / sum));
    }
    inputs
}

/// The params, uniform in [-scale, scale).
fn params(seed: u64, scale: f64) -> Vec<f64> {
    values(N_PARAMS, seed).iter().map(|v| scale * v).collect()
}

/// `lenet.net`'s loss by its formulas, one value at a time: `xp` padded
/// explicitly, each convolution a sum over its window, each pooling the
/// largest of its window, the loss `mean(n, logsumexp(a3[n]) - t[n] · a3[n])`.
/// `w` and `pad` are the image size and padding (12 and 1 for `lenet.net`).
fn naive_loss(n: usize, w: usize, pad: usize, inputs: &[f64], params: &[f64]) -> f64 {
    let hp = w + 2 * pad;
    let h1 = hp - K + 1;
    let q1 = h1 / S;
    let h2 = q1 - K + 1;
    let (x, t) = inputs.split_at(n * w * w);
    let (k1, rest) = params.split_at(C1 * K * K);
    let (b1, rest) = rest.split_at(C1);
    let (k2, rest) = rest.split_at(C2 * C1 * K * K);
    let (b2, rest) = rest.split_at(C2);
    let (w3, b3) = rest.split_at(M * C2 * Q2 * Q2);
    let mut total = 0.0;
    for s in 0..n {
        let mut xp = vec![vec![0.0; hp]; hp];
        for i in 0..w {
            for j in 0..w {
                xp[i + pad][j + pad] = x[(s * w + i) * w + j];
            }
        }
        let z1 = |c: usize, i: usize, j: usize| -> f64 {
            let mut a = 0.0;
            for di in 0..K {
                for dj in 0..K {
                    a += k1[(c * K + di) * K + dj] * xp[i + di][j + dj];
                }
            }
            (a + b1[c]).tanh()
        };
        let window = |f: &dyn Fn(usize, usize) -> f64, i: usize, j: usize| -> f64 {
            let mut best = f64::NEG_INFINITY;
            for di in 0..S {
                for dj in 0..S {
                    best = best.max(f(S * i + di, S * j + dj));
                }
            }
            best
        };
        let mut p1 = vec![vec![vec![0.0; q1]; q1]; C1];
        for (c, p) in p1.iter_mut().enumerate() {
            for (i, row) in p.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = window(&|i, j| z1(c, i, j), i, j);
                }
            }
        }
        let z2 = |d: usize, i: usize, j: usize| -> f64 {
            let mut a = 0.0;
            for (c, p) in p1.iter().enumerate() {
                for di in 0..K {
                    for dj in 0..K {
                        a += k2[((d * C1 + c) * K + di) * K + dj] * p[i + di][j + dj];
                    }
                }
            }
            (a + b2[d]).tanh()
        };
        assert_eq!(h2 / S, Q2);
        let mut p2 = Vec::new();
        for d in 0..C2 {
            for i in 0..Q2 {
                for j in 0..Q2 {
                    p2.push(window(&|i, j| z2(d, i, j), i, j));
                }
            }
        }
        let a3: Vec<f64> = (0..M)
            .map(|m| {
                let row = &w3[m * p2.len()..(m + 1) * p2.len()];
                row.iter().zip(&p2).map(|(w, p)| w * p).sum::<f64>() + b3[m]
            })
            .collect();
        let max = a3.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + a3.iter().map(|a| (a - max).exp()).sum::<f64>().ln();
        let target: f64 = (0..M).map(|m| t[s * M + m] * a3[m]).sum();
        total += lse - target;
    }
    total / n as f64
}

/// `|got - want|` relative to `|want|`, or absolute below `floor`.
fn error(got: f64, want: f64, floor: f64) -> f64 {
    (got - want).abs() / want.abs().max(floor)
}

#[test]
fn the_loss_is_the_naive_evaluation_of_the_formulas() {
    for (n, seed) in [(1, 1), (2, 3), (5, 5), (64, 7)] {
        let inputs = batch(n, H, seed);
        for scale in [0.5, 2.0] {
            let params = params(seed + 10, scale);
            let want = naive_loss(n, H, P, &inputs, &params);
            let got = hand_lenet::loss(n, &inputs, &params);
            assert!(
                error(got, want, 1.0) < 1e-13,
                "n = {n}, scale {scale}: {got} against {want}"
            );
        }
    }
}

#[test]
fn the_padded_network_is_the_unpadded_one_on_an_image_with_a_zero_border() {
    let (n, params) = (2, params(21, 1.0));
    let inputs = batch(n, H, 22);
    let mut bordered = vec![0.0; n * HP * HP];
    for s in 0..n {
        for i in 0..H {
            for j in 0..H {
                bordered[(s * HP + i + P) * HP + j + P] = inputs[(s * H + i) * H + j];
            }
        }
    }
    bordered.extend_from_slice(&inputs[n * H * H..]);
    let padded = hand_lenet::loss(n, &inputs, &params);
    let valid = hand_lenet::valid_loss(n, &bordered, &params);
    assert!(
        error(valid, padded, 1.0) < 1e-13,
        "{valid} against {padded}"
    );
    // And on images whose border is not zero, the formulas without padding.
    let inputs = batch(n, HP, 23);
    let valid = hand_lenet::valid_loss(n, &inputs, &params);
    let naive = naive_loss(n, HP, 0, &inputs, &params);
    assert!(error(valid, naive, 1.0) < 1e-13, "{valid} against {naive}");
}

#[test]
fn the_gradient_is_the_central_differences_of_the_loss() {
    for (n, seed) in [(1, 31), (2, 33), (5, 35)] {
        let inputs = batch(n, H, seed);
        let mut params = params(seed + 1, 1.0);
        let mut grad = vec![7.0; N_PARAMS];
        let loss = hand_lenet::gradient(n, &inputs, &params, &mut grad);
        assert_eq!(loss, hand_lenet::loss(n, &inputs, &params));
        let step = 1e-5;
        let mut worst = (0.0, 0);
        for k in 0..N_PARAMS {
            let v = params[k];
            params[k] = v + step;
            let up = hand_lenet::loss(n, &inputs, &params);
            params[k] = v - step;
            let down = hand_lenet::loss(n, &inputs, &params);
            params[k] = v;
            let want = (up - down) / (2.0 * step);
            // Differences of a loss near 2 carry about 4e-11 of rounding:
            // relative to the value, absolute (to 1e-9) below 1e-3.
            let err = error(grad[k], want, 1e-3);
            if err > worst.0 {
                worst = (err, k);
            }
        }
        let (err, k) = worst;
        assert!(
            err < 1e-6,
            "n = {n}: gradient[{k}] is {} (relative error {err:e})",
            grad[k]
        );
    }
}

/// `lenet.net` without its padding, on 14 × 14 images, for the interpreter.
const VALID: &str = "
dim N = NUMBER
dim H = 14
dim K = 3
dim C1 = 4
dim H1 = H - K + 1
dim S = 2
dim Q1 = H1 / S
dim C2 = 8
dim H2 = Q1 - K + 1
dim Q2 = H2 / S
dim M = 10
input x[N, H, H], t[N, M]
param k1[C1, K, K], b1[C1], k2[C2, C1, K, K], b2[C2], w3[M, C2, Q2, Q2], b3[M]
a1[n, c, i in H1, j in H1] = sum(di, dj, k1[c, di, dj] * x[n, i + di, j + dj]) + b1[c]
z1[n, c, i, j] = tanh(a1[n, c, i, j])
p1[n, c, i in Q1, j in Q1] = max(di in S, dj in S, z1[n, c, S * i + di, S * j + dj])
a2[n, d, i in H2, j in H2] = sum(c, di, dj, k2[d, c, di, dj] * p1[n, c, i + di, j + dj]) + b2[d]
z2[n, d, i, j] = tanh(a2[n, d, i, j])
p2[n, d, i in Q2, j in Q2] = max(di in S, dj in S, z2[n, d, S * i + di, S * j + dj])
a3[n, m] = sum(d, i, j, w3[m, d, i, j] * p2[n, d, i, j]) + b3[m]
lse[n] = logsumexp(m, a3[n, m])
loss E = mean(n, lse[n] - sum(m, t[n, m] * a3[n, m]))
";

/// The loss and gradient (flat, in the layout of the params) of `VALID`
/// with `n` images, by netgrad's interpreter on the unsimplified gradient.
fn interpreted(n: usize, inputs: &[f64], params: &[f64]) -> (f64, Vec<f64>) {
    let text = VALID.replace("NUMBER", &n.to_string());
    let dag = netgrad::front_end(&text).expect("a correct program");
    let g = netgrad::derive(dag, &[], false).expect("every param").0;
    let p = &g.dag.program;
    let (x, t) = inputs.split_at(n * HP * HP);
    let mut flat = params;
    let mut given = vec![None; p.values.len()];
    let id = |name: &str| p.ids().find(|v| p.value(*v).name == name).unwrap();
    given[id("x").index()] = Some(x.to_vec());
    given[id("t").index()] = Some(t.to_vec());
    for name in ["k1", "b1", "k2", "b2", "w3", "b3"] {
        let len = p.value(id(name)).len();
        let (head, tail) = flat.split_at(len);
        given[id(name).index()] = Some(head.to_vec());
        flat = tail;
    }
    assert!(flat.is_empty());
    let data = netgrad::eval::run(p, &given);
    let mut grad = Vec::new();
    for name in ["k1", "b1", "k2", "b2", "w3", "b3"] {
        let (_, adjoint) = g.wrt.iter().find(|(v, _)| *v == id(name)).unwrap();
        grad.extend_from_slice(&data[adjoint.index()]);
    }
    (data[p.loss.index()][0], grad)
}

/// The largest relative error (absolute below 1e-3) of `got` against `want`.
fn worst(got: &[f64], want: &[f64]) -> (f64, usize) {
    assert_eq!(got.len(), want.len());
    (0..got.len())
        .map(|k| (error(got[k], want[k], 1e-3), k))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

#[test]
fn the_unpadded_variant_agrees_with_the_interpreter() {
    for (n, seed) in [(1, 41), (3, 43)] {
        let inputs = batch(n, HP, seed);
        let params = params(seed + 1, 1.0);
        let (want_loss, want) = interpreted(n, &inputs, &params);
        let mut got = vec![7.0; N_PARAMS];
        let loss = hand_lenet::valid_gradient(n, &inputs, &params, &mut got);
        assert!(
            error(loss, want_loss, 1.0) < 1e-12,
            "{loss} against {want_loss}"
        );
        assert_eq!(loss, hand_lenet::valid_loss(n, &inputs, &params));
        let (err, k) = worst(&got, &want);
        assert!(
            err < 1e-10,
            "n = {n}: gradient[{k}] {} against {}",
            got[k],
            want[k]
        );
    }
}

#[test]
fn ties_in_a_pooling_window_go_to_the_first_largest_as_in_the_interpreter() {
    // The first kernels read only their centre, and the images are constant
    // on the 2 × 2 blocks the first pooling's windows read: every window of
    // z1 is four equal values. Which one wins decides the other taps'
    // gradient, since they read different pixels. (The window at output
    // rows 2q, 2q + 1 reads through its centre the pixel rows 2q + 1, 2q + 2:
    // block q + 1 of `r.div_ceil(2)`.)
    let n = 2;
    let block = values(n * 8 * 8, 51);
    let mut inputs = Vec::new();
    for s in 0..n {
        for r in 0..HP {
            for c in 0..HP {
                inputs.push(2.0 * block[(s * 8 + r.div_ceil(2)) * 8 + c.div_ceil(2)]);
            }
        }
    }
    inputs.extend(batch(n, 1, 52).split_off(n));
    let mut params = params(53, 1.0);
    for c in 0..C1 {
        for tap in 0..K * K {
            if tap != K * K / 2 {
                params[c * K * K + tap] = 0.0;
            }
        }
    }
    let (want_loss, want) = interpreted(n, &inputs, &params);
    let mut got = vec![0.0; N_PARAMS];
    let loss = hand_lenet::valid_gradient(n, &inputs, &params, &mut got);
    assert!(
        error(loss, want_loss, 1.0) < 1e-12,
        "{loss} against {want_loss}"
    );
    let (err, k) = worst(&got, &want);
    assert!(err < 1e-10, "gradient[{k}] {} against {}", got[k], want[k]);
    // The other taps' gradients are not zero, so a last-largest rule
    // (reading other pixels) would differ.
    assert!(got[..C1 * K * K].iter().filter(|g| **g != 0.0).count() > C1);
}
