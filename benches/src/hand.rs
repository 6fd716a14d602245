//! Hand-written references for the benchmarks: the loss and gradient of
//! `mlp_mnist.net` (one sample) and `mlp_mnist_batch.net` (64 samples),
//! written as a competent engineer would without BLAS: stride-1 inner loops,
//! dot products with 8 independent accumulators, back-propagation through a
//! transposed matrix in scatter form (whole rows scaled and added), loop
//! orders that keep the reused row in L1. The flat layouts are those of the
//! generated modules (inputs `x, t`; params `w1, b1, w2, b2`, row-major), and
//! `benches/tests/hand.rs` checks both against the generated code.

/// 784 pixels.
pub const D: usize = 784;
/// 128 hidden units.
pub const H: usize = 128;
/// 10 classes.
pub const K: usize = 10;
/// 64 samples per batch.
pub const N: usize = 64;

/// `Σ a[i] b[i]` with 8 independent accumulators (vectorisable without
/// fast-math), the remainder added last.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut rest = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        rest += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest
}

/// `y += s x`, elementwise (no reduction: vectorises as is).
#[inline]
pub fn axpy(y: &mut [f64], s: f64, x: &[f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += s * x;
    }
}

/// `logsumexp(a) - Σ t a` and, in `d` when given, its gradient
/// `softmax(a) - t` scaled by `scale`.
fn cross_entropy(a: &[f64], t: &[f64], d: Option<(&mut [f64], f64)>) -> f64 {
    let max = a.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let sum: f64 = a.iter().map(|x| (x - max).exp()).sum();
    let lse = max + sum.ln();
    if let Some((d, scale)) = d {
        for ((d, a), t) in d.iter_mut().zip(a).zip(t) {
            *d = scale * ((a - lse).exp() - t);
        }
    }
    lse - dot(t, a)
}

/// The parameters, split: `w1, b1, w2, b2`.
fn split(params: &[f64]) -> (&[f64], &[f64], &[f64], &[f64]) {
    let (w1, rest) = params.split_at(H * D);
    let (b1, rest) = rest.split_at(H);
    let (w2, b2) = rest.split_at(K * H);
    (w1, b1, w2, b2)
}

/// The gradient slices, split as the parameters.
fn split_mut(grad: &mut [f64]) -> (&mut [f64], &mut [f64], &mut [f64], &mut [f64]) {
    let (w1, rest) = grad.split_at_mut(H * D);
    let (b1, rest) = rest.split_at_mut(H);
    let (w2, b2) = rest.split_at_mut(K * H);
    (w1, b1, w2, b2)
}

/// One sample's forward pass: `z1 = tanh(w1 x + b1)`, `a2 = w2 z1 + b2`.
fn forward_one(x: &[f64], params: &[f64], z1: &mut [f64], a2: &mut [f64]) {
    let (w1, b1, w2, b2) = split(params);
    for j in 0..H {
        z1[j] = (dot(&w1[j * D..(j + 1) * D], x) + b1[j]).tanh();
    }
    for k in 0..K {
        a2[k] = dot(&w2[k * H..(k + 1) * H], z1) + b2[k];
    }
}

/// The loss of `mlp_mnist.net`: `inputs` is `x[784], t[10]`.
pub fn mlp_mnist_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t) = inputs.split_at(D);
    let (mut z1, mut a2) = ([0.0; H], [0.0; K]);
    forward_one(x, params, &mut z1, &mut a2);
    cross_entropy(&a2, t, None)
}

