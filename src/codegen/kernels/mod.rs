//! The kernels that generated code carries: for its matrix products the text of a module
//! `mod gemm`, assembled from the template files beside this one; and for its elementwise
//! functions a module `mod math` (see [`math_module`]).
//!
//! # The kernel
//! BLIS's design, as in the `matrixmultiply` crate: C = A·B is cut into blocks of B's
//! columns (`NC`), of the depth (`KC`) and of A's rows (`MC`), sized for the L3, L1 and L2
//! caches; each block of A and of B is packed into panels of `MR` rows or `NR` columns, in
//! the order the micro-kernel reads them, zero-padded at the edges; and the micro-kernel
//! computes one `MR` × `NR` tile of C from a panel of each, its accumulators in registers.
//! When C's rows are closer in memory than its columns, `gemm` computes Cᵀ = Bᵀ·Aᵀ, so that
//! the micro-kernels always store rows of C. Depth and row blocks are split evenly rather
//! than cut into full blocks and a thin rest (k = 784 becomes 4 × 196, not 3 × 256 + 16).
//!
//! There are two micro-kernels, both 6 × 2 vectors (6 × 8 in f64, 6 × 16 in f32):
//! - the portable one (`tile_portable`), safe Rust on fixed-size arrays that LLVM vectorises
//!   for SSE2 (or for whatever the crate is compiled for);
//! - an AVX2+FMA one (`avx2::tile`), `#[target_feature(enable = "avx2,fma")]` with the
//!   `core::arch::x86_64` intrinsics, on x86_64 only.
//!
//! [`TargetFeatures`] says which a module carries and how it picks one. Everything but the
//! AVX2 micro-kernel's loads and stores of whole vectors is safe code with bounds-checked
//! slices, so the entry checks (one assertion per operand) give clear messages but are not
//! what memory safety rests on; the `Portable` text contains no `unsafe` at all.
//!
//! # Templates
//! The templates are real Rust, compiled and tested as they are (tests/generated, and the
//! kernel bench, `include!` them), and emitted verbatim but for their leading `//` comment
//! and a four-space indent. One template serves both floats: the code names the float `F`
//! and the vector's lane count `LANES`, defined by f64.rs or f32.rs, and the AVX2 kernel
//! calls its intrinsics through short aliases (`zero`, `splat`, `load`, `store`, `add`,
//! `fmadd`) that [`gemm_module`] imports under those names from `_mm256_*_pd` or `_ps`.
//! The emitted module is, in this order:
//!
//! | piece | Portable | Native | Dispatch |
//! |---|---|---|---|
//! | f64.rs or f32.rs: `F`, `LANES` | ✓ | ✓ | ✓ |
//! | gemm.rs: constants, `pack_len`, `gemm`, blocking, packing, portable kernel | ✓ | ✓ | ✓ |
//! | portable.rs: `Kernel` (portable only), `select`, `tile` | ✓ | | |
//! | x86.rs: `Kernel` (portable or AVX2), `tile` | | ✓ | ✓ |
//! | native.rs: `select` by `cfg!(target_feature)` | | ✓ | |
//! | dispatch.rs: `select` by `is_x86_feature_detected!`, cached | | | ✓ |
//! | `mod avx2`: the intrinsics' `use`, then avx2.rs | | ✓ | ✓ |
//!
//! # Left out
//! - AVX-512 and NEON micro-kernels: the machine this was written and measured on (an AMD
//!   EPYC with AVX2 and FMA) can run neither, and a kernel that was never run is not shipped.
//!   Adding one is a new `Kernel` variant, a `mod` like `avx2`, and a line in `select`.
//! - Threads: generated code is single-threaded by contract.
//! - Alignment of the packed panels: the kernels use unaligned loads, whose cost on aligned
//!   data is nil; the scratch is whatever the caller passes.
//! - Alpha and beta other than 1 and 0 or 1: generated code only needs C = A·B and C += A·B.

use super::Float;

/// Which kernels generated code carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetFeatures {
    /// The portable micro-kernel only, and no `unsafe` (for `#![forbid(unsafe_code)]`).
    Portable,
    /// The AVX2+FMA micro-kernel where the crate is compiled with both features enabled
    /// (`-C target-cpu=native` on such a CPU), else the portable one; no run-time check.
    Native,
    /// The AVX2+FMA micro-kernel if the CPU has both, checked once at run time, else the
    /// portable one. Needs `std`; for `no_std` it is `Native`.
    #[default]
    Dispatch,
}

