//! Hand-written references for the small examples: the loss and gradient of
//! `bishop`, `xor`, `fanout`, `softmax_regression`, `tied_autoencoder`,
//! `weight_decay`, `batch_mlp`, `maxpool` and `conv1d`, written as a
//! competent engineer would for these fixed sizes: the flat slices checked
//! once and split into fixed-size arrays (so every index is in bounds by
//! construction and every loop has a
//! constant trip count the compiler can unroll), intermediates on the stack,
//! one forward pass whose values the backward pass reuses, and the textbook
//! simplifications of the backward pass (`dE/da = y - t` for a sigmoid with
//! cross-entropy, `softmax - t` for logsumexp, `1 - z²` for tanh).
//!
//! The flat layouts are those of the generated modules (`netgrad_benches::NAME`):
//! inputs, then params, each in declaration order and row-major.
//! `benches/tests/hand.rs` checks every function against the generated code.

/// Splits the first `N` values off `rest` as an array.
///
/// # Panics
///
/// If `rest` holds fewer than `N` values.
#[inline]
fn take<'a, const N: usize>(rest: &mut &'a [f64]) -> &'a [f64; N] {
    let (head, tail) = rest.split_first_chunk::<N>().expect("a slice long enough");
    *rest = tail;
    head
}

/// Splits the first `N` values off `rest` as a mutable array.
///
/// # Panics
///
/// If `rest` holds fewer than `N` values.
#[inline]
fn take_mut<'a, const N: usize>(rest: &mut &'a mut [f64]) -> &'a mut [f64; N] {
    let (head, tail) = std::mem::take(rest)
        .split_first_chunk_mut::<N>()
        .expect("a slice long enough");
    *rest = tail;
    head
}

/// The logistic sigmoid `1 / (1 + e^-a)` (no overflow trouble in f64: a large
/// `-a` gives `e^-a = inf` and the result 0).
#[inline]
fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// `bishop.net` (3-4-2, tanh hidden units, sum-of-squares error): the flat
/// inputs `x[3], t[2]` and params `w1[4, 3], b1[4], w2[2, 4], b2[2]`, split.
#[allow(clippy::type_complexity)]
fn bishop_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (
    &'a [f64; 3],
    &'a [f64; 2],
    &'a [f64; 12],
    &'a [f64; 4],
    &'a [f64; 8],
    &'a [f64; 2],
) {
    assert_eq!(inputs.len(), 5, "bishop: 5 inputs");
    assert_eq!(params.len(), 26, "bishop: 26 params");
    let (mut i, mut p) = (inputs, params);
    (
        take(&mut i),
        take(&mut i),
        take(&mut p),
        take(&mut p),
        take(&mut p),
        take(&mut p),
    )
}

/// `bishop.net`'s forward pass: the hidden activations `z1 = tanh(w1 x + b1)`
/// and the output errors `y - t`, where `y = w2 z1 + b2`.
#[inline]
fn bishop_forward(
    x: &[f64; 3],
    t: &[f64; 2],
    w1: &[f64; 12],
    b1: &[f64; 4],
    w2: &[f64; 8],
    b2: &[f64; 2],
) -> ([f64; 4], [f64; 2]) {
    let mut z1 = [0.0; 4];
    for j in 0..4 {
        let a = w1[j * 3] * x[0] + w1[j * 3 + 1] * x[1] + w1[j * 3 + 2] * x[2];
        z1[j] = (a + b1[j]).tanh();
    }
    let mut e = [0.0; 2];
    for k in 0..2 {
        let mut y = 0.0;
        for j in 0..4 {
            y += w2[k * 4 + j] * z1[j];
        }
        e[k] = y + b2[k] - t[k];
    }
    (z1, e)
}

/// The loss of `bishop.net`, `E = ½ Σ_k (y_k - t_k)²`.
pub fn bishop_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, w1, b1, w2, b2) = bishop_split(inputs, params);
    let (_, e) = bishop_forward(x, t, w1, b1, w2, b2);
    0.5 * (e[0] * e[0] + e[1] * e[1])
}

