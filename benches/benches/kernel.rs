//! netgrad's GEMM module (src/codegen/kernels) next to `matrixmultiply` on the batched MNIST
//! net's three shapes, with the strides generated code passes, in f64 and f32, with the
//! run-time dispatch (AVX2+FMA here) and with the portable micro-kernel; and on small
//! shapes next to a plain triple loop, to find the size above which the generator should call
//! `gemm`. Throughputs are in FLOP/s (items: floating-point operations, 2·m·n·k). The
//! contenders on a shape run one after the other, so that a burst of load on a shared
//! machine hits them alike.
//!
//! The modules are assembled from the templates as `gemm_module` assembles them (the bench
//! crate has no build step for them): the float's piece, gemm.rs, then the selection pieces.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use netgrad_benches::hand::{D, H, K, N};
use netgrad_benches::values;

fn main() {
    divan::main();
}

/// The f64 module with run-time dispatch (`TargetFeatures::Dispatch`).
mod f64_dispatch {
    include!("../../src/codegen/kernels/f64.rs");
    include!("../../src/codegen/kernels/gemm.rs");
    include!("../../src/codegen/kernels/x86.rs");
    include!("../../src/codegen/kernels/dispatch.rs");
    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use core::arch::x86_64::{
            _mm256_add_pd as add, _mm256_fmadd_pd as fmadd, _mm256_loadu_pd as load,
            _mm256_set1_pd as splat, _mm256_setzero_pd as zero, _mm256_storeu_pd as store,
        };
        include!("../../src/codegen/kernels/avx2.rs");
    }
}

/// The f64 module with the portable kernel only (`TargetFeatures::Portable`).
mod f64_portable {
    include!("../../src/codegen/kernels/f64.rs");
    include!("../../src/codegen/kernels/gemm.rs");
    include!("../../src/codegen/kernels/portable.rs");
}

/// The f32 module with run-time dispatch.
mod f32_dispatch {
    include!("../../src/codegen/kernels/f32.rs");
    include!("../../src/codegen/kernels/gemm.rs");
    include!("../../src/codegen/kernels/x86.rs");
    include!("../../src/codegen/kernels/dispatch.rs");
    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use core::arch::x86_64::{
            _mm256_add_ps as add, _mm256_fmadd_ps as fmadd, _mm256_loadu_ps as load,
            _mm256_set1_ps as splat, _mm256_setzero_ps as zero, _mm256_storeu_ps as store,
        };
        include!("../../src/codegen/kernels/avx2.rs");
    }
}

/// The f32 module with the portable kernel only.
mod f32_portable {
    include!("../../src/codegen/kernels/f32.rs");
    include!("../../src/codegen/kernels/gemm.rs");
    include!("../../src/codegen/kernels/portable.rs");
}

/// A product C (m × n, row-major) = A·B with A's and B's strides.
#[derive(Clone, Copy, Debug)]
struct Shape {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    a: (usize, usize),
    b: (usize, usize),
}

/// A shape: its name, m, n, k, and A's and B's row and column strides.
const fn shape(
    name: &'static str,
    [m, n, k]: [usize; 3],
    a: (usize, usize),
    b: (usize, usize),
) -> Shape {
    Shape {
        name,
        m,
        n,
        k,
        a,
        b,
    }
}

/// The batched net's shapes, with generated code's strides (see benches/src/gemm.rs).
const NET: [Shape; 3] = [
    shape("1_forward", [N, H, D], (D, 1), (1, D)),
    shape("2_weight_gradient", [H, D, N], (1, H), (D, 1)),
    shape("3_backprop", [N, H, K], (K, 1), (H, 1)),
];

/// Small row-major shapes, m × n × k.
const SMALL: [Shape; 10] = [
    shape("4x4x4", [4, 4, 4], (4, 1), (4, 1)),
    shape("8x8x8", [8, 8, 8], (8, 1), (8, 1)),
    shape("16x16x16", [16, 16, 16], (16, 1), (16, 1)),
    shape("24x24x24", [24, 24, 24], (24, 1), (24, 1)),
    shape("32x32x32", [32, 32, 32], (32, 1), (32, 1)),
    shape("64x64x64", [64, 64, 64], (64, 1), (64, 1)),
    shape("10x128x1", [10, 128, 1], (1, 1), (128, 1)),
    shape("64x128x1", [64, 128, 1], (1, 1), (128, 1)),
    shape("64x128x2", [64, 128, 2], (2, 1), (128, 1)),
    shape("64x128x4", [64, 128, 4], (4, 1), (128, 1)),
];

/// Who computes a product.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// netgrad's `gemm` with run-time dispatch (`TargetFeatures::Dispatch`).
    Dispatch,
    /// `matrixmultiply::dgemm` or `sgemm`.
    Matrixmultiply,
    /// netgrad's `gemm` with the portable kernel only (`TargetFeatures::Portable`).
    Portable,
    /// The plain triple loop generated code would use without `gemm`: C's row i is the sum
    /// over p of A(i, p) times B's row p, so the inner loop runs along rows with stride 1.
    TripleLoop,
}

/// A benchmark: a shape and who computes it.
#[derive(Clone, Copy, Debug)]
struct Case {
    shape: Shape,
    who: Who,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.shape.name, self.who)
    }
}

