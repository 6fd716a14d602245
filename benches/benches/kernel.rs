//! netgrad's GEMM module (src/codegen/kernels) next to `matrixmultiply` on the batched MNIST
//! net's three shapes, with the strides generated code passes, in f64 and f32, with the
//! run-time dispatch (AVX2+FMA here) and with the portable micro-kernel; and on small
//! shapes next to a plain triple loop, to find the size above which the generator should call
//! `gemm`. Throughputs are in FLOP/s (items: floating-point operations, 2·m·n·k).
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
#[derive(Debug)]
struct Shape {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    a: (usize, usize),
    b: (usize, usize),
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
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
const NET: &[Shape] = &[
    shape("1_forward", [N, H, D], (D, 1), (1, D)),
    shape("2_weight_gradient", [H, D, N], (1, H), (D, 1)),
    shape("3_backprop", [N, H, K], (K, 1), (H, 1)),
];

/// Small row-major shapes, m × n × k.
const SMALL: &[Shape] = &[
    shape("4x4x4", [4, 4, 4], (4, 1), (4, 1)),
    shape("8x8x8", [8, 8, 8], (8, 1), (8, 1)),
    shape("16x16x16", [16, 16, 16], (16, 1), (16, 1)),
    shape("24x24x24", [24, 24, 24], (24, 1), (24, 1)),
    shape("32x32x32", [32, 32, 32], (32, 1), (32, 1)),
    shape("64x64x64", [64, 64, 64], (64, 1), (64, 1)),
    shape("10x128x1", [10, 128, 1], (1, 1), (128, 1)),
    shape("64x128x4", [64, 128, 4], (4, 1), (128, 1)),
];

/// Short for the many sizes and strides of a signature.
type U = usize;

/// The signature of `gemm`.
type Gemm<R> = fn(U, U, U, &[R], U, U, &[R], U, U, &mut [R], U, U, bool, &mut [R]);

/// The signature of `matrixmultiply::dgemm` and `sgemm`.
type Blas<R> =
    unsafe fn(U, U, U, R, *const R, isize, isize, *const R, isize, isize, R, *mut R, isize, isize);

/// A float of the benchmarks.
trait Real: Copy + Default + 'static {
    const ONE: Self;
    fn of(x: f64) -> Self;
}

impl Real for f64 {
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x
    }
}

impl Real for f32 {
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x as f32
    }
}

/// Times C = A·B with `gemm`, or with `blas` (matrixmultiply) if it is given.
fn bench<R: Real>(
    bencher: Bencher,
    s: &Shape,
    gemm: Gemm<R>,
    pack_len: usize,
    blas: Option<Blas<R>>,
) {
    let (m, n, k) = (s.m, s.n, s.k);
    let a: Vec<R> = values(m * k, 1).into_iter().map(R::of).collect();
    let b: Vec<R> = values(k * n, 2).into_iter().map(R::of).collect();
    let (mut c, mut pack) = (vec![R::default(); m * n], vec![R::default(); pack_len]);
    let bencher = bencher.counter(ItemsCount::new(2 * m * n * k));
    match blas {
        None => bencher.bench_local(|| {
            let (a, b, c) = (black_box(&a), black_box(&b), black_box(&mut c));
            gemm(
                m, n, k, a, s.a.0, s.a.1, b, s.b.0, s.b.1, c, n, 1, false, &mut pack,
            )
        }),
        // SAFETY: A, B and C are dense m × k, k × n and m × n matrices with these strides.
        Some(blas) => bencher.bench_local(|| unsafe {
            let (a, b, c) = (black_box(&a), black_box(&b), black_box(&mut c));
            let [rsa, csa, rsb, csb] = [s.a.0, s.a.1, s.b.0, s.b.1].map(|x| x as isize);
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
            blas(
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
        }),
    }
}

#[divan::bench(args = NET)]
fn f64_dispatch(b: Bencher, s: &Shape) {
    bench(
        b,
        s,
        f64_dispatch::gemm,
        f64_dispatch::pack_len(s.m, s.n, s.k),
        None,
    );
}

#[divan::bench(args = NET)]
fn f64_matrixmultiply(b: Bencher, s: &Shape) {
    bench(b, s, f64_dispatch::gemm, 0, Some(matrixmultiply::dgemm));
}

#[divan::bench(args = NET)]
fn f64_portable(b: Bencher, s: &Shape) {
    bench(
        b,
        s,
        f64_portable::gemm,
        f64_portable::pack_len(s.m, s.n, s.k),
        None,
    );
}

#[divan::bench(args = NET)]
fn f32_dispatch(b: Bencher, s: &Shape) {
    bench(
        b,
        s,
        f32_dispatch::gemm,
        f32_dispatch::pack_len(s.m, s.n, s.k),
        None,
    );
}

#[divan::bench(args = NET)]
fn f32_matrixmultiply(b: Bencher, s: &Shape) {
    bench(b, s, f32_dispatch::gemm, 0, Some(matrixmultiply::sgemm));
}

#[divan::bench(args = NET)]
fn f32_portable(b: Bencher, s: &Shape) {
    bench(
        b,
        s,
        f32_portable::gemm,
        f32_portable::pack_len(s.m, s.n, s.k),
        None,
    );
}

#[divan::bench(args = SMALL)]
fn small_f64_dispatch(b: Bencher, s: &Shape) {
    bench(
        b,
        s,
        f64_dispatch::gemm,
        f64_dispatch::pack_len(s.m, s.n, s.k),
        None,
    );
}

#[divan::bench(args = SMALL)]
fn small_f64_matrixmultiply(b: Bencher, s: &Shape) {
    bench(b, s, f64_dispatch::gemm, 0, Some(matrixmultiply::dgemm));
}

/// The plain triple loop generated code would use without `gemm`: C's row i is the sum over
/// p of A(i, p) times B's row p, so the inner loop runs along rows with stride 1.
#[divan::bench(args = SMALL)]
fn small_f64_triple_loop(b: Bencher, s: &Shape) {
    let triple_loop: Gemm<f64> = |m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, _, _| {
        assert!(csb == 1 && csc == 1);
        for i in 0..m {
            let row = &mut c[i * rsc..][..n];
            row.fill(0.0);
            for p in 0..k {
                let x = a[i * rsa + p * csa];
                for (c, &b) in row.iter_mut().zip(&b[p * rsb..][..n]) {
                    *c += x * b;
                }
            }
        }
    };
    bench(b, s, triple_loop, 0, None);
}