/// The loss of `bishop.net` and its gradient, in the layout of `params`, by
/// back-propagation (PRML 5.56): `δ_k = y_k - t_k`,
/// `δ_j = (1 - z_j²) Σ_k w2[k, j] δ_k`, `dE/dw1[j, i] = δ_j x_i`.
pub fn bishop_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t, w1, b1, w2, b2) = bishop_split(inputs, params);
    assert_eq!(grad.len(), 26, "bishop: 26 gradient values");
    let (z1, e) = bishop_forward(x, t, w1, b1, w2, b2);
    let mut g = grad;
    let (g_w1, g_b1) = (take_mut::<12>(&mut g), take_mut::<4>(&mut g));
    let (g_w2, g_b2) = (take_mut::<8>(&mut g), take_mut::<2>(&mut g));
    *g_b2 = e;
    for j in 0..4 {
        g_w2[j] = e[0] * z1[j];
        g_w2[4 + j] = e[1] * z1[j];
        let d = (e[0] * w2[j] + e[1] * w2[4 + j]) * (1.0 - z1[j] * z1[j]);
        g_b1[j] = d;
        for i in 0..3 {
            g_w1[j * 3 + i] = d * x[i];
        }
    }
    0.5 * (e[0] * e[0] + e[1] * e[1])
}

/// `xor.net` (2-2-1, sigmoid units, cross-entropy over the 4 points): the flat
/// inputs `x[4, 2], t[4]` and params `w1[2, 2], b1[2], w2[2], b2`, split.
#[allow(clippy::type_complexity)]
fn xor_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (
    &'a [f64; 8],
    &'a [f64; 4],
    &'a [f64; 4],
    &'a [f64; 2],
    &'a [f64; 2],
    f64,
) {
    assert_eq!(inputs.len(), 12, "xor: 12 inputs");
    assert_eq!(params.len(), 9, "xor: 9 params");
    let (mut i, mut p) = (inputs, params);
    let (x, t) = (take(&mut i), take(&mut i));
    let (w1, b1, w2) = (take(&mut p), take(&mut p), take(&mut p));
    (x, t, w1, b1, w2, p[0])
}

/// `xor.net`'s forward pass, layer by layer over the 4 points (so that the
/// independent exponentials of a layer overlap): the hidden units `h[n]` and
/// the outputs `y[n]`.
#[inline]
fn xor_forward(
    x: &[f64; 8],
    w1: &[f64; 4],
    b1: &[f64; 2],
    w2: &[f64; 2],
    b2: f64,
) -> ([[f64; 2]; 4], [f64; 4]) {
    let mut h = [[0.0; 2]; 4];
    for n in 0..4 {
        for j in 0..2 {
            h[n][j] = sigmoid(w1[j * 2] * x[n * 2] + w1[j * 2 + 1] * x[n * 2 + 1] + b1[j]);
        }
    }
    let mut y = [0.0; 4];
    for n in 0..4 {
        y[n] = sigmoid(w2[0] * h[n][0] + w2[1] * h[n][1] + b2);
    }
    (h, y)
}

/// `xor.net`'s cross-entropy, `-Σ_n t_n ln y_n + (1 - t_n) ln(1 - y_n)`.
#[inline]
fn xor_error(y: &[f64; 4], t: &[f64; 4]) -> f64 {
    let mut sum = 0.0;
    for n in 0..4 {
        sum += t[n] * y[n].ln() + (1.0 - t[n]) * (1.0 - y[n]).ln();
    }
    -sum
}

/// The loss of `xor.net`, `E = -Σ_n t_n ln y_n + (1 - t_n) ln(1 - y_n)`.
pub fn xor_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, w1, b1, w2, b2) = xor_split(inputs, params);
    let (_, y) = xor_forward(x, w1, b1, w2, b2);
    xor_error(&y, t)
}

