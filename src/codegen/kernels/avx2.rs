// Template: the body of `mod avx2`, after the `use` of the float's intrinsics that mod.rs
// writes (`zero`, `splat`, `load`, `store`, `add`, `fmadd`). See mod.rs. This
// comment is not emitted.

use super::{Kernel, Matrix, Out, Tile, F, LANES, MR, NR};

/// `super::blocked` with the AVX2 micro-kernel, compiled for AVX2: the packing loops are
/// vectorised for it, and the micro-kernel is inlined.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn blocked(
    dims: [usize; 3],
    a: Matrix,
    b: Matrix,
    c: Out,
    pack: &mut [F],
) {
    super::blocked(Kernel::Avx2, dims, a, b, c, pack);
}

/// The AVX2+FMA micro-kernel: each step of the depth loads a row of B's panel as two
/// vectors and adds an element of A's panel times them to a row of the tile (two FMAs).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(kc: usize, a: &[F], b: &[F], out: Tile) {
    let mut acc = [[zero(); 2]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
        // SAFETY: `bp` holds NR = 2 * LANES elements, two vectors.
        let (b0, b1) = unsafe { (load(bp.as_ptr()), load(bp[LANES..].as_ptr())) };
        for (row, &x) in acc.iter_mut().zip(ap) {
            let x = splat(x);
            row[0] = fmadd(x, b0, row[0]);
            row[1] = fmadd(x, b1, row[1]);
        }
    }
    if out.rows == MR && out.cols == NR && out.csc == 1 {
        // A whole tile on rows of C: straight from the registers.
        for (i, row) in acc.iter().enumerate() {
            let dst = &mut out.c[i * out.rsc..][..NR];
            let (lo, hi) = dst.split_at_mut(LANES);
            // SAFETY: `lo` and `hi` hold LANES elements each, a vector.
            unsafe {
                let (mut r0, mut r1) = (row[0], row[1]);
                if out.accumulate {
                    r0 = add(r0, load(lo.as_ptr()));
                    r1 = add(r1, load(hi.as_ptr()));
                }
                store(lo.as_mut_ptr(), r0);
                store(hi.as_mut_ptr(), r1);
            }
        }
    } else {
        let mut spilled = [[0.0; NR]; MR];
        for (s, row) in spilled.iter_mut().zip(&acc) {
            let (lo, hi) = s.split_at_mut(LANES);
            // SAFETY: `lo` and `hi` hold LANES elements each, a vector.
            unsafe {
                store(lo.as_mut_ptr(), row[0]);
                store(hi.as_mut_ptr(), row[1]);
            }
        }
        out.store(&spilled);
    }
}
