// Template: `select` at run time, for std. See mod.rs. This comment is not emitted.

/// The micro-kernel for this CPU: AVX2+FMA if it has both (detected on the first call and
/// remembered), else the portable one.
fn select() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::atomic::{AtomicU8, Ordering};
        /// 0: not detected yet, 1: no AVX2 or no FMA, 2: AVX2 and FMA.
        static FOUND: AtomicU8 = AtomicU8::new(0);
        let mut found = FOUND.load(Ordering::Relaxed);
        if found == 0 {
            let avx2 = std::is_x86_feature_detected!("avx2");
            found = if avx2 && std::is_x86_feature_detected!("fma") {
                2
            } else {
                1
            };
            FOUND.store(found, Ordering::Relaxed);
        }
        if found == 2 {
            return Kernel::Avx2;
        }
    }
    Kernel::Portable
}