/// The loss of `xor.net` and its gradient, in the layout of `params`: for a
/// sigmoid output with cross-entropy `dE/da = y - t`; the hidden deltas are
/// `δ_j = h_j (1 - h_j) w2_j δ`, and every param's gradient sums over the points.
pub fn xor_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t, w1, b1, w2, b2) = xor_split(inputs, params);
    assert_eq!(grad.len(), 9, "xor: 9 gradient values");
    let (h, y) = xor_forward(x, w1, b1, w2, b2);
    let (mut g_w1, mut g_b1, mut g_w2, mut g_b2) = ([0.0; 4], [0.0; 2], [0.0; 2], 0.0);
    for n in 0..4 {
        let d = y[n] - t[n];
        g_b2 += d;
        for j in 0..2 {
            g_w2[j] += d * h[n][j];
            let dh = d * w2[j] * h[n][j] * (1.0 - h[n][j]);
            g_b1[j] += dh;
            g_w1[j * 2] += dh * x[n * 2];
            g_w1[j * 2 + 1] += dh * x[n * 2 + 1];
        }
    }
    grad[0..4].copy_from_slice(&g_w1);
    grad[4..6].copy_from_slice(&g_b1);
    grad[6..8].copy_from_slice(&g_w2);
    grad[8] = g_b2;
    xor_error(&y, t)
}

/// `fanout.net`'s input `x` and param `w`, from their one-value slices.
fn fanout_split(inputs: &[f64], params: &[f64]) -> (f64, f64) {
    let [x] = *<&[f64; 1]>::try_from(inputs).expect("fanout: 1 input");
    let [w] = *<&[f64; 1]>::try_from(params).expect("fanout: 1 param");
    (x, w)
}

/// The loss of `fanout.net`, `E = h² + sin h` with `h = tanh(w x)`: `inputs`
/// is `x`, `params` is `w`.
pub fn fanout_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, w) = fanout_split(inputs, params);
    let h = (w * x).tanh();
    h * h + h.sin()
}

/// The loss of `fanout.net` and its gradient `dE/dw = (2h + cos h)(1 - h²) x`.
pub fn fanout_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, w) = fanout_split(inputs, params);
    let g = <&mut [f64; 1]>::try_from(grad).expect("fanout: 1 gradient value");
    let h = (w * x).tanh();
    let (sin, cos) = h.sin_cos();
    g[0] = (2.0 * h + cos) * (1.0 - h * h) * x;
    h * h + sin
}

/// `softmax_regression.net` (4 features, 3 classes): the flat inputs
/// `x[4], t[3]` and params `W[3, 4], b[3]`, split.
#[allow(clippy::type_complexity)]
fn softmax_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (&'a [f64; 4], &'a [f64; 3], &'a [f64; 12], &'a [f64; 3]) {
    assert_eq!(inputs.len(), 7, "softmax_regression: 7 inputs");
    assert_eq!(params.len(), 15, "softmax_regression: 15 params");
    let (mut i, mut p) = (inputs, params);
    (take(&mut i), take(&mut i), take(&mut p), take(&mut p))
}

/// The activations `a = W x + b` of `softmax_regression.net`.
#[inline]
fn softmax_activations(x: &[f64; 4], w: &[f64; 12], b: &[f64; 3]) -> [f64; 3] {
    let mut a = [0.0; 3];
    for k in 0..3 {
        let r = &w[k * 4..k * 4 + 4];
        a[k] = r[0] * x[0] + r[1] * x[1] + r[2] * x[2] + r[3] * x[3] + b[k];
    }
    a
}

/// The largest of three values.
#[inline]
fn max3(a: &[f64; 3]) -> f64 {
    a[0].max(a[1]).max(a[2])
}

/// The loss of `softmax_regression.net`, `E = logsumexp(a) - Σ_k t_k a_k`,
/// with the max shifted out of the exponentials.
pub fn softmax_regression_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, w, b) = softmax_split(inputs, params);
    let a = softmax_activations(x, w, b);
    let m = max3(&a);
    let sum = (a[0] - m).exp() + (a[1] - m).exp() + (a[2] - m).exp();
    m + sum.ln() - (t[0] * a[0] + t[1] * a[1] + t[2] * a[2])
}