/// The loss of `mlp_mnist.net` and its gradient, in the layout of `params`.
pub fn mlp_mnist_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t) = inputs.split_at(D);
    let (_, _, w2, _) = split(params);
    let (mut z1, mut a2) = ([0.0; H], [0.0; K]);
    forward_one(x, params, &mut z1, &mut a2);
    let (g_w1, g_b1, g_w2, g_b2) = split_mut(grad);
    let loss = cross_entropy(&a2, t, Some((g_b2, 1.0)));
    // dE/dz1 = w2ᵀ dE/da2, as a sum of rows of w2.
    let mut d_z1 = [0.0; H];
    for k in 0..K {
        axpy(&mut d_z1, g_b2[k], &w2[k * H..(k + 1) * H]);
        for (g, z) in g_w2[k * H..(k + 1) * H].iter_mut().zip(&z1) {
            *g = g_b2[k] * z;
        }
    }
    for j in 0..H {
        let d_a1 = d_z1[j] * (1.0 - z1[j] * z1[j]);
        g_b1[j] = d_a1;
        for (g, x) in g_w1[j * D..(j + 1) * D].iter_mut().zip(x) {
            *g = d_a1 * x;
        }
    }
    loss
}

/// The batch's forward pass: `z1[n] = tanh(w1 x[n] + b1)`, `a2[n] = w2 z1[n] + b2`.
/// Each row of `w1` is kept in L1 while the 64 samples stream past it.
fn forward_batch(x: &[f64], params: &[f64], z1: &mut [f64], a2: &mut [f64]) {
    let (w1, b1, w2, b2) = split(params);
    for j in 0..H {
        let row = &w1[j * D..(j + 1) * D];
        for n in 0..N {
            z1[n * H + j] = (dot(row, &x[n * D..(n + 1) * D]) + b1[j]).tanh();
        }
    }
    for n in 0..N {
        let z = &z1[n * H..(n + 1) * H];
        for k in 0..K {
            a2[n * K + k] = dot(&w2[k * H..(k + 1) * H], z) + b2[k];
        }
    }
}

/// The loss of `mlp_mnist_batch.net`: `inputs` is `x[64, 784], t[64, 10]`.
pub fn mlp_mnist_batch_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t) = inputs.split_at(N * D);
    let mut z1 = vec![0.0; N * H];
    let mut a2 = [0.0; N * K];
    forward_batch(x, params, &mut z1, &mut a2);
    let mut sum = 0.0;
    for n in 0..N {
        sum += cross_entropy(&a2[n * K..(n + 1) * K], &t[n * K..(n + 1) * K], None);
    }
    sum / N as f64
}

/// The loss of `mlp_mnist_batch.net` and its gradient, in the layout of `params`.
pub fn mlp_mnist_batch_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t) = inputs.split_at(N * D);
    let (_, _, w2, _) = split(params);
    let mut z1 = vec![0.0; N * H];
    let mut a2 = [0.0; N * K];
    forward_batch(x, params, &mut z1, &mut a2);
    let mut d_a2 = [0.0; N * K];
    let mut sum = 0.0;
    let scale = 1.0 / N as f64;
    for n in 0..N {
        let d = Some((&mut d_a2[n * K..(n + 1) * K], scale));
        sum += cross_entropy(&a2[n * K..(n + 1) * K], &t[n * K..(n + 1) * K], d);
    }
    let (g_w1, g_b1, g_w2, g_b2) = split_mut(grad);
    g_b2.fill(0.0);
    g_w2.fill(0.0);
    g_b1.fill(0.0);
    // dE/da1 = (δ2 w2) ⊙ (1 - z1²), row by row; dE/dw2 += δ2[n]ᵀ z1[n].
    let mut d_a1 = vec![0.0; N * H];
    for n in 0..N {
        let row = &mut d_a1[n * H..(n + 1) * H];
        let z = &z1[n * H..(n + 1) * H];
        for k in 0..K {
            let d = d_a2[n * K + k];
            g_b2[k] += d;
            axpy(row, d, &w2[k * H..(k + 1) * H]);
            axpy(&mut g_w2[k * H..(k + 1) * H], d, z);
        }
        for (d, z) in row.iter_mut().zip(z) {
            *d *= 1.0 - z * z;
        }
        axpy(g_b1, 1.0, row);
    }
    // dE/dw1 = δ1ᵀ x: row j of the gradient stays in L1 while x streams.
    for j in 0..H {
        let g = &mut g_w1[j * D..(j + 1) * D];
        g.fill(0.0);
        for n in 0..N {
            axpy(g, d_a1[n * H + j], &x[n * D..(n + 1) * D]);
        }
    }
    sum / N as f64
}