/// Every shape with every contender, shape by shape.
const fn cases<const C: usize>(shapes: &[Shape], who: &[Who]) -> [Case; C] {
    let mut all = [Case {
        shape: shapes[0],
        who: who[0],
    }; C];
    let mut i = 0;
    while i < C {
        all[i] = Case {
            shape: shapes[i / who.len()],
            who: who[i % who.len()],
        };
        i += 1;
    }
    all
}

const NET_CASES: [Case; 9] = cases(&NET, &[Who::Dispatch, Who::Matrixmultiply, Who::Portable]);
const SMALL_CASES: [Case; 30] = cases(
    &SMALL,
    &[Who::Dispatch, Who::Matrixmultiply, Who::TripleLoop],
);

/// Short for the many sizes and strides of a signature.
type U = usize;

/// The signature of `gemm`.
type Gemm<R> = fn(U, U, U, &[R], U, U, &[R], U, U, &mut [R], U, U, bool, &mut [R]);

/// A module's `gemm` and `pack_len`.
type Module<R> = (Gemm<R>, fn(U, U, U) -> U);

/// The signature of `matrixmultiply::dgemm` and `sgemm`.
type Blas<R> =
    unsafe fn(U, U, U, R, *const R, isize, isize, *const R, isize, isize, R, *mut R, isize, isize);

/// A float of the benchmarks, and its contenders.
trait Real: Copy + Default + std::ops::AddAssign + std::ops::Mul<Output = Self> + 'static {
    const ONE: Self;
    const DISPATCH: Module<Self>;
    const PORTABLE: Module<Self>;
    const BLAS: Blas<Self>;
    fn of(x: f64) -> Self;
}

impl Real for f64 {
    const ONE: Self = 1.0;
    const DISPATCH: Module<Self> = (f64_dispatch::gemm, f64_dispatch::pack_len);
    const PORTABLE: Module<Self> = (f64_portable::gemm, f64_portable::pack_len);
    const BLAS: Blas<Self> = matrixmultiply::dgemm;
    fn of(x: f64) -> Self {
        x
    }
}

impl Real for f32 {
    const ONE: Self = 1.0;
    const DISPATCH: Module<Self> = (f32_dispatch::gemm, f32_dispatch::pack_len);
    const PORTABLE: Module<Self> = (f32_portable::gemm, f32_portable::pack_len);
    const BLAS: Blas<Self> = matrixmultiply::sgemm;
    fn of(x: f64) -> Self {
        x as f32
    }
}

/// `Who::TripleLoop` (row-major B and C only).
fn triple_loop<R: Real>(
    [m, n, k]: [U; 3],
    (a, rsa, csa): (&[R], U, U),
    (b, rsb): (&[R], U),
    c: &mut [R],
) {
    for i in 0..m {
        let row = &mut c[i * n..][..n];
        row.fill(R::default());
        for p in 0..k {
            let x = a[i * rsa + p * csa];
            for (c, &b) in row.iter_mut().zip(&b[p * rsb..][..n]) {
                *c += x * b;
            }
        }
    }
}

/// Times C = A·B for a case.
fn bench<R: Real>(bencher: Bencher, case: &Case) {
    let Case { shape: s, who } = *case;
    let (m, n, k) = (s.m, s.n, s.k);
    let a: Vec<R> = values(m * k, 1).into_iter().map(R::of).collect();
    let b: Vec<R> = values(k * n, 2).into_iter().map(R::of).collect();
    let mut c = vec![R::default(); m * n];
    let bencher = bencher.counter(ItemsCount::new(2 * m * n * k));
    let (gemm, pack_len) = match who {
        Who::Dispatch => R::DISPATCH,
        Who::Portable => R::PORTABLE,
        Who::TripleLoop => {
            assert_eq!(s.b.1, 1, "the triple loop takes a row-major B");
            return bencher.bench_local(|| {
                let (a, b) = (
                    (black_box(&a[..]), s.a.0, s.a.1),
                    (black_box(&b[..]), s.b.0),
                );
                triple_loop([m, n, k], a, b, black_box(&mut c))
            });
        }
        // SAFETY: A, B and C are dense m × k, k × n and m × n matrices with these strides.
        Who::Matrixmultiply => {
            return bencher.bench_local(|| unsafe {
                let (a, b, c) = (black_box(&a), black_box(&b), black_box(&mut c));
                let [rsa, csa, rsb, csb] = [s.a.0, s.a.1, s.b.0, s.b.1].map(|x| x as isize);
                let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
                R::BLAS(
                    m,
                    k,
                    n,
                    R::ONE,
                    a,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    R::default(),
                    c,
                    n as isize,
                    1,
                )
            })
        }
    };
    let mut pack = vec![R::default(); pack_len(m, n, k)];
    bencher.bench_local(|| {
        let (a, b, c) = (black_box(&a), black_box(&b), black_box(&mut c));
        gemm(
            m, n, k, a, s.a.0, s.a.1, b, s.b.0, s.b.1, c, n, 1, false, &mut pack,
        )
    });
}

/// f64 on the batched net's shapes.
#[divan::bench(args = NET_CASES)]
fn f64(b: Bencher, case: &Case) {
    bench::<f64>(b, case);
}

/// f32 on the batched net's shapes.
#[divan::bench(args = NET_CASES)]
fn f32(b: Bencher, case: &Case) {
    bench::<f32>(b, case);
}

/// f64 on small shapes.
#[divan::bench(args = SMALL_CASES)]
fn small_f64(b: Bencher, case: &Case) {
    bench::<f64>(b, case);
}
