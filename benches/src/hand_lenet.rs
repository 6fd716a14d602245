//! A hand-written reference for `lenet.net`: the loss and gradient of a small
//! convolutional network over a batch of `n` images of 12 × 12, written as a
//! competent engineer would in plain Rust without BLAS, for the benchmark of
//! the generated code.
//!
//! The network: a zero-padded 3 × 3 convolution to 4 channels, tanh, 2 × 2
//! max pooling with stride 2, a 3 × 3 convolution to 8 channels, tanh, 2 × 2
//! max pooling, a dense layer to 10 classes, and softmax cross-entropy
//! averaged over the batch.
//!
//! How it is written:
//! - One image at a time, forward then backward, with every intermediate in
//!   a few KiB on the stack (so in L1) and the gradients of all images
//!   summed in one stack copy: the loss is a mean, so each image's
//!   `dE/da3 = (softmax - t) / n` needs nothing from the others, and the
//!   gradient allocates nothing.
//! - Direct convolutions, an output row at a time (12 independent
//!   accumulators the compiler vectorises), each kernel weight broadcast over
//!   the row; max pooling records which element of its window won (the first
//!   largest in row-major order, as netgrad's `max`).
//! - The zero padding is in the loop bounds: each tap's rows and columns
//!   are clipped to those that read inside the image. (Copying each image
//!   into a zero-bordered 14 × 14 buffer, for constant trip counts, measured
//!   about as fast for the gradient and 5 % slower for the loss.)
//! - Backward, layer by layer: the pooling's adjoint goes to the winner
//!   only, through `1 - z²`; a convolution's weight gradient is a correlation
//!   of its adjoint with its input, and its input's adjoint a scatter of the
//!   weights; `dE/da3 = softmax - t` from the exponentials of the loss.
//! - tanh, exp and ln from std.
//!
//! The flat layouts are those of the generated module: `inputs` is
//! `x[n, 12, 12]` then `t[n, 10]`, `params` is `k1[4, 3, 3], b1[4],
//! k2[8, 4, 3, 3], b2[8], w3[10, 8, 2, 2], b3[10]`, each row-major.
//! `valid_loss` and `valid_gradient` are the same network on 14 × 14 images
//! without padding (the first convolution's output is 12 × 12 either way),
//! which netgrad's interpreter checks them against in `benches/tests/hand_lenet.rs`.

/// Image height and width.
pub const H: usize = 12;
/// Zero padding of the first convolution.
pub const P: usize = 1;
/// Padded image height and width.
pub const HP: usize = H + 2 * P;
/// Kernel size of both convolutions.
pub const K: usize = 3;
/// Channels of the first convolution.
pub const C1: usize = 4;
/// Output height and width of the first convolution.
pub const H1: usize = HP - K + 1;
/// Pooling window and stride.
pub const S: usize = 2;
/// Height and width after the first pooling.
pub const Q1: usize = H1 / S;
/// Channels of the second convolution.
pub const C2: usize = 8;
/// Output height and width of the second convolution.
pub const H2: usize = Q1 - K + 1;
/// Height and width after the second pooling.
pub const Q2: usize = H2 / S;
/// Classes.
pub const M: usize = 10;
/// Features into the dense layer.
pub const F: usize = C2 * Q2 * Q2;
/// Scalars in `params`.
pub const N_PARAMS: usize = C1 * K * K + C1 + C2 * C1 * K * K + C2 + M * F + M;

/// The params, shaped.
struct Params<'a> {
    k1: &'a [[[f64; K]; K]; C1],
    b1: &'a [f64; C1],
    k2: &'a [[[[f64; K]; K]; C1]; C2],
    b2: &'a [f64; C2],
    w3: &'a [[f64; F]; M],
    b3: &'a [f64; M],
}

/// Splits the first `L` values off `rest` as an array.
///
/// # Panics
///
/// If `rest` holds fewer than `L` values.
fn take<'a, T, const L: usize>(rest: &mut &'a [T]) -> &'a [T; L] {
    let (head, tail) = rest.split_first_chunk::<L>().expect("a slice long enough");
    *rest = tail;
    head
}

