// Template: the elementwise functions of an f64 module, `mod math`. See `math_module` in mod.rs
// for how it is emitted and tests/math.rs for how it is measured. This comment is not emitted.
//
// Every function is straight-line code: no calls, no loops, no branches (the special cases are
// selects on the result), so that LLVM inlines it and vectorises a loop over elements with
// SSE2 alone. No fast-math: the order of every operation is as written. Items are separated by
// one empty line and have none inside: the generator keeps only those the code uses.

/// 1.5 · 2^52: `x + SHIFT - SHIFT` rounds x (|x| < 2^51) to an integer, and the low bits
/// of `x + SHIFT` are that integer (SSE2 has no instruction that rounds).
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// ln 2 in two parts: `k * LN2_HI` is exact for |k| < 2^11.
const LN2_HI: f64 = 0.6931471803691238;
const LN2_LO: f64 = 1.9082149292705877e-10;

/// (e^r - 1 - r) / r² on |r| ≤ 1.01 · ln 2 / 2: a Chebyshev fit (mpmath `chebyfit`, error
/// 1.2e-16 on this quotient, so under 1.5e-17 on e^r).
const Q: [f64; 10] = [
    0.5000000000000001,
    0.16666666666666669,
    0.04166666666662064,
    0.008333333333329793,
    0.0013888888918939168,
    0.00019841269864380513,
    2.4801518641395993e-5,
    2.75572664186123e-6,
    2.7621338669142925e-7,
    2.510134692835034e-8,
];

/// ln((1 + s) / (1 - s)) = 2s + s·R(s²): R's coefficients (fdlibm's e_log.c).
const LG: [f64; 7] = [
    0.6666666666666735,
    0.3999999999940942,
    0.2857142874366239,
    0.22222198432149784,
    0.1818357216161805,
    0.15313837699209373,
    0.14798198605116586,
];

/// tanh a = a + a·s·P(s) / Q(s), s = a², for |a| < 0.625: P's coefficients, then Q's but
/// its leading 1 (Cephes' tanh.c; relative error 4.8e-18 there).
const TANH_P: [f64; 3] = [-0.9643991794250523, -99.28772310019185, -1614.6876844170845];
const TANH_Q: [f64; 3] = [112.81167849163293, 2235.4883906010045, 4844.063053251255];

/// |x|.
#[inline(always)]
pub fn abs(x: f64) -> f64 {
    f64::from_bits(x.to_bits() & !(1 << 63))
}

/// x below `lo` is `lo`, above `hi` is `hi`; NaN stays NaN.
#[inline(always)]
fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// (k, r) with x = k·ln 2 + r, k an integer and |r| ≤ ln 2 / 2 (a hair more at ties).
#[inline(always)]
fn reduce(x: f64) -> (f64, f64) {
    let k = (x * core::f64::consts::LOG2_E + SHIFT) - SHIFT;
    (k, (x - k * LN2_HI) - k * LN2_LO)
}

/// 2^k for an integer k in [-1022, 1023], from its bits.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    f64::from_bits((k + SHIFT).to_bits().wrapping_add(1023) << 52)
}

/// e^r - 1 for |r| ≤ ln 2 / 2, to about half an ulp of the result.
#[inline(always)]
fn expm1_reduced(r: f64) -> f64 {
    let r2 = r * r;
    let r4 = r2 * r2;
    let a = (Q[0] + Q[1] * r) + (Q[2] + Q[3] * r) * r2;
    let b = (Q[4] + Q[5] * r) + (Q[6] + Q[7] * r) * r2;
    let q = (a + b * r4) + (Q[8] + Q[9] * r) * (r4 * r4);
    r + r2 * q
}

/// e^x: overflows to ∞ above 709.78, underflows through the subnormals to 0 below -745.13.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // Clamped so that k stays in [-1082, 1024]; the clamped ends still overflow to ∞ and
    // round to 0.
    let (k, r) = reduce(clamp(x, -750.0, 710.0));
    let p = 1.0 + expm1_reduced(r);
    // 2^k in two factors, each a normal number: p·2^k1 is exact and the product with 2^k2
    // is rounded once, also into the subnormals.
    let k1 = (k * 0.5 + SHIFT) - SHIFT;
    p * pow2(k1) * pow2(k - k1)
}

/// tanh x, with tanh x = x for tiny x (tanh(1e-300) = 1e-300) and ±1 beyond |x| = 20.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    // a = |x|. Below 0.625, tanh a = a + a·s·P(s) / Q(s) with s = a² (Cephes' tanh.c);
    // above, 1 - 2 / (e + 2) with e = e^(2a) - 1. Both are computed, and one division
    // serves the one that is chosen.
    let a = clamp(abs(x), 0.0, 20.0);
    let s = a * a;
    let p = (TANH_P[0] * s + TANH_P[1]) * s + TANH_P[2];
    let q = ((s + TANH_Q[0]) * s + TANH_Q[1]) * s + TANH_Q[2];
    let (k, r) = reduce(a + a);
    let scale = pow2(k);
    let e = scale * expm1_reduced(r) + (scale - 1.0);
    let small = a < 0.625;
    let y = if small { a } else { 1.0 }
        + if small { a * s * p } else { -2.0 } / if small { q } else { e + 2.0 };
    f64::from_bits(y.to_bits() | (x.to_bits() & (1 << 63)))
}

/// ln x: -∞ at ±0, NaN below 0, ∞ at ∞; exact-ish down through the subnormals.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    // x = 2^k · m with m in [√2/2, √2); ln m = ln(1 + f) = 2s + s·R(s²), s = f / (2 + f).
    let subnormal = x < f64::MIN_POSITIVE;
    let scaled = if subnormal {
        x * 18_014_398_509_481_984.0
    } else {
        x
    };
    let bits = scaled
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000);
    // The biased exponent, as an f64 from its bits: 2^52 + e - 2^52.
    let k = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - 4_503_599_627_371_519.0;
    let k = if subnormal { k - 54.0 } else { k };
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) + 0x3fe6_a09e_0000_0000);
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG[1] + w * (LG[3] + w * LG[5]));
    let t2 = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])));
    let y = s * (hfsq + (t2 + t1)) + k * LN2_LO - hfsq + f + k * LN2_HI;
    let y = if x == f64::INFINITY { x } else { y };
    let y = if x == 0.0 { f64::NEG_INFINITY } else { y };
    // Below 0, and NaN.
    if x >= 0.0 {
        y
    } else {
        f64::NAN
    }
}

/// ln(1 + x), exact-ish for tiny x.
#[inline(always)]
pub fn ln_1p(x: f64) -> f64 {
    // w = 1 + x rounded; ln(1 + x) = ln w + (x - (w - 1)) / w, the second term the rounding
    // error of w (Goldberg, "What every computer scientist should know about floating-point
    // arithmetic", theorem 4).
    let w = 1.0 + x;
    let y = ln(w) + (x - (w - 1.0)) / w;
    let y = if w == 1.0 { x } else { y };
    let y = if w == 0.0 { f64::NEG_INFINITY } else { y };
    if x == f64::INFINITY {
        x
    } else {
        y
    }
}
