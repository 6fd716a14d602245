//! The GEMM module of generated code (`netgrad::codegen::kernels`), compiled from its emitted
//! text in every variant (build.rs): each micro-kernel called explicitly (the portable one,
//! and the AVX2+FMA one where the CPU has AVX2 and FMA) and every variant's `gemm`, in f64
//! and f32, against a naive product in f64, over shapes that run every edge and block path
//! and every layout of the operands, with scratch of exactly `pack_len`.

include!(concat!(env!("OUT_DIR"), "/kernels.rs"));

/// The f64 Dispatch module, with `gemm_with` to pick its micro-kernel (the tests call that
/// rather than its `gemm`).
#[allow(dead_code)]
mod f64_kernels {
    include!(concat!(env!("OUT_DIR"), "/gemm_f64_body.rs"));
    include!("kernels/hooks.rs");
}

/// The f32 Dispatch module, with `gemm_with` to pick its micro-kernel (the tests call that
/// rather than its `gemm`).
#[allow(dead_code)]
mod f32_kernels {
    include!(concat!(env!("OUT_DIR"), "/gemm_f32_body.rs"));
    include!("kernels/hooks.rs");
}

/// A float the modules are generated for.
trait Real: Copy + PartialEq + std::fmt::Debug {
    /// The error allowed, relative to the sum of the magnitudes of the terms.
    const TOLERANCE: f64;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f64 {
    const TOLERANCE: f64 = 1e-12;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const TOLERANCE: f64 = 1e-4;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self.into()
    }
}

/// Short for the many sizes and strides of a signature.
type U = usize;

/// `gemm`, its operands as (slice, row stride, column stride); build.rs wraps each
/// variant's `gemm` so.
type Gemm<R> = fn([U; 3], (&[R], U, U), (&[R], U, U), (&mut [R], U, U), bool, &mut [R]);

/// The signature of `pack_len`.
type PackLen = fn(usize, usize, usize) -> usize;

/// Deterministic values in [-1, 1) (xorshift).
fn values<R: Real>(len: usize, seed: u64) -> Vec<R> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            R::from_f64((x >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
        })
        .collect()
}

/// How a `rows` × `cols` operand lies in memory.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    ColumnMajor,
    /// Every other element of every other row, rows in the gaps of a bigger array.
    Spread,
    /// Column-major in a bigger array: column stride more than `rows`, row stride 3.
    SpreadColumns,
}

impl Layout {
    /// The row and column strides, and the length of the slice.
    fn strides(self, rows: usize, cols: usize) -> (usize, usize, usize) {
        let (rs, cs) = match self {
            Layout::RowMajor => (cols, 1),
            Layout::ColumnMajor => (1, rows),
            Layout::Spread => (2 * cols + 1, 2),
            Layout::SpreadColumns => (3, 3 * rows + 2),
        };
        let len = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        (rs, cs, len)
    }
}

const LAYOUTS: [Layout; 4] = [
    Layout::RowMajor,
    Layout::ColumnMajor,
    Layout::Spread,
    Layout::SpreadColumns,
];

/// Shapes (m, n, k): empty ones, ones below a tile (6 × 8 or 6 × 16), odd ones, and ones
/// beyond a block of A's rows (96), of the depth (256) and of B's columns (1024).
const SHAPES: &[(usize, usize, usize)] = &[
    (0, 0, 0),
    (0, 5, 3),
    (4, 0, 3),
    (3, 5, 0),
    (1, 1, 1),
    (1, 9, 2),
    (7, 1, 5),
    (2, 3, 1),
    (5, 7, 3),
    (6, 8, 4),
    (6, 16, 9),
    (7, 9, 13),
    (13, 17, 31),
    (97, 5, 3),
    (3, 1030, 2),
    (11, 13, 257),
    (101, 35, 300),
    (200, 41, 530),
];

/// Checks a `gemm` against the naive product over every shape, layout and `accumulate`;
/// returns how many products it checked.
fn check<R: Real>(what: &str, gemm: Gemm<R>, pack_len: PackLen) -> usize {
    let mut count = 0;
    for (s, &(m, n, k)) in SHAPES.iter().enumerate() {
        for combination in 0..LAYOUTS.len().pow(3) {
            // The big shapes in fewer layouts: they take most of the time.
            if m * n * k > 100_000 && combination % 7 != 0 {
                continue;
            }
            let [la, lb, lc] = [1, 4, 16].map(|d| LAYOUTS[combination / d % LAYOUTS.len()]);
            for accumulate in [false, true] {
                check_one(
                    what,
                    gemm,
                    pack_len,
                    [m, n, k],
                    [la, lb, lc],
                    accumulate,
                    s as u64,
                );
                count += 1;
            }
        }
    }
    count
}

