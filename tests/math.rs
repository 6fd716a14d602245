//! The elementwise functions generated code carries (`mod math`, the templates
//! src/codegen/kernels/math_f64.rs and math_f32.rs), compiled as they are and measured against
//! std: the largest error in ulps over more than a million points per function and float,
//! spread over the whole domain (random bit patterns, so tiny, subnormal and huge arguments,
//! and dense samples of the ranges where the result is neither 0, ±1 nor ∞), and identical
//! results at the special values (NaN, ±∞, ±0, overflow, underflow, the ends of the domain).
//!
//! The f64 functions are measured against std's (the platform's libm, itself within an ulp or
//! so of the exact value); the f32 ones against std's f64 function rounded to f32, which is
//! the correctly rounded result but for rare double roundings, and against std's f32 function.
//! `cargo test --test math -- --nocapture` prints the table docs/codegen.md quotes.

#[allow(dead_code)]
mod m64 {
    include!("../src/codegen/kernels/math_f64.rs");
}

#[allow(dead_code)]
mod m32 {
    include!("../src/codegen/kernels/math_f32.rs");
}

/// Points of one run: random bit patterns and random points of each dense range.
const RANDOM: usize = 400_000;
const DENSE: usize = 400_000;

/// xorshift64: deterministic bits.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Uniform in the exponent: ± 10^[lo, hi).
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let sign = if self.next() & 1 == 0 { 1.0 } else { -1.0 };
        sign * 10f64.powf(self.uniform(lo, hi))
    }
}

/// The distance in representable numbers between a and b (0 if both are NaN, `u64::MAX` if
/// only one is).
fn ulps64(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 {
            i64::MIN - bits
        } else {
            bits
        }
    };
    key(a).abs_diff(key(b))
}

fn ulps32(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let key = |x: f32| {
        let bits = x.to_bits() as i32 as i64;
        if bits < 0 {
            i32::MIN as i64 - bits
        } else {
            bits
        }
    };
    key(a).abs_diff(key(b))
}

/// One function of both floats, with its references and where to sample it.
struct Case {
    name: &'static str,
    f64: fn(f64) -> f64,
    std64: fn(f64) -> f64,
    f32: fn(f32) -> f32,
    std32: fn(f32) -> f32,
    /// Dense ranges, as (lo, hi, logarithmic).
    ranges: &'static [(f64, f64, bool)],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "exp",
            f64: m64::exp,
            std64: f64::exp,
            f32: m32::exp,
            std32: f32::exp,
            ranges: &[
                (-746.0, 710.0, false),
                (-2.0, 2.0, false),
                (-300.0, 1.0, true),
            ],
        },
        Case {
            name: "ln",
            f64: m64::ln,
            std64: f64::ln,
            f32: m32::ln,
            std32: f32::ln,
            ranges: &[(0.0, 4.0, false), (0.5, 2.0, false), (-320.0, 308.0, true)],
        },
        Case {
            name: "ln_1p",
            f64: m64::ln_1p,
            std64: f64::ln_1p,
            f32: m32::ln_1p,
            std32: f32::ln_1p,
            ranges: &[(-1.0, 4.0, false), (0.0, 1.0, false), (-300.0, 0.0, true)],
        },
        Case {
            name: "tanh",
            f64: m64::tanh,
            std64: f64::tanh,
            f32: m32::tanh,
            std32: f32::tanh,
            ranges: &[
                (-25.0, 25.0, false),
                (-1.0, 1.0, false),
                (-300.0, 1.5, true),
            ],
        },
    ]
}

/// The arguments of one function: random bit patterns of both floats' width, then each
/// dense range.
fn points(case: &Case, seed: u64) -> Vec<f64> {
    let mut bits = Bits(seed);
    let mut out: Vec<f64> = (0..RANDOM)
        .map(|_| f64::from_bits(bits.next()))
        .filter(|x| !x.is_nan())
        .collect();
    out.extend((0..RANDOM).map(|_| f32::from_bits(bits.next() as u32) as f64));
    for &(lo, hi, log) in case.ranges {
        for _ in 0..DENSE / case.ranges.len() {
            out.push(if log {
                bits.log_uniform(lo, hi)
            } else {
                bits.uniform(lo, hi)
            });
        }
    }
    out
}

/// The largest errors of a function: f64 against std, f32 against f64-rounded and against
/// std's f32; each with an argument where it occurs.
struct Errors {
    f64: (u64, f64),
    f32: (u64, f32),
    f32_std: (u64, f32),
}

fn measure(case: &Case) -> Errors {
    let mut e = Errors {
        f64: (0, 0.0),
        f32: (0, 0.0),
        f32_std: (0, 0.0),
    };
    for x in points(case, 0x5eed ^ case.name.len() as u64) {
        let d = ulps64((case.f64)(x), (case.std64)(x));
        if d > e.f64.0 {
            e.f64 = (d, x);
        }
        let y = x as f32;
        let ours = (case.f32)(y);
        let d = ulps32(ours, (case.std64)(y as f64) as f32);
        if d > e.f32.0 {
            e.f32 = (d, y);
        }
        let d = ulps32(ours, (case.std32)(y));
        if d > e.f32_std.0 {
            e.f32_std = (d, y);
        }
    }
    e
}

