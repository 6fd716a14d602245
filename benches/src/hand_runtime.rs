//! Hand-written references for the examples with a run-time dim:
//! `huber_regression` (a batch of N samples) and `causal_attention` (a
//! sequence of T positions), written as a competent engineer would in plain
//! Rust (no BLAS): the flat slices checked once and viewed as rows of their
//! fixed width (`as_chunks`, so the inner loops have constant trip counts),
//! one forward pass whose values the backward pass reuses, the textbook
//! backward pass (the softmax's `a (da - Σ a da)`), and at most one
//! allocation per call, for the intermediates whose size depends on the run
//! time size.
//!
//! Each function takes the run-time sizes first, one `usize` per run-time
//! dim in declaration order, then the flat slices in the layout of the
//! generated module (`netgrad_benches::NAME::Dims::n_inputs`): inputs, then
//! params, each in declaration order and row-major.
//! `benches/tests/hand.rs` checks every function against the generated code.

/// Views a flat slice as rows of `W` values.
///
/// # Panics
///
/// If the length is not a multiple of `W`.
#[inline]
fn rows<const W: usize>(flat: &[f64]) -> &[[f64; W]] {
    let (rows, rest) = flat.as_chunks::<W>();
    assert!(rest.is_empty(), "a whole number of rows");
    rows
}

/// Views a flat mutable slice as rows of `W` values.
///
/// # Panics
///
/// If the length is not a multiple of `W`.
#[inline]
fn rows_mut<const W: usize>(flat: &mut [f64]) -> &mut [[f64; W]] {
    let (rows, rest) = flat.as_chunks_mut::<W>();
    assert!(rest.is_empty(), "a whole number of rows");
    rows
}

/// The band of `huber_regression.net`'s loss.
const DELTA: f64 = 0.8;

/// `huber_regression.net` at batch size `n`: the flat inputs `x[n, 3], y[n]`
/// and params `w[3], b`, split.
fn huber_split<'a>(
    n: usize,
    inputs: &'a [f64],
    params: &'a [f64],
) -> (&'a [[f64; 3]], &'a [f64], &'a [f64; 3], f64) {
    assert!(n > 0, "huber_regression: a batch of at least 1");
    assert_eq!(inputs.len(), 4 * n, "huber_regression: 4 n inputs");
    assert_eq!(params.len(), 4, "huber_regression: 4 params");
    let (x, y) = inputs.split_at(3 * n);
    let (w, b) = params.split_first_chunk::<3>().unwrap();
    (rows(x), y, w, b[0])
}

/// The residual `x w + b - y` of one sample.
#[inline]
fn residual(x: &[f64; 3], y: f64, w: &[f64; 3], b: f64) -> f64 {
    w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + b - y
}

/// The Huber loss of one residual.
#[inline]
fn huber(r: f64) -> f64 {
    if r.abs() <= DELTA {
        0.5 * r * r
    } else {
        DELTA * (r.abs() - 0.5 * DELTA)
    }
}

/// The loss of `huber_regression.net` at batch size `n`: the mean Huber
/// loss of the residuals.
pub fn huber_regression_loss(n: usize, inputs: &[f64], params: &[f64]) -> f64 {
    let (x, y, w, b) = huber_split(n, inputs, params);
    let sum: f64 = x
        .iter()
        .zip(y)
        .map(|(x, &y)| huber(residual(x, y, w, b)))
        .sum();
    sum / n as f64
}

/// The loss of `huber_regression.net` at batch size `n` and its gradient:
/// each residual pulls with `r` inside the band and `delta * sign(r)`
/// outside, divided by `n`. One pass, nothing stored.
pub fn huber_regression_gradient(
    n: usize,
    inputs: &[f64],
    params: &[f64],
    grad: &mut [f64],
) -> f64 {
    let (x, y, w, b) = huber_split(n, inputs, params);
    assert_eq!(grad.len(), 4, "huber_regression: 4 gradient values");
    let scale = 1.0 / n as f64;
    let (mut loss, mut g) = (0.0, [0.0; 4]);
    for (x, &y) in x.iter().zip(y) {
        let r = residual(x, y, w, b);
        loss += huber(r);
        let pull = if r.abs() <= DELTA {
            r
        } else {
            DELTA * r.signum()
        } * scale;
        for d in 0..3 {
            g[d] += pull * x[d];
        }
        g[3] += pull;
    }
    grad.copy_from_slice(&g);
    loss * scale
}