/// The loss of `softmax_regression.net` and its gradient: `dE/da = p - t`
/// with `p = softmax(a)` from the exponentials the loss computed,
/// `dE/dW[k, d] = (p_k - t_k) x_d`.
pub fn softmax_regression_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t, w, b) = softmax_split(inputs, params);
    assert_eq!(grad.len(), 15, "softmax_regression: 15 gradient values");
    let a = softmax_activations(x, w, b);
    let m = max3(&a);
    let e = [(a[0] - m).exp(), (a[1] - m).exp(), (a[2] - m).exp()];
    let sum = e[0] + e[1] + e[2];
    let inv = 1.0 / sum;
    let mut g = grad;
    let (g_w, g_b) = (take_mut::<12>(&mut g), take_mut::<3>(&mut g));
    for k in 0..3 {
        let d = e[k] * inv - t[k];
        g_b[k] = d;
        for i in 0..4 {
            g_w[k * 4 + i] = d * x[i];
        }
    }
    m + sum.ln() - (t[0] * a[0] + t[1] * a[1] + t[2] * a[2])
}

/// `tied_autoencoder.net` (6 inputs, 3 code units): the flat inputs `x[6]`
/// and params `W[3, 6], b[3], c[6]`, split.
#[allow(clippy::type_complexity)]
fn tied_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (&'a [f64; 6], &'a [f64; 18], &'a [f64; 3], &'a [f64; 6]) {
    assert_eq!(params.len(), 27, "tied_autoencoder: 27 params");
    let x = <&[f64; 6]>::try_from(inputs).expect("tied_autoencoder: 6 inputs");
    let mut p = params;
    (x, take(&mut p), take(&mut p), take(&mut p))
}

/// `tied_autoencoder.net`'s forward pass: the code `h = σ(W x + b)` and the
/// reconstruction errors `r - x`, where `r = Wᵀ h + c`.
#[inline]
fn tied_forward(x: &[f64; 6], w: &[f64; 18], b: &[f64; 3], c: &[f64; 6]) -> ([f64; 3], [f64; 6]) {
    let mut h = [0.0; 3];
    for j in 0..3 {
        let mut a = b[j];
        for i in 0..6 {
            a += w[j * 6 + i] * x[i];
        }
        h[j] = sigmoid(a);
    }
    let mut e = [0.0; 6];
    for i in 0..6 {
        e[i] = w[i] * h[0] + w[6 + i] * h[1] + w[12 + i] * h[2] + c[i] - x[i];
    }
    (h, e)
}

/// `½ Σ e²` of six values.
#[inline]
fn half_sum_of_squares(e: &[f64; 6]) -> f64 {
    0.5 * e.iter().map(|e| e * e).sum::<f64>()
}

/// The loss of `tied_autoencoder.net`, `E = ½ Σ_i (r_i - x_i)²`.
pub fn tied_autoencoder_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, w, b, c) = tied_split(inputs, params);
    let (_, e) = tied_forward(x, w, b, c);
    half_sum_of_squares(&e)
}

/// The loss of `tied_autoencoder.net` and its gradient: with the errors
/// `e = r - x`, `dE/dc = e`, `δ_j = h_j (1 - h_j) Σ_i W[j, i] e_i`,
/// `dE/db = δ`, and `dE/dW[j, i] = δ_j x_i + e_i h_j` (encoder plus decoder).
pub fn tied_autoencoder_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, w, b, c) = tied_split(inputs, params);
    assert_eq!(grad.len(), 27, "tied_autoencoder: 27 gradient values");
    let (h, e) = tied_forward(x, w, b, c);
    let mut g = grad;
    let (g_w, g_b, g_c) = (
        take_mut::<18>(&mut g),
        take_mut::<3>(&mut g),
        take_mut::<6>(&mut g),
    );
    *g_c = e;
    for j in 0..3 {
        let mut dh = 0.0;
        for i in 0..6 {
            dh += w[j * 6 + i] * e[i];
        }
        let d = dh * h[j] * (1.0 - h[j]);
        g_b[j] = d;
        for i in 0..6 {
            g_w[j * 6 + i] = d * x[i] + e[i] * h[j];
        }
    }
    half_sum_of_squares(&e)
}