/// `s` as `L`-element arrays, all of it.
///
/// # Panics
///
/// If the length of `s` is not a multiple of `L`.
fn rows<T, const L: usize>(s: &[T]) -> &[[T; L]] {
    let (rows, rest) = s.as_chunks::<L>();
    assert!(rest.is_empty(), "a whole number of rows");
    rows
}

/// `s` as an array of `L` elements.
///
/// # Panics
///
/// If `s` does not hold exactly `L` elements.
fn exactly<T, const L: usize>(s: &[T]) -> &[T; L] {
    s.try_into().expect("the size of the array")
}

impl<'a> Params<'a> {
    /// Shapes the flat `params`.
    ///
    /// # Panics
    ///
    /// If `params` does not hold `N_PARAMS` values.
    fn new(params: &'a [f64]) -> Params<'a> {
        assert_eq!(params.len(), N_PARAMS, "lenet: {N_PARAMS} params");
        let mut p = params;
        let k1 = take::<_, { C1 * K * K }>(&mut p);
        let b1 = take(&mut p);
        let k2 = take::<_, { C2 * C1 * K * K }>(&mut p);
        let b2 = take(&mut p);
        let w3 = take::<_, { M * F }>(&mut p);
        let b3 = take(&mut p);
        Params {
            k1: exactly(rows(rows(k1))),
            b1,
            k2: exactly(rows(rows(rows(k2)))),
            b2,
            w3: exactly(rows(w3)),
            b3,
        }
    }
}

/// The gradient, shaped as the params, summed over the images.
struct Grads {
    k1: [[[f64; K]; K]; C1],
    b1: [f64; C1],
    k2: [[[[f64; K]; K]; C1]; C2],
    b2: [f64; C2],
    w3: [[f64; F]; M],
    b3: [f64; M],
}

impl Grads {
    /// All zeros.
    fn zero() -> Grads {
        Grads {
            k1: [[[0.0; K]; K]; C1],
            b1: [0.0; C1],
            k2: [[[[0.0; K]; K]; C1]; C2],
            b2: [0.0; C2],
            w3: [[0.0; F]; M],
            b3: [0.0; M],
        }
    }