/// One product: C on entry is NaN where `accumulate` is false (so it must be overwritten)
/// and random where it is true, the gaps of a spread C hold a sentinel that must survive,
/// and the scratch, of exactly `pack_len`, starts as NaN.
#[allow(clippy::too_many_arguments)]
fn check_one<R: Real>(
    what: &str,
    gemm: Gemm<R>,
    pack_len: PackLen,
    [m, n, k]: [usize; 3],
    [la, lb, lc]: [Layout; 3],
    accumulate: bool,
    seed: u64,
) {
    let (rsa, csa, len_a) = la.strides(m, k);
    let (rsb, csb, len_b) = lb.strides(k, n);
    let (rsc, csc, len_c) = lc.strides(m, n);
    let a: Vec<R> = values(len_a, 3 * seed + 1);
    let b: Vec<R> = values(len_b, 3 * seed + 2);
    let sentinel = R::from_f64(1234.5);
    let mut c = vec![sentinel; len_c];
    let start: Vec<R> = values(m * n, 3 * seed + 3);
    for i in 0..m {
        for j in 0..n {
            c[i * rsc + j * csc] = if accumulate {
                start[i * n + j]
            } else {
                R::from_f64(f64::NAN)
            };
        }
    }
    let mut pack = vec![R::from_f64(f64::NAN); pack_len(m, n, k)];
    gemm(
        [m, n, k],
        (&a, rsa, csa),
        (&b, rsb, csb),
        (&mut c, rsc, csc),
        accumulate,
        &mut pack,
    );
    let case = format!(
        "{what}: m {m}, n {n}, k {k}, A {la:?}, B {lb:?}, C {lc:?}, accumulate {accumulate}"
    );
    let mut inside = vec![false; len_c];
    for i in 0..m {
        for j in 0..n {
            let (mut want, mut size) = (0.0, 0.0);
            if accumulate {
                want = start[i * n + j].to_f64();
                size = want.abs();
            }
            for p in 0..k {
                let term = a[i * rsa + p * csa].to_f64() * b[p * rsb + j * csb].to_f64();
                want += term;
                size += term.abs();
            }
            let got = c[i * rsc + j * csc].to_f64();
            assert!(
                (got - want).abs() <= R::TOLERANCE * size,
                "{case}: C({i}, {j}) is {got}, not {want}"
            );
            inside[i * rsc + j * csc] = true;
        }
    }
    for (e, x) in c.iter().enumerate() {
        assert!(
            inside[e] || *x == sentinel,
            "{case}: c[{e}] outside C was written"
        );
    }
}

#[test]
fn the_portable_micro_kernel_agrees_with_the_naive_product() {
    let f64_portable: Gemm<f64> =
        |d, a, b, c, acc, pack| f64_kernels::gemm_with(false, d, a, b, c, acc, pack);
    assert!(check("f64 portable", f64_portable, f64_kernels::pack_len) > 1000);
    let f32_portable: Gemm<f32> =
        |d, a, b, c, acc, pack| f32_kernels::gemm_with(false, d, a, b, c, acc, pack);
    check("f32 portable", f32_portable, f32_kernels::pack_len);
}

#[test]
fn the_avx2_micro_kernel_agrees_with_the_naive_product() {
    if !f64_kernels::has_avx2() {
        eprintln!("skipped: this CPU has no AVX2 or no FMA");
        return;
    }
    let f64_avx2: Gemm<f64> =
        |d, a, b, c, acc, pack| f64_kernels::gemm_with(true, d, a, b, c, acc, pack);
    check("f64 AVX2", f64_avx2, f64_kernels::pack_len);
    let f32_avx2: Gemm<f32> =
        |d, a, b, c, acc, pack| f32_kernels::gemm_with(true, d, a, b, c, acc, pack);
    check("f32 AVX2", f32_avx2, f32_kernels::pack_len);
}

#[test]
fn every_variant_agrees_with_the_naive_product() {
    for (what, gemm, pack_len) in F64_VARIANTS {
        check(what, *gemm, *pack_len);
    }
    for (what, gemm, pack_len) in F32_VARIANTS {
        check(what, *gemm, *pack_len);
    }
}

/// Dispatch picks the AVX2 kernel here: its result has the AVX2 kernel's bits, which differ
/// from the portable one's (FMA rounds once, a multiply and an add twice).
#[test]
fn dispatch_runs_the_avx2_kernel_where_the_cpu_has_it() {
    if !f64_kernels::has_avx2() {
        eprintln!("skipped: this CPU has no AVX2 or no FMA");
        return;
    }
    let (m, n, k) = (64, 128, 784);
    let (a, b) = (values::<f64>(m * k, 1), values::<f64>(k * n, 2));
    let product = |gemm: Gemm<f64>| {
        let (mut c, mut pack) = (vec![0.0; m * n], vec![0.0; f64_kernels::pack_len(m, n, k)]);
        gemm(
            [m, n, k],
            (&a, k, 1),
            (&b, 1, k),
            (&mut c, n, 1),
            false,
            &mut pack,
        );
        c
    };
    let (_, dispatch, _) = F64_VARIANTS.iter().find(|v| v.0 == "f64_dispatch").unwrap();
    let avx2 = product(|d, a, b, c, acc, pack| f64_kernels::gemm_with(true, d, a, b, c, acc, pack));
    assert_eq!(product(*dispatch), avx2);
    let portable =
        product(|d, a, b, c, acc, pack| f64_kernels::gemm_with(false, d, a, b, c, acc, pack));
    assert_ne!(avx2, portable);
}