/// The fixed sizes of `causal_attention.net`: model width D, head width H.
mod attention {
    pub const D: usize = 4;
    pub const H: usize = 4;
    /// The number of scalars of each param (`Wq`, `Wk`, `Wv`: H × D; `Wo`: D × H).
    pub const P: usize = H * D;
}

/// `causal_attention.net` at sequence length `t`: the flat inputs
/// `x[t, 4], y[t, 4]` and params `Wq[4, 4], Wk[4, 4], Wv[4, 4], Wo[4, 4]`,
/// as rows.
struct AttentionArgs<'a> {
    x: &'a [[f64; attention::D]],
    y: &'a [[f64; attention::D]],
    wq: &'a [[f64; attention::D]; attention::H],
    wk: &'a [[f64; attention::D]; attention::H],
    wv: &'a [[f64; attention::D]; attention::H],
    wo: &'a [[f64; attention::H]; attention::D],
}

/// Splits the flat slices of `causal_attention.net` at sequence length `t`.
fn attention_split<'a>(t: usize, inputs: &'a [f64], params: &'a [f64]) -> AttentionArgs<'a> {
    use attention::{D, P};
    assert!(t > 0, "causal_attention: a sequence of at least 1");
    assert_eq!(inputs.len(), 2 * D * t, "causal_attention: 8 t inputs");
    assert_eq!(params.len(), 4 * P, "causal_attention: 64 params");
    let (x, y) = inputs.split_at(D * t);
    let matrix = |k: usize| {
        let rows = rows::<4>(&params[k * P..(k + 1) * P]);
        <&[[f64; 4]; 4]>::try_from(rows).unwrap()
    };
    AttentionArgs {
        x: rows(x),
        y: rows(y),
        wq: matrix(0),
        wk: matrix(1),
        wv: matrix(2),
        wo: matrix(3),
    }
}

/// `m v` for a 4 × 4 matrix.
#[inline]
fn times(m: &[[f64; 4]; 4], v: &[f64; 4]) -> [f64; 4] {
    m.map(|row| dot(&row, v))
}

/// `a · b` for vectors of 4.
#[inline]
fn dot(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
}

/// `acc += s v` for vectors of 4.
#[inline]
fn add_scaled(acc: &mut [f64; 4], s: f64, v: &[f64; 4]) {
    for h in 0..4 {
        acc[h] += s * v[h];
    }
}

/// The forward pass of `causal_attention.net` over the rows of `args`:
/// fills `q`, `k`, `v` (t rows each), the attention weights `a` (row i
/// holds its i + 1 weights at `i (i + 1) / 2`, the positions j > i having
/// weight exactly 0) and the attended values `o`; returns the loss.
fn attention_forward(
    args: &AttentionArgs,
    q: &mut [[f64; 4]],
    k: &mut [[f64; 4]],
    v: &mut [[f64; 4]],
    a: &mut [f64],
    o: &mut [[f64; 4]],
) -> f64 {
    let scale = 1.0 / (attention::H as f64).sqrt();
    for (j, x) in args.x.iter().enumerate() {
        q[j] = times(args.wq, x);
        k[j] = times(args.wk, x);
        v[j] = times(args.wv, x);
    }
    let mut loss = 0.0;
    for i in 0..args.x.len() {
        let row = &mut a[i * (i + 1) / 2..][..i + 1];
        let mut max = f64::NEG_INFINITY;
        for (j, s) in row.iter_mut().enumerate() {
            *s = dot(&q[i], &k[j]) * scale;
            max = max.max(*s);
        }
        let mut sum = 0.0;
        for s in row.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let mut oi = [0.0; 4];
        for (j, p) in row.iter_mut().enumerate() {
            *p /= sum;
            add_scaled(&mut oi, *p, &v[j]);
        }
        o[i] = oi;
        let z = times(args.wo, &oi);
        for (z, y) in z.iter().zip(&args.y[i]) {
            loss += (z - y) * (z - y);
        }
    }
    loss / args.x.len() as f64
}

