// Template: the elementwise functions of an f32 module, `mod math`. See `math_module` in mod.rs
// for how it is emitted and tests/math.rs for how it is measured. This comment is not emitted.
//
// Every function is straight-line code: no calls, no loops, no branches (the special cases are
// selects on the result), so that LLVM inlines it and vectorises a loop over elements with
// SSE2 alone. No fast-math: the order of every operation is as written. Items are separated by
// one empty line and have none inside: the generator keeps only those the code uses.

/// 1.5 · 2^23: `x + SHIFT - SHIFT` rounds x (|x| < 2^22) to an integer, and the low bits
/// of `x + SHIFT` are that integer (SSE2 has no instruction that rounds).
const SHIFT: f32 = 12_582_912.0;

/// ln 2 in two parts for e^x: `k * LN2_HI` is exact for |k| < 2^9.
const LN2_HI: f32 = 6.9314575e-1;
const LN2_LO: f32 = 1.4286068e-6;

/// (e^r - 1 - r) / r² on |r| ≤ 1.01 · ln 2 / 2: a Chebyshev fit (mpmath `chebyfit`, error
/// 6.8e-8 on this quotient, so under 1e-8 on e^r).
const Q: [f32; 5] = [5.0e-1, 1.6666573e-1, 4.166655e-2, 8.363774e-3, 1.3926927e-3];

/// ln((1 + s) / (1 - s)) = 2s + s·R(s²): R's coefficients (musl's logf.c).
const LG: [f32; 4] = [6.666666e-1, 4.0000972e-1, 2.8498787e-1, 2.4279079e-1];

/// ln 2 in two parts for ln x (musl's logf.c).
const LN2_HI_LOG: f32 = 6.931381e-1;
const LN2_LO_LOG: f32 = 9.058001e-6;

/// tanh a = a + a·s·P(s), s = a², for |a| < 0.625 (Cephes' tanhf.c; relative error 4.4e-9
/// there).
const TANH_P: [f32; 5] = [
    -5.7049887e-3,
    2.0639088e-2,
    -5.3739715e-2,
    1.3331442e-1,
    -3.333328e-1,
];

/// |x|.
#[inline(always)]
pub fn abs(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & !(1 << 31))
}

/// x below `lo` is `lo`, above `hi` is `hi`; NaN stays NaN.
#[inline(always)]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// (k, r) with x = k·ln 2 + r, k an integer and |r| ≤ ln 2 / 2 (a hair more at ties).
#[inline(always)]
fn reduce(x: f32) -> (f32, f32) {
    let k = (x * core::f32::consts::LOG2_E + SHIFT) - SHIFT;
    (k, (x - k * LN2_HI) - k * LN2_LO)
}

/// 2^k for an integer k in [-126, 127], from its bits.
#[inline(always)]
fn pow2(k: f32) -> f32 {
    f32::from_bits((k + SHIFT).to_bits().wrapping_add(127) << 23)
}

/// e^r - 1 for |r| ≤ ln 2 / 2, to about half an ulp of the result.
#[inline(always)]
fn expm1_reduced(r: f32) -> f32 {
    let r2 = r * r;
    let q = (Q[0] + Q[1] * r) + (Q[2] + Q[3] * r + Q[4] * r2) * r2;
    r + r2 * q
}

/// e^x: overflows to ∞ above 88.72, underflows through the subnormals to 0 below -103.97.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Clamped so that k stays in [-150, 128]; the clamped ends still overflow to ∞ and
    // round to 0.
    let (k, r) = reduce(clamp(x, -104.0, 89.0));
    let p = 1.0 + expm1_reduced(r);
    // 2^k in two factors, each a normal number: p·2^k1 is exact and the product with 2^k2
    // is rounded once, also into the subnormals.
    let k1 = (k * 0.5 + SHIFT) - SHIFT;
    p * pow2(k1) * pow2(k - k1)
}

/// tanh x, with tanh x = x for tiny x (tanh(1e-30) = 1e-30) and ±1 beyond |x| = 10.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    // a = |x|. Below 0.625, tanh a = a + a·s·P(s) with s = a² (Cephes' tanhf.c); above,
    // 1 - 2 / (e + 2) with e = e^(2a) - 1. Both are computed, and the one chosen.
    let a = clamp(abs(x), 0.0, 10.0);
    let s = a * a;
    let p = (((TANH_P[0] * s + TANH_P[1]) * s + TANH_P[2]) * s + TANH_P[3]) * s + TANH_P[4];
    let (k, r) = reduce(a + a);
    let scale = pow2(k);
    let e = scale * expm1_reduced(r) + (scale - 1.0);
    let y = if a < 0.625 {
        p * s * a + a
    } else {
        1.0 - 2.0 / (e + 2.0)
    };
    f32::from_bits(y.to_bits() | (x.to_bits() & (1 << 31)))
}

/// ln x: -∞ at ±0, NaN below 0, ∞ at ∞; exact-ish down through the subnormals.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    // x = 2^k · m with m in [√2/2, √2); ln m = ln(1 + f) = 2s + s·R(s²), s = f / (2 + f).
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 33_554_432.0 } else { x };
    let bits = scaled.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    // The biased exponent, as an f32 from its bits: 2^23 + e - 2^23.
    let k = f32::from_bits((bits >> 23) | 0x4b00_0000) - 8_388_735.0;
    let k = if subnormal { k - 25.0 } else { k };
    let m = f32::from_bits((bits & 0x007f_ffff) + 0x3f35_04f3);
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG[1] + w * LG[3]);
    let t2 = z * (LG[0] + w * LG[2]);
    let y = s * (hfsq + (t2 + t1)) + k * LN2_LO_LOG - hfsq + f + k * LN2_HI_LOG;
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    // Below 0, and NaN.
    if x >= 0.0 {
        y
    } else {
        f32::NAN
    }
}

/// ln(1 + x), exact-ish for tiny x.
#[inline(always)]
pub fn ln_1p(x: f32) -> f32 {
    // w = 1 + x rounded; ln(1 + x) = ln w + (x - (w - 1)) / w, the second term the rounding
    // error of w (Goldberg, "What every computer scientist should know about floating-point
    // arithmetic", theorem 4).
    let w = 1.0 + x;
    let y = ln(w) + (x - (w - 1.0)) / w;
    let y = if w == 1.0 { x } else { y };
    let y = if w == 0.0 { f32::NEG_INFINITY } else { y };
    if x == f32::INFINITY {
        x
    } else {
        y
    }
}