/// Scratch of exactly `pack_len` at every alignment (`gemm` starts B's panels on a cache
/// line inside it) gives the same bits; an empty product needs none.
#[test]
fn scratch_of_exactly_pack_len_at_any_alignment() {
    let (m, n, k) = (13, 21, 300);
    let (a, b) = (values::<f32>(m * k, 1), values::<f32>(k * n, 2));
    let len = f32_dispatch::pack_len(m, n, k);
    let mut first = None;
    for offset in 0..16 {
        let mut buffer = vec![f32::NAN; len + 16];
        let pack = &mut buffer[offset..offset + len];
        let mut c = vec![0.0; m * n];
        f32_dispatch::gemm(m, n, k, &a, k, 1, &b, n, 1, &mut c, n, 1, false, pack);
        assert!(c.iter().all(|x| x.is_finite()));
        assert_eq!(
            *first.get_or_insert_with(|| c.clone()),
            c,
            "offset {offset}"
        );
    }
    for (m, n, k) in [(0, 4, 5), (4, 0, 5), (4, 5, 0)] {
        assert_eq!(f64_portable::pack_len(m, n, k), 0);
        let mut c = [1.0; 20];
        f64_portable::gemm(
            m,
            n,
            k,
            &[0.0; 20],
            5,
            1,
            &[0.0; 25],
            5,
            1,
            &mut c,
            5,
            1,
            false,
            &mut [],
        );
        assert_eq!(
            c.iter().filter(|x| **x == 0.0).count(),
            if k == 0 { m * n } else { 0 }
        );
    }
}

#[test]
#[should_panic(expected = "gemm: slice too short for its sizes and strides: a (m × k, rsa, csa)")]
fn a_short_a_panics() {
    let mut c = [0.0; 4];
    f64_dispatch::gemm(
        2,
        2,
        3,
        &[0.0; 5],
        3,
        1,
        &[0.0; 6],
        2,
        1,
        &mut c,
        2,
        1,
        false,
        &mut [0.0; 100],
    );
}

#[test]
#[should_panic(expected = "gemm: slice too short for its sizes and strides: b (k × n, rsb, csb)")]
fn a_short_b_panics() {
    let mut c = [0.0; 4];
    f64_dispatch::gemm(
        2,
        2,
        3,
        &[0.0; 6],
        3,
        1,
        &[0.0; 6],
        1,
        4,
        &mut c,
        2,
        1,
        false,
        &mut [0.0; 100],
    );
}

#[test]
#[should_panic(expected = "gemm: slice too short for its sizes and strides: c (m × n, rsc, csc)")]
fn a_short_c_panics() {
    let mut c = [0.0; 4];
    f64_portable::gemm(
        2,
        2,
        3,
        &[0.0; 6],
        3,
        1,
        &[0.0; 6],
        2,
        1,
        &mut c,
        1,
        3,
        true,
        &mut [0.0; 100],
    );
}

#[test]
#[should_panic(expected = "gemm: pack is shorter than pack_len(m, n, k)")]
fn a_short_pack_panics() {
    let mut c = [0.0; 4];
    let mut pack = vec![0.0; f32_native::pack_len(2, 2, 3) - 1];
    f32_native::gemm(
        2, 2, 3, &[0.0; 6], 3, 1, &[0.0; 6], 2, 1, &mut c, 2, 1, false, &mut pack,
    );
}

#[test]
fn huge_strides_panic_rather_than_overflow() {
    let result = std::panic::catch_unwind(|| {
        let mut c = [0.0; 4];
        f64_dispatch::gemm(
            2,
            2,
            2,
            &[0.0; 4],
            usize::MAX / 2,
            1,
            &[0.0; 4],
            2,
            1,
            &mut c,
            2,
            1,
            false,
            &mut [0.0; 100],
        );
    });
    assert!(result.is_err());
}

/// The generator sizes its scratch with `netgrad::codegen::kernels::pack_len`, which must
/// agree with every emitted `pack_len`.
#[test]
fn the_generator_knows_each_modules_pack_len() {
    let sizes = [
        0, 1, 2, 5, 6, 7, 13, 64, 95, 96, 97, 255, 256, 257, 784, 1023, 1024, 1500,
    ];
    for (float, variants) in [
        (
            netgrad::Float::F64,
            F64_VARIANTS.iter().map(|v| v.2).collect::<Vec<_>>(),
        ),
        (
            netgrad::Float::F32,
            F32_VARIANTS.iter().map(|v| v.2).collect(),
        ),
    ] {
        for m in sizes {
            for n in sizes {
                for k in [0, 1, 3, 64, 256, 300, 784] {
                    let want = netgrad::codegen::kernels::pack_len(float, m, n, k);
                    for pack_len in &variants {
                        assert_eq!(pack_len(m, n, k), want, "{float:?} {m} × {n} × {k}");
                    }
                }
            }
        }
    }
}