/// The scratch the forward pass needs at sequence length `t`: q, k, v and
/// o (4 t each) and the t (t + 1) / 2 attention weights, in one buffer.
fn attention_scratch(t: usize) -> Vec<f64> {
    vec![0.0; 16 * t + t * (t + 1) / 2]
}

/// The loss of `causal_attention.net` at sequence length `t`: one head of
/// causal self-attention, then the mean over positions of the squared
/// error of its projected output.
pub fn causal_attention_loss(t: usize, inputs: &[f64], params: &[f64]) -> f64 {
    let args = attention_split(t, inputs, params);
    let mut scratch = attention_scratch(t);
    let (qkvo, a) = scratch.split_at_mut(16 * t);
    let (q, rest) = rows_mut::<4>(qkvo).split_at_mut(t);
    let (k, rest) = rest.split_at_mut(t);
    let (v, o) = rest.split_at_mut(t);
    attention_forward(&args, q, k, v, a, o)
}

/// The loss of `causal_attention.net` at sequence length `t` and its
/// gradient: per position i, from the loss down, `dz = 2 (z - y) / t`,
/// `do = Woᵀ dz`, `da_ij = do · v_j`, the softmax's `ds_ij = a_ij (da_ij -
/// Σ_j a_ij da_ij)` over j <= i, then `dq_i += ds_ij k_j / 2`, `dk_j +=
/// ds_ij q_i / 2`, `dv_j += a_ij do`; the weight gradients are outer
/// products of these with the inputs.
pub fn causal_attention_gradient(
    t: usize,
    inputs: &[f64],
    params: &[f64],
    grad: &mut [f64],
) -> f64 {
    use attention::P;
    let args = attention_split(t, inputs, params);
    assert_eq!(grad.len(), 4 * P, "causal_attention: 64 gradient values");
    // q, k, v, o, dk, dv (4 t each), the weights a, then one row of da.
    let mut scratch = vec![0.0; 24 * t + t * (t + 1) / 2 + t];
    let (rows4, rest) = scratch.split_at_mut(24 * t);
    let (a, da) = rest.split_at_mut(t * (t + 1) / 2);
    let (q, rest) = rows_mut::<4>(rows4).split_at_mut(t);
    let (k, rest) = rest.split_at_mut(t);
    let (v, rest) = rest.split_at_mut(t);
    let (o, rest) = rest.split_at_mut(t);
    let (dk, dv) = rest.split_at_mut(t);
    let loss = attention_forward(&args, q, k, v, a, o);

    let scale = 1.0 / (attention::H as f64).sqrt();
    let (g_wq, rest) = rows_mut::<4>(grad).split_at_mut(4);
    let (g_wk, rest) = rest.split_at_mut(4);
    let (g_wv, g_wo) = rest.split_at_mut(4);
    for row in g_wq
        .iter_mut()
        .chain(g_wk.iter_mut())
        .chain(g_wv.iter_mut())
        .chain(g_wo.iter_mut())
    {
        *row = [0.0; 4];
    }
    let two_over_t = 2.0 / t as f64;
    for i in 0..t {
        let z = times(args.wo, &o[i]);
        let mut d_o = [0.0; 4];
        for d in 0..4 {
            let dz = two_over_t * (z[d] - args.y[i][d]);
            add_scaled(&mut g_wo[d], dz, &o[i]);
            add_scaled(&mut d_o, dz, &args.wo[d]);
        }
        let row = &a[i * (i + 1) / 2..][..i + 1];
        let mut weighted = 0.0;
        for (j, &p) in row.iter().enumerate() {
            da[j] = dot(&d_o, &v[j]);
            weighted += p * da[j];
            add_scaled(&mut dv[j], p, &d_o);
        }
        let mut dq = [0.0; 4];
        for (j, &p) in row.iter().enumerate() {
            let ds = p * (da[j] - weighted) * scale;
            add_scaled(&mut dq, ds, &k[j]);
            add_scaled(&mut dk[j], ds, &q[i]);
        }
        for h in 0..4 {
            add_scaled(&mut g_wq[h], dq[h], &args.x[i]);
        }
    }
    for (j, x) in args.x.iter().enumerate() {
        for h in 0..4 {
            add_scaled(&mut g_wk[h], dk[j][h], x);
            add_scaled(&mut g_wv[h], dv[j][h], x);
        }
    }
    loss
}