/// The decay rate `lambda` of `weight_decay.net`.
const LAMBDA: f64 = 0.01;

/// `weight_decay.net` (3 inputs, 2 outputs, linear): the flat inputs
/// `x[3], t[2]` and params `W[2, 3], b[2]`, split.
#[allow(clippy::type_complexity)]
fn decay_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (&'a [f64; 3], &'a [f64; 2], &'a [f64; 6], &'a [f64; 2]) {
    assert_eq!(inputs.len(), 5, "weight_decay: 5 inputs");
    assert_eq!(params.len(), 8, "weight_decay: 8 params");
    let (mut i, mut p) = (inputs, params);
    (take(&mut i), take(&mut i), take(&mut p), take(&mut p))
}

/// `weight_decay.net`'s errors `y - t` with `y = W x + b`, and its loss.
#[inline]
fn decay_forward(x: &[f64; 3], t: &[f64; 2], w: &[f64; 6], b: &[f64; 2]) -> ([f64; 2], f64) {
    let mut e = [0.0; 2];
    for k in 0..2 {
        e[k] = w[k * 3] * x[0] + w[k * 3 + 1] * x[1] + w[k * 3 + 2] * x[2] + b[k] - t[k];
    }
    let decay: f64 = w.iter().map(|w| w * w).sum();
    (e, 0.5 * (e[0] * e[0] + e[1] * e[1]) + 0.5 * LAMBDA * decay)
}

/// The loss of `weight_decay.net`, `E = ½ Σ_k (y_k - t_k)² + ½ λ Σ W²`.
pub fn weight_decay_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, w, b) = decay_split(inputs, params);
    decay_forward(x, t, w, b).1
}

/// The loss of `weight_decay.net` and its gradient:
/// `dE/dW[k, i] = (y_k - t_k) x_i + λ W[k, i]`, `dE/db = y - t`.
pub fn weight_decay_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    let (x, t, w, b) = decay_split(inputs, params);
    assert_eq!(grad.len(), 8, "weight_decay: 8 gradient values");
    let (e, loss) = decay_forward(x, t, w, b);
    let mut g = grad;
    let (g_w, g_b) = (take_mut::<6>(&mut g), take_mut::<2>(&mut g));
    for k in 0..2 {
        g_b[k] = e[k];
        for i in 0..3 {
            g_w[k * 3 + i] = e[k] * x[i] + LAMBDA * w[k * 3 + i];
        }
    }
    loss
}

/// `batch_mlp.net`'s sizes: 8 samples of 3 inputs, 5 tanh units, 2 outputs.
mod batch {
    /// Samples.
    pub const N: usize = 8;
    /// Inputs per sample.
    pub const D: usize = 3;
    /// Hidden units.
    pub const H: usize = 5;
    /// Outputs.
    pub const K: usize = 2;
}

/// `batch_mlp.net`: the flat inputs `x[8, 3], t[8, 2]` and params
/// `w1[5, 3], b1[5], w2[2, 5], b2[2]`, split.
#[allow(clippy::type_complexity)]
fn batch_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (
    &'a [f64; 24],
    &'a [f64; 16],
    &'a [f64; 15],
    &'a [f64; 5],
    &'a [f64; 10],
    &'a [f64; 2],
) {
    assert_eq!(inputs.len(), 40, "batch_mlp: 40 inputs");
    assert_eq!(params.len(), 32, "batch_mlp: 32 params");
    let (mut i, mut p) = (inputs, params);
    (
        take(&mut i),
        take(&mut i),
        take(&mut p),
        take(&mut p),
        take(&mut p),
        take(&mut p),
    )
}

