// Included after the body of an emitted `mod gemm` (see ../kernels.rs): `gemm` with its
// micro-kernel chosen explicitly, which only code inside the module can do.

/// Whether this CPU can run the AVX2+FMA micro-kernel.
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `gemm` with the AVX2+FMA micro-kernel (`avx2`) or the portable one; the operands as
/// (slice, row stride, column stride).
///
/// # Panics
/// For `avx2` where the CPU does not have AVX2 and FMA.
pub fn gemm_with(
    avx2: bool,
    dims: [usize; 3],
    (a, rsa, csa): (&[F], usize, usize),
    (b, rsb, csb): (&[F], usize, usize),
    c: (&mut [F], usize, usize),
    accumulate: bool,
    pack: &mut [F],
) {
    assert!(!avx2 || has_avx2(), "this CPU has no AVX2 or no FMA");
    #[cfg(target_arch = "x86_64")]
    let kernel = if avx2 { Kernel::Avx2 } else { Kernel::Portable };
    #[cfg(not(target_arch = "x86_64"))]
    let kernel = Kernel::Portable;
    let (a, b) = (Matrix { data: a, rs: rsa, cs: csa }, Matrix { data: b, rs: rsb, cs: csb });
    run(kernel, dims, a, b, c, accumulate, pack);
}