/// The most ulps each function may be off; docs/codegen.md quotes the measured maxima.
fn bound(name: &str) -> [u64; 3] {
    match name {
        "exp" => [1, 1, 1],
        "ln" => [1, 1, 1],
        "ln_1p" => [2, 2, 2],
        "tanh" => [2, 2, 2],
        _ => unreachable!(),
    }
}

#[test]
fn every_function_is_within_its_bound_of_std_over_the_whole_domain() {
    let mut report = String::from("| function | f64 vs std | f32 vs exact | f32 vs std |\n");
    let mut failed = Vec::new();
    for case in cases() {
        let e = measure(&case);
        report.push_str(&format!(
            "| {} | {} (at {:e}) | {} (at {:e}) | {} (at {:e}) |\n",
            case.name, e.f64.0, e.f64.1, e.f32.0, e.f32.1, e.f32_std.0, e.f32_std.1
        ));
        let [b64, b32, b32_std] = bound(case.name);
        if e.f64.0 > b64 || e.f32.0 > b32 || e.f32_std.0 > b32_std {
            failed.push(case.name);
        }
    }
    println!("{report}");
    assert!(
        failed.is_empty(),
        "beyond their bounds: {failed:?}\n{report}"
    );
}

/// The special values, and the ends of each function's domain, give exactly std's result.
#[test]
fn special_values_are_std_s() {
    let specials64 = [
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-300,
        -1e-300,
        f64::MAX,
        f64::MIN,
        709.782_712_893_383_9,
        709.782_712_893_384,
        710.0,
        -745.133_219_101_941_1,
        -745.2,
        -708.4,
        -800.0,
        1e5,
        -1e5,
        20.0,
        -20.0,
        40.0,
    ];
    for case in cases() {
        for &x in &specials64 {
            let (ours, std) = ((case.f64)(x), (case.std64)(x));
            // Exact at the specials; at finite non-special arguments, the bound.
            let exact = !ours.is_finite() || !std.is_finite() || ours == 0.0 || std == 0.0;
            if exact {
                assert!(
                    ours.to_bits() == std.to_bits() || ours.is_nan() && std.is_nan(),
                    "{}({x:e}) = {ours:e}, std says {std:e}",
                    case.name
                );
            } else {
                assert!(
                    ulps64(ours, std) <= bound(case.name)[0],
                    "{}({x:e}) = {ours:e}, std says {std:e}",
                    case.name
                );
            }
            let y = x as f32;
            let (ours, std) = ((case.f32)(y), (case.std32)(y));
            let exact = !ours.is_finite() || !std.is_finite() || ours == 0.0 || std == 0.0;
            if exact {
                assert!(
                    ours.to_bits() == std.to_bits() || ours.is_nan() && std.is_nan(),
                    "f32 {}({y:e}) = {ours:e}, std says {std:e}",
                    case.name
                );
            } else {
                assert!(
                    ulps32(ours, std) <= bound(case.name)[2],
                    "f32 {}({y:e}) = {ours:e}, std says {std:e}",
                    case.name
                );
            }
        }
    }
}

/// Where each function's result turns infinite, zero or NaN, it turns so at the same
/// argument as std's: a bisection on the bits from each side of the threshold.
#[test]
fn overflow_and_underflow_thresholds_are_std_s() {
    // exp's overflow and underflow (to 0) thresholds, and the smallest subnormal results.
    for x in [
        709.782_712_893_384_f64,
        -745.133_219_101_941_1,
        -708.396_418_532_264_1,
    ] {
        for step in -3i64..=3 {
            let x = f64::from_bits((x.to_bits() as i64 + step) as u64);
            assert_eq!(m64::exp(x).to_bits(), x.exp().to_bits(), "exp({x:e})");
        }
    }
    for x in [88.722_83_f32, -103.972_08, -87.336_55] {
        for step in -3i32..=3 {
            let x = f32::from_bits((x.to_bits() as i32 + step) as u32);
            assert_eq!(m32::exp(x).to_bits(), x.exp().to_bits(), "f32 exp({x:e})");
        }
    }
    // Where tanh becomes ±1.
    for step in -3i64..=3 {
        let x = f64::from_bits((19.061_547_465_398_5_f64.to_bits() as i64 + step) as u64);
        assert_eq!(m64::tanh(x).to_bits(), x.tanh().to_bits(), "tanh({x:e})");
    }
}

/// The results are NaN exactly where std's are, and signed zeros keep their sign.
#[test]
fn signs_of_zero_and_nan_agree() {
    for case in cases() {
        for x in [0.0, -0.0] {
            assert_eq!(
                (case.f64)(x).to_bits(),
                (case.std64)(x).to_bits(),
                "{}({x})",
                case.name
            );
            let y = x as f32;
            assert_eq!(
                (case.f32)(y).to_bits(),
                (case.std32)(y).to_bits(),
                "f32 {}({y})",
                case.name
            );
        }
        for x in [-1e-300, -1.0, -1e300, f64::NEG_INFINITY] {
            let (ours, std) = ((case.f64)(x), (case.std64)(x));
            assert_eq!(ours.is_nan(), std.is_nan(), "{}({x:e})", case.name);
        }
    }
}