/// What the emitted `gemm::pack_len(m, n, k)` returns for this float: the generator sizes
/// one scratch buffer for all of a function's products with it. The same formula as
/// gemm.rs's (`MR` = 6, `NR` = 2 vectors, `KC` = 256, `MC` = 96, `NC` = 1024); the
/// tests in tests/generated/tests/kernels.rs check that the two agree.
pub fn pack_len(float: Float, m: usize, n: usize, k: usize) -> usize {
    let lanes = match float {
        Float::F64 => 4,
        Float::F32 => 8,
    };
    let (mr, nr, kc, mc, nc) = (6, 2 * lanes, 256, 96, 1024);
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    let panels = |len: usize, width: usize, max: usize| (len.div_ceil(width) * width).min(max);
    let straight = panels(m, mr, mc) + panels(n, nr, nc);
    let swapped = panels(n, mr, mc) + panels(m, nr, nc);
    k.min(kc) * straight.max(swapped) + nr - 1
}

const MATH_F64: &str = include_str!("math_f64.rs");
const MATH_F32: &str = include_str!("math_f32.rs");

/// Which implementation of the elementwise functions exp, ln (log), tanh, abs and the
/// ln_1p of softplus generated code calls (sigmoid and softplus are written with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MathFunctions {
    /// Whichever is faster: its own, in a module `mod math` (math_f64.rs, math_f32.rs):
    /// straight-line code without calls or branches, within an ulp or two of std
    /// (docs/codegen.md has the measured maxima), with std's results at every special
    /// value. With `std` that is tanh (2 to 3× glibc's speed) and abs, while exp, ln and
    /// ln_1p stay std's ([`STD_FASTER`]); without `std` all of them replace `libm`'s.
    #[default]
    Fast,
    /// std's float methods (`x.tanh()`), or the `libm` crate's functions without `std`:
    /// bit-identical to the interpreter, which calls std.
    Std,
}

/// The names of the functions `mod math` defines, as std's methods are named.
pub const MATH: [&str; 5] = ["abs", "exp", "ln", "ln_1p", "tanh"];

/// The functions of [`MATH`] that code with `std` takes from std even with
/// [`MathFunctions::Fast`]: glibc's exp and log (and log1p) are table-driven and
/// run their FMA versions where the CPU has FMA, which code built for baseline
/// x86_64 cannot, so their latency and throughput beat ours (BENCHMARKS.md, "Own
/// elementwise functions"). Without `std` ours replace the `libm` crate's.
pub const STD_FASTER: [&str; 3] = ["exp", "ln", "ln_1p"];

/// The text of a module `mod math { ... }` for generated code, for this float, with the
/// `pub fn`s of `functions` (names from [`MATH`], std's signatures) and the private items
/// they use, in `core` only.
///
/// # The functions
/// - exp: x = k·ln 2 + r with k rounded by adding and subtracting 1.5·2^52 (SSE2 has no
///   rounding instruction, and `round()` is a libm call without SSE4.1); e^r - 1 by a
///   polynomial (a Chebyshev fit, degree 11 in f64, 6 in f32); 2^k from its bits, in two
///   factors so that results in the subnormals are rounded once.
/// - ln: fdlibm's (musl's) e_log.c and logf.c, with the exponent read from the bits by a
///   shift and converted by the same magic-number trick (SSE2 converts no 64-bit integers).
/// - tanh: below |x| = 0.625 Cephes' rational (f64) or polynomial (f32) in x², exact for
///   tiny x; above, 1 - 2 / (e^(2|x|) + 1) from the same reduction as exp, ±1 from |x| = 20
///   (f64) or 10 (f32).
/// - ln_1p: ln(1 + x) with the rounding error of 1 + x added back (Goldberg).
/// - abs: the sign bit cleared (`f64::abs` is not in `core` before Rust 1.85).
///
/// Special values are selects on the result, so each function is one straight line of
/// arithmetic: NaN in is NaN out, and ±∞, ±0, overflow to ∞ and underflow to 0 are std's.
/// tests/math.rs measures the functions against std; docs/codegen.md quotes the maxima.
///
/// # Templates
/// math_f64.rs and math_f32.rs are real Rust (tests/math.rs `include!`s them), one item (or
/// a group of constants) per paragraph: the module keeps the paragraphs that define a
/// function asked for or a name a kept paragraph's code mentions.
pub fn math_module(float: Float, functions: &[&str]) -> String {
    let template = match float {
        Float::F64 => MATH_F64,
        Float::F32 => MATH_F32,
    };
    let text = body(template);
    let items: Vec<&str> = text.split("\n\n").collect();
    // The names each paragraph defines, and the words of its code (comments left out).
    let defines = |item: &str| -> Vec<String> {
        item.lines()
            .filter_map(|l| {
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let rest = l.strip_prefix("const ").or_else(|| l.strip_prefix("fn "))?;
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
                Some(rest[..end].to_string())
            })
            .collect()
    };
    let words = |item: &str| -> Vec<String> {
        item.lines()
            .map(|l| l.find("//").map_or(l, |at| &l[..at]))
            .flat_map(|l| l.split(|c: char| !(c.is_alphanumeric() || c == '_')))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut keep: Vec<bool> = items
        .iter()
        .map(|item| {
            defines(item)
                .iter()
                .any(|n| functions.contains(&n.as_str()))
        })
        .collect();
    loop {
        let wanted: Vec<String> = items
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .flat_map(|(item, _)| words(item))
            .collect();
        let more: Vec<bool> = items
            .iter()
            .zip(&keep)
            .map(|(item, k)| *k || defines(item).iter().any(|n| wanted.contains(n)))
            .collect();
        if more == keep {
            break;
        }
        keep = more;
    }
    let kept: Vec<&str> = items
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(item, _)| item.trim_end_matches('\n'))
        .collect();
    let list = functions
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "/// The module's own {list}: straight-line code (no calls, no branches), so that\n\
         /// loops over elements vectorise, within an ulp or two of std's.\n\
         /// Written by netgrad from its templates (src/codegen/kernels/).\n\
         mod math {{\n{}}}\n",
        indent(&format!("{}\n", kept.join("\n\n")))
    )
}