/// `batch_mlp.net`'s forward pass for sample `n`: the hidden activations
/// `z = tanh(w1 x_n + b1)` and the errors `y - t_n`, where `y = w2 z + b2`.
#[inline]
fn batch_sample(
    x: &[f64; 24],
    t: &[f64; 16],
    n: usize,
    w1: &[f64; 15],
    b1: &[f64; 5],
    w2: &[f64; 10],
    b2: &[f64; 2],
) -> ([f64; batch::H], [f64; batch::K]) {
    use batch::{D, H, K};
    let xn = &x[n * D..n * D + D];
    let mut z = [0.0; H];
    for j in 0..H {
        let a = w1[j * D] * xn[0] + w1[j * D + 1] * xn[1] + w1[j * D + 2] * xn[2];
        z[j] = (a + b1[j]).tanh();
    }
    let mut e = [0.0; K];
    for k in 0..K {
        let mut y = b2[k];
        for j in 0..H {
            y += w2[k * H + j] * z[j];
        }
        e[k] = y - t[n * K + k];
    }
    (z, e)
}

/// The loss of `batch_mlp.net`, `E = (1/N) Σ_n ½ Σ_k (y[n, k] - t[n, k])²`.
pub fn batch_mlp_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, w1, b1, w2, b2) = batch_split(inputs, params);
    let mut sum = 0.0;
    for n in 0..batch::N {
        let (_, e) = batch_sample(x, t, n, w1, b1, w2, b2);
        sum += e[0] * e[0] + e[1] * e[1];
    }
    0.5 / batch::N as f64 * sum
}

/// The loss of `batch_mlp.net` and its gradient, one sample at a time: the
/// output deltas `δ = (y - t) / N`, the hidden deltas
/// `δ_j = (1 - z_j²) Σ_k w2[k, j] δ_k`, each param's gradient summed over the
/// samples in a stack array and written once.
pub fn batch_mlp_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    use batch::{D, H, K, N};
    let (x, t, w1, b1, w2, b2) = batch_split(inputs, params);
    assert_eq!(grad.len(), 32, "batch_mlp: 32 gradient values");
    let (mut g_w1, mut g_b1) = ([0.0; H * D], [0.0; H]);
    let (mut g_w2, mut g_b2) = ([0.0; K * H], [0.0; K]);
    let mut sum = 0.0;
    let scale = 1.0 / N as f64;
    for n in 0..N {
        let (z, e) = batch_sample(x, t, n, w1, b1, w2, b2);
        sum += e[0] * e[0] + e[1] * e[1];
        let d = [e[0] * scale, e[1] * scale];
        g_b2[0] += d[0];
        g_b2[1] += d[1];
        for j in 0..H {
            g_w2[j] += d[0] * z[j];
            g_w2[H + j] += d[1] * z[j];
            let dj = (d[0] * w2[j] + d[1] * w2[H + j]) * (1.0 - z[j] * z[j]);
            g_b1[j] += dj;
            for i in 0..D {
                g_w1[j * D + i] += dj * x[n * D + i];
            }
        }
    }
    grad[0..15].copy_from_slice(&g_w1);
    grad[15..20].copy_from_slice(&g_b1);
    grad[20..30].copy_from_slice(&g_w2);
    grad[30..32].copy_from_slice(&g_b2);
    0.5 * scale * sum
}

/// `maxpool.net`'s sizes: 2 samples, 2 channels of 3 windows of 2 elements,
/// 2 outputs.
mod pool {
    /// Samples.
    pub const N: usize = 2;
    /// Channels.
    pub const C: usize = 2;
    /// Windows per channel.
    pub const P: usize = 3;
    /// Elements per window.
    pub const W: usize = 2;
    /// Outputs.
    pub const K: usize = 2;
    /// Windows of one sample.
    pub const CP: usize = C * P;
    /// Elements of one sample.
    pub const CPW: usize = C * P * W;
}

/// The weight of the spread penalty of `maxpool.net`.
const SPREAD: f64 = 0.1;

/// `maxpool.net`: the flat inputs `x[2, 2, 3, 2], t[2, 2]` and params
/// `v[2, 3, 2], u[2, 2, 3], b[2]`, split.
#[allow(clippy::type_complexity)]
fn pool_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (
    &'a [f64; 24],
    &'a [f64; 4],
    &'a [f64; 12],
    &'a [f64; 12],
    &'a [f64; 2],
) {
    assert_eq!(inputs.len(), 28, "maxpool: 28 inputs");
    assert_eq!(params.len(), 26, "maxpool: 26 params");
    let (mut i, mut p) = (inputs, params);
    (
        take(&mut i),
        take(&mut i),
        take(&mut p),
        take(&mut p),
        take(&mut p),
    )
}

