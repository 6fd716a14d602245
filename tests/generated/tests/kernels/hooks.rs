// Included after the body of an emitted `mod gemm` (see ../kernels.rs): `gemm` with its
// micro-kernel chosen explicitly, which only code inside the module can do.

/// Whether this CPU can run the AVX2+FMA micro-kernel.
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `gemm` with the AVX2+FMA micro-kernel (`avx2`) or the portable one.
///
/// # Panics
/// For `avx2` where the CPU does not have AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    avx2: bool,
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    rsa: usize,
    csa: usize,
    b: &[F],
    rsb: usize,
    csb: usize,
    c: &mut [F],
    rsc: usize,
    csc: usize,
    accumulate: bool,
    pack: &mut [F],
) {
    let kernel = if avx2 {
        assert!(has_avx2(), "this CPU has no AVX2 or no FMA");
        #[cfg(target_arch = "x86_64")]
        let avx2 = Kernel::Avx2;
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = unreachable!();
        avx2
    } else {
        Kernel::Portable
    };
    let (a, b) = (Matrix { data: a, rs: rsa, cs: csa }, Matrix { data: b, rs: rsb, cs: csb });
    run(kernel, [m, n, k], a, b, (c, rsc, csc), accumulate, pack);
}