const F64: &str = include_str!("f64.rs");
const F32: &str = include_str!("f32.rs");
const GEMM: &str = include_str!("gemm.rs");
const PORTABLE: &str = include_str!("portable.rs");
const X86: &str = include_str!("x86.rs");
const NATIVE: &str = include_str!("native.rs");
const DISPATCH: &str = include_str!("dispatch.rs");
const AVX2: &str = include_str!("avx2.rs");

/// The text of a module `mod gemm { ... }` for generated code, for this float, these target
/// features, and `no_std` (true: no `std`, so `Dispatch` behaves as `Native`). It defines
/// `pub fn gemm` and `pub const fn pack_len`; see gemm.rs.
pub fn gemm_module(float: Float, features: TargetFeatures, no_std: bool) -> String {
    let features = match features {
        TargetFeatures::Dispatch if no_std => TargetFeatures::Native,
        f => f,
    };
    let (float_piece, suffix) = match float {
        Float::F64 => (F64, "pd"),
        Float::F32 => (F32, "ps"),
    };
    let chooses = match features {
        TargetFeatures::Portable => "a portable\n/// micro-kernel only, all safe code",
        TargetFeatures::Native => {
            "an AVX2+FMA\n/// micro-kernel where the crate is compiled with both features (x86_64), else a portable one"
        }
        TargetFeatures::Dispatch => {
            "an AVX2+FMA\n/// micro-kernel where the CPU has both features (x86_64, detected once), else a portable one"
        }
    };
    let mut out = format!(
        "/// Matrix products C = A·B and C += A·B: a packed, cache-blocked GEMM, with {chooses}.\n\
         /// Written by netgrad from its kernel templates (src/codegen/kernels/).\n\
         mod gemm {{\n"
    );
    let mut pieces = vec![body(float_piece), body(GEMM)];
    match features {
        TargetFeatures::Portable => pieces.push(body(PORTABLE)),
        TargetFeatures::Native | TargetFeatures::Dispatch => {
            pieces.push(body(X86));
            pieces.push(body(if features == TargetFeatures::Native {
                NATIVE
            } else {
                DISPATCH
            }));
            let imports = ["add", "fmadd", "loadu", "set1", "setzero", "storeu"]
                .map(|f| {
                    let alias = match f {
                        "loadu" => "load",
                        "set1" => "splat",
                        "setzero" => "zero",
                        "storeu" => "store",
                        other => other,
                    };
                    format!("_mm256_{f}_{suffix} as {alias}")
                })
                .join(", ");
            pieces.push(format!(
                "/// The AVX2+FMA micro-kernel. Its intrinsics have short names here, the same\n\
                 /// for both floats.\n\
                 #[cfg(target_arch = \"x86_64\")]\n\
                 mod avx2 {{\n{}}}\n",
                indent(&format!(
                    "use core::arch::x86_64::{{\n{}}};\n\n{}",
                    wrap(&imports),
                    body(AVX2)
                ))
            ));
        }
    }
    out.push_str(&indent(&pieces.join("\n")));
    out.push_str("}\n");
    out
}

/// A template without its leading comment (which is about the template, not the code).
fn body(template: &str) -> String {
    let mut lines = template
        .lines()
        .skip_while(|l| l.starts_with("//"))
        .peekable();
    while lines.peek().is_some_and(|l| l.is_empty()) {
        lines.next();
    }
    lines.map(|l| format!("{l}\n")).collect()
}

/// Four more spaces before every line that is not empty.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}

/// A list of imports in rustfmt's layout: indented, as many a line as fit in 100 columns
/// (at two levels of indentation), and a trailing comma.
fn wrap(list: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for item in list.split(", ") {
        if !line.is_empty() && 8 + line.len() + item.len() + 2 > 100 {
            out.push_str(&format!("    {}\n", line.trim_end()));
            line.clear();
        }
        line.push_str(item);
        line.push_str(", ");
    }
    out.push_str(&format!("    {}\n", line.trim_end()));
    out
}