    /// Writes the gradient into `grad`, in the layout of the params.
    fn write(&self, grad: &mut [f64]) {
        let parts: [&[f64]; 6] = [
            self.k1.as_flattened().as_flattened(),
            &self.b1,
            self.k2.as_flattened().as_flattened().as_flattened(),
            &self.b2,
            self.w3.as_flattened(),
            &self.b3,
        ];
        let mut rest = grad;
        for part in parts {
            let (head, tail) = rest.split_at_mut(part.len());
            head.copy_from_slice(part);
            rest = tail;
        }
    }
}

/// One image's values that the backward pass reuses.
struct Forward {
    /// `tanh` of the first convolution.
    z1: [[[f64; H1]; H1]; C1],
    /// The first pooling, and which element of each window won
    /// (`S * di + dj`).
    p1: [[[f64; Q1]; Q1]; C1],
    arg1: [[[u8; Q1]; Q1]; C1],
    /// `tanh` of the second convolution.
    z2: [[[f64; H2]; H2]; C2],
    /// The second pooling, flattened as the dense layer reads it, and its
    /// winners.
    p2: [f64; F],
    arg2: [u8; F],
    /// The activations of the dense layer.
    a3: [f64; M],
}

impl Forward {
    /// All zeros, to be overwritten by `forward`.
    fn zero() -> Forward {
        Forward {
            z1: [[[0.0; H1]; H1]; C1],
            p1: [[[0.0; Q1]; Q1]; C1],
            arg1: [[[0; Q1]; Q1]; C1],
            z2: [[[0.0; H2]; H2]; C2],
            p2: [0.0; F],
            arg2: [0; F],
            a3: [0.0; M],
        }
    }
}

/// The largest element of the `S × S` window of `z` at `(S qi, S qj)`, and
/// its place `S * di + dj` in the window: the first largest in row-major
/// order (`>` keeps the earlier of two equal values).
#[inline(always)]
fn pool<const W: usize>(z: &[[f64; W]; W], qi: usize, qj: usize) -> (f64, u8) {
    let (mut best, mut arg) = (z[S * qi][S * qj], 0);
    for di in 0..S {
        for dj in 0..S {
            let v = z[S * qi + di][S * qj + dj];
            if v > best {
                (best, arg) = (v, S * di + dj);
            }
        }
    }
    (best, arg as u8)
}

/// The window offsets `(di, dj)` of the winner `arg` of `pool`.
#[inline(always)]
fn place(arg: u8) -> (usize, usize) {
    (arg as usize / S, arg as usize % S)
}

/// The output positions `lo..hi` (along one axis) at which tap `d` of the
/// first convolution reads inside an image of `W` with `PAD` of zeros around
/// it: it reads `x[o + d - PAD]` for output `o`.
#[inline(always)]
const fn inside<const W: usize, const PAD: usize>(d: usize) -> (usize, usize) {
    let lo = PAD.saturating_sub(d);
    let hi = if W + PAD - d < H1 { W + PAD - d } else { H1 };
    (lo, hi)
}

/// The forward pass of one image `x` of `W × W`, padded with `PAD` zeros,
/// into `f`.
#[inline(always)]
fn forward<const W: usize, const PAD: usize>(x: &[[f64; W]; W], p: &Params, f: &mut Forward) {
    const { assert!(W + 2 * PAD - K + 1 == H1) };
    // First convolution, an output row at a time: each weight broadcast
    // over the row of 12, where it reads inside the image.
    for c in 0..C1 {
        for i in 0..H1 {
            let mut row = [0.0; H1];
            for di in 0..K {
                let Some(x) = (i + di).checked_sub(PAD).and_then(|r| x.get(r)) else {
                    continue;
                };
                for dj in 0..K {
                    let w = p.k1[c][di][dj];
                    let (lo, hi) = inside::<W, PAD>(dj);
                    let x = &x[lo + dj - PAD..hi + dj - PAD];
                    for (a, x) in row[lo..hi].iter_mut().zip(x) {
                        *a += w * x;
                    }
                }
            }
            for (z, a) in f.z1[c][i].iter_mut().zip(row) {
                *z = (a + p.b1[c]).tanh();
            }
        }
    }
    for c in 0..C1 {
        for qi in 0..Q1 {
            for qj in 0..Q1 {
                (f.p1[c][qi][qj], f.arg1[c][qi][qj]) = pool(&f.z1[c], qi, qj);
            }
        }
    }
    // Second convolution over the 4 pooled channels.
    for d in 0..C2 {
        for i in 0..H2 {
            let mut row = [0.0; H2];
            for c in 0..C1 {
                for di in 0..K {
                    let x = &f.p1[c][i + di];
                    for dj in 0..K {
                        let w = p.k2[d][c][di][dj];
                        for j in 0..H2 {
                            row[j] += w * x[j + dj];
                        }
                    }
                }
            }
            for (z, a) in f.z2[d][i].iter_mut().zip(row) {
                *z = (a + p.b2[d]).tanh();
            }
        }
    }
    for d in 0..C2 {
        for qi in 0..Q2 {
            for qj in 0..Q2 {
                let at = (d * Q2 + qi) * Q2 + qj;
                (f.p2[at], f.arg2[at]) = pool(&f.z2[d], qi, qj);
            }
        }
    }
    for m in 0..M {
        f.a3[m] = dot(&p.w3[m], &f.p2) + p.b3[m];
    }
}

/// `Σ a[k] b[k]` with 4 independent accumulators.
#[inline(always)]
fn dot(a: &[f64; F], b: &[f64; F]) -> f64 {
    let mut acc = [0.0; 4];
    for (a, b) in a.as_chunks::<4>().0.iter().zip(b.as_chunks::<4>().0) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}

/// The largest activation and `Σ_m exp(a_m - max)`, with the exponentials
/// in `e`: `logsumexp(a) = max + ln(sum)`.
#[inline(always)]
fn exps(a: &[f64; M], e: &mut [f64; M]) -> (f64, f64) {
    let max = a.iter().fold(f64::NEG_INFINITY, |m, &a| m.max(a));
    let mut sum = 0.0;
    for m in 0..M {
        e[m] = (a[m] - max).exp();
        sum += e[m];
    }
    (max, sum)
}

/// One image's cross-entropy `logsumexp(a) - Σ_m t_m a_m`; and, with
/// `scale`, its gradient `scale (softmax(a) - t)` in `d`.
#[inline(always)]
fn cross_entropy(a: &[f64; M], t: &[f64; M], d: Option<(&mut [f64; M], f64)>) -> f64 {
    let mut e = [0.0; M];
    let (max, sum) = exps(a, &mut e);
    if let Some((d, scale)) = d {
        let inv = 1.0 / sum;
        for m in 0..M {
            d[m] = scale * (e[m] * inv - t[m]);
        }
    }
    let mut target = 0.0;
    for m in 0..M {
        target += t[m] * a[m];
    }
    max + sum.ln() - target
}

/// Adds one image's gradient to `g`, given the image `x` (as `forward`),
/// its forward pass `f` and `dE/da3`.
#[inline(always)]
fn backward<const W: usize, const PAD: usize>(
    x: &[[f64; W]; W],
    p: &Params,
    f: &Forward,
    d_a3: &[f64; M],
    g: &mut Grads,
) {
    // Dense layer.
    let mut d_p2 = [0.0; F];
    for (m, &d) in d_a3.iter().enumerate() {
        g.b3[m] += d;
        let (g_w, w) = (&mut g.w3[m], &p.w3[m]);
        for ((g_w, d_p), (w, p2)) in g_w.iter_mut().zip(&mut d_p2).zip(w.iter().zip(&f.p2)) {
            *g_w += d * p2;
            *d_p += d * w;
        }
    }
    // Second pooling and tanh: each window's adjoint to its winner.
    let mut d_a2 = [[[0.0; H2]; H2]; C2];
    for (d, da) in d_a2.iter_mut().enumerate() {
        for qi in 0..Q2 {
            for qj in 0..Q2 {
                let at = (d * Q2 + qi) * Q2 + qj;
                let (di, dj) = place(f.arg2[at]);
                let (i, j) = (S * qi + di, S * qj + dj);
                let z = f.z2[d][i][j];
                da[i][j] = d_p2[at] * (1.0 - z * z);
            }
        }
    }
    // Second convolution: the weights' gradient correlates d_a2 with p1,
    // p1's adjoint scatters the weights.
    let mut d_p1 = [[[0.0; Q1]; Q1]; C1];
    for (d, da) in d_a2.iter().enumerate() {
        g.b2[d] += da.as_flattened().iter().sum::<f64>();
        for (c, dx) in d_p1.iter_mut().enumerate() {
            let x = &f.p1[c];
            for di in 0..K {
                for dj in 0..K {
                    let w = p.k2[d][c][di][dj];
                    let mut acc = [0.0; H2];
                    for i in 0..H2 {
                        for j in 0..H2 {
                            acc[j] += da[i][j] * x[i + di][j + dj];
                            dx[i + di][j + dj] += w * da[i][j];
                        }
                    }
                    g.k2[d][c][di][dj] += (acc[0] + acc[2]) + (acc[1] + acc[3]);
                }
            }
        }
    }
    // First pooling and tanh.
    let mut d_a1 = [[[0.0; H1]; H1]; C1];
    for (c, da) in d_a1.iter_mut().enumerate() {
        for (qi, d_p) in d_p1[c].iter().enumerate() {
            for (qj, d_p) in d_p.iter().enumerate() {
                let (di, dj) = place(f.arg1[c][qi][qj]);
                let (i, j) = (S * qi + di, S * qj + dj);
                let z = f.z1[c][i][j];
                da[i][j] = d_p * (1.0 - z * z);
            }
        }
    }
    // First convolution: its weights' gradient only (x is an input), over
    // the outputs whose tap reads inside the image.
    for (c, da) in d_a1.iter().enumerate() {
        g.b1[c] += da.as_flattened().iter().sum::<f64>();
        for di in 0..K {
            let (top, bottom) = inside::<W, PAD>(di);
            for dj in 0..K {
                let (lo, hi) = inside::<W, PAD>(dj);
                let mut acc = [0.0; H1];
                for i in top..bottom {
                    let x = &x[i + di - PAD][lo + dj - PAD..hi + dj - PAD];
                    for (a, (d, x)) in acc[lo..hi].iter_mut().zip(da[i][lo..hi].iter().zip(x)) {
                        *a += d * x;
                    }
                }
                g.k1[c][di][dj] += acc.iter().sum::<f64>();
            }
        }
    }
}

/// The loss over the `n` images of `inputs` (`x[n, W, W]`, padded with
/// `PAD` zeros, then `t[n, 10]`), and with `grad` its gradient.
///
/// # Panics
///
/// If `n` is 0 or a slice has the wrong length.
fn run<const W: usize, const PAD: usize>(
    n: usize,
    inputs: &[f64],
    params: &[f64],
    grad: Option<&mut [f64]>,
) -> f64 {
    assert!(n > 0, "lenet: a batch of at least one image");
    let len = n * (W * W + M);
    assert_eq!(inputs.len(), len, "lenet: {len} inputs");
    let p = Params::new(params);
    let (x, t) = inputs.split_at(n * W * W);
    let (x, t) = (rows::<_, W>(rows::<_, W>(x)), rows::<_, M>(t));
    let mut f = Forward::zero();
    let mut sum = 0.0;
    match grad {
        None => {
            for (x, t) in x.iter().zip(t) {
                forward::<W, PAD>(x, &p, &mut f);
                sum += cross_entropy(&f.a3, t, None);
            }
        }
        Some(grad) => {
            assert_eq!(grad.len(), N_PARAMS, "lenet: {N_PARAMS} gradient values");
            let mut g = Grads::zero();
            let scale = 1.0 / n as f64;
            let mut d_a3 = [0.0; M];
            for (x, t) in x.iter().zip(t) {
                forward::<W, PAD>(x, &p, &mut f);
                sum += cross_entropy(&f.a3, t, Some((&mut d_a3, scale)));
                backward::<W, PAD>(x, &p, &f, &d_a3, &mut g);
            }
            g.write(grad);
        }
    }
    sum / n as f64
}

/// [`loss`] and [`gradient`] under the names `benches/callgrind/run.sh`
/// and `for_each_run_time_example!` give every example's reference.
pub use self::gradient as lenet_gradient;
pub use self::loss as lenet_loss;

/// The loss of `lenet.net` over a batch of `n` images: `inputs` is
/// `x[n, 12, 12]` then `t[n, 10]`, `params` is `k1, b1, k2, b2, w3, b3`.
///
/// # Panics
///
/// If `n` is 0 or a slice has the wrong length.
pub fn loss(n: usize, inputs: &[f64], params: &[f64]) -> f64 {
    run::<H, P>(n, inputs, params, None)
}

/// The loss of `lenet.net` and, written into `grad`, its gradient in the
/// layout of `params`. Allocates nothing.
///
/// # Panics
///
/// If `n` is 0 or a slice has the wrong length.
pub fn gradient(n: usize, inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    run::<H, P>(n, inputs, params, Some(grad))
}

/// `loss` of the same network on 14 × 14 images without padding
/// (`inputs` is `x[n, 14, 14]` then `t[n, 10]`).
///
/// # Panics
///
/// If `n` is 0 or a slice has the wrong length.
pub fn valid_loss(n: usize, inputs: &[f64], params: &[f64]) -> f64 {
    run::<HP, 0>(n, inputs, params, None)
}

/// `gradient` of the same network on 14 × 14 images without padding.
///
/// # Panics
///
/// If `n` is 0 or a slice has the wrong length.
pub fn valid_gradient(n: usize, inputs: &[f64], params: &[f64], grad: &mut [f64]) -> f64 {
    run::<HP, 0>(n, inputs, params, Some(grad))
}