/// The forward pass of `maxpool.net` that the backward pass reuses.
struct Pooled {
    /// `h = tanh(v x)`, per sample and element.
    h: [f64; pool::N * pool::CPW],
    /// The pooled values and the window element that won each (the first
    /// largest).
    m: [f64; pool::N * pool::CP],
    arg: [usize; pool::N * pool::CP],
    /// `2 (y - t)`, per sample and output.
    e: [f64; pool::N * pool::K],
    /// The first positions of the largest and smallest weight of `v`, and
    /// `max - min`.
    hi: usize,
    lo: usize,
    spread: f64,
    loss: f64,
}

/// `maxpool.net`'s forward pass.
fn pool_forward(x: &[f64; 24], t: &[f64; 4], v: &[f64; 12], u: &[f64; 12], b: &[f64; 2]) -> Pooled {
    use pool::{CP, CPW, K, N, W};
    let mut h = [0.0; N * CPW];
    let mut m = [0.0; N * CP];
    let mut arg = [0; N * CP];
    for n in 0..N {
        for q in 0..CP {
            let at = n * CPW + q * W;
            for w in 0..W {
                h[at + w] = (v[q * W + w] * x[at + w]).tanh();
            }
            let (mut best, mut pos) = (h[at], 0);
            for w in 1..W {
                if h[at + w] > best {
                    (best, pos) = (h[at + w], w);
                }
            }
            m[n * CP + q] = best;
            arg[n * CP + q] = pos;
        }
    }
    let mut e = [0.0; N * K];
    let mut loss = 0.0;
    for n in 0..N {
        for k in 0..K {
            let y = b[k]
                + u[k * CP..k * CP + CP]
                    .iter()
                    .zip(&m[n * CP..n * CP + CP])
                    .map(|(u, m)| u * m)
                    .sum::<f64>();
            let d = y - t[n * K + k];
            e[n * K + k] = 2.0 * d;
            loss += d * d;
        }
    }
    let (mut hi, mut lo) = (0, 0);
    for i in 1..v.len() {
        if v[i] > v[hi] {
            hi = i;
        }
        if v[i] < v[lo] {
            lo = i;
        }
    }
    let spread = v[hi] - v[lo];
    Pooled {
        h,
        m,
        arg,
        e,
        hi,
        lo,
        spread,
        loss: loss + SPREAD * spread * spread,
    }
}

/// The loss of `maxpool.net`: tanh, max pooling over each window, a dense
/// layer, squared error, and `0.1 (max v - min v)²`.
pub fn maxpool_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, v, u, b) = pool_split(inputs, params);
    pool_forward(x, t, v, u, b).loss
}

/// The loss of `maxpool.net` and its gradient: each window's adjoint goes
/// to the element that won it only, through `1 - h²`; the penalty's to the
/// largest and the smallest weight.
pub fn maxpool_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    use pool::{CP, CPW, K, N, W};
    let (x, t, v, u, b) = pool_split(inputs, params);
    assert_eq!(grad.len(), 26, "maxpool: 26 gradient values");
    let f = pool_forward(x, t, v, u, b);
    let mut g = grad;
    let (g_v, g_u, g_b) = (
        take_mut::<12>(&mut g),
        take_mut::<12>(&mut g),
        take_mut::<2>(&mut g),
    );
    g_v.fill(0.0);
    g_u.fill(0.0);
    g_b.fill(0.0);
    for n in 0..N {
        for k in 0..K {
            let e = f.e[n * K + k];
            g_b[k] += e;
            for q in 0..CP {
                g_u[k * CP + q] += e * f.m[n * CP + q];
            }
        }
        for q in 0..CP {
            let dm: f64 = (0..K).map(|k| f.e[n * K + k] * u[k * CP + q]).sum();
            let w = f.arg[n * CP + q];
            let at = n * CPW + q * W + w;
            let h = f.h[at];
            g_v[q * W + w] += dm * (1.0 - h * h) * x[at];
        }
    }
    g_v[f.hi] += 2.0 * SPREAD * f.spread;
    g_v[f.lo] -= 2.0 * SPREAD * f.spread;
    f.loss
}

/// The sizes of `conv1d.net`.
mod conv {
    /// Channels, signal length, filters, taps, stride, output positions.
    pub const C: usize = 2;
    pub const L: usize = 11;
    pub const K: usize = 3;
    pub const W: usize = 3;
    pub const S: usize = 2;
    pub const O: usize = (L - W) / S + 1;
}

/// `conv1d.net`: the flat inputs `x[2, 11], t[3, 5]` and params
/// `g[2], f[3, 2, 3], b[3]`, split.
#[allow(clippy::type_complexity)]
fn conv_split<'a>(
    inputs: &'a [f64],
    params: &'a [f64],
) -> (
    &'a [f64; 22],
    &'a [f64; 15],
    &'a [f64; 2],
    &'a [f64; 18],
    &'a [f64; 3],
) {
    assert_eq!(inputs.len(), 37, "conv1d: 37 inputs");
    assert_eq!(params.len(), 23, "conv1d: 23 params");
    let (mut i, mut p) = (inputs, params);
    (
        take(&mut i),
        take(&mut i),
        take(&mut p),
        take(&mut p),
        take(&mut p),
    )
}

/// `conv1d.net`'s forward pass: the scaled signal `z`, the outputs `h`
/// and the loss.
#[inline]
fn conv_forward(
    x: &[f64; 22],
    t: &[f64; 15],
    g: &[f64; 2],
    f: &[f64; 18],
    b: &[f64; 3],
) -> ([f64; 22], [f64; 15], f64) {
    use conv::{C, K, L, O, S, W};
    let mut z = [0.0; C * L];
    for c in 0..C {
        for l in 0..L {
            z[c * L + l] = g[c] * x[c * L + l];
        }
    }
    let mut h = [0.0; K * O];
    let mut loss = 0.0;
    for k in 0..K {
        for o in 0..O {
            let mut a = b[k];
            for c in 0..C {
                for dw in 0..W {
                    a += f[(k * C + c) * W + dw] * z[c * L + S * o + dw];
                }
            }
            let y = a.tanh();
            h[k * O + o] = y;
            let d = y - t[k * O + o];
            loss += d * d;
        }
    }
    (z, h, 0.5 * loss)
}

/// The loss of `conv1d.net`: a per-channel gain, a strided convolution,
/// tanh and half the squared error.
pub fn conv1d_loss(inputs: &[f64], params: &[f64]) -> f64 {
    let (x, t, g, f, b) = conv_split(inputs, params);
    conv_forward(x, t, g, f, b).2
}

/// The loss of `conv1d.net` and its gradient: each output's adjoint
/// `(h - t)(1 - h²)` goes to its bias, to each tap by the signal it read,
/// and to each channel's gain by the tap times the raw signal it read.
pub fn conv1d_gradient(inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    use conv::{C, K, L, O, S, W};
    let (x, t, g, f, b) = conv_split(inputs, params);
    assert_eq!(grad.len(), 23, "conv1d: 23 gradient values");
    let (z, h, loss) = conv_forward(x, t, g, f, b);
    let mut rest = grad;
    let (g_g, g_f, g_b) = (
        take_mut::<2>(&mut rest),
        take_mut::<18>(&mut rest),
        take_mut::<3>(&mut rest),
    );
    g_g.fill(0.0);
    g_f.fill(0.0);
    g_b.fill(0.0);
    for k in 0..K {
        for o in 0..O {
            let y = h[k * O + o];
            let da = (y - t[k * O + o]) * (1.0 - y * y);
            g_b[k] += da;
            for (c, g_c) in g_g.iter_mut().enumerate() {
                for dw in 0..W {
                    let p = c * L + S * o + dw;
                    let tap = (k * C + c) * W + dw;
                    g_f[tap] += da * z[p];
                    *g_c += da * f[tap] * x[p];
                }
            }
        }
    }
    loss
}
