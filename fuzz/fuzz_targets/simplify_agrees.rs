//! Simplification keeps values: on every valid program, the interpreter gives
//! the same loss, forward values and adjoints (gradients included) for the
//! simplified program as for what autodiff made, within a tolerance relative
//! to the size of the numbers involved. Where the unsimplified value is not
//! finite, simplification may give anything (it may remove an overflow);
//! where it is finite, the simplified one must be finite and close.
#![no_main]

mod common;

use common::{work, MAX_EVALUATED};
use libfuzzer_sys::fuzz_target;

/// Relative tolerance: simplification reorders and refactors floating-point
/// arithmetic, so results differ in the last bits, and by more where terms cancel.
const TOLERANCE: f64 = 1e-6;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(dag) = netgrad::front_end(text) else {
        return;
    };
    if work(&dag.program) > MAX_EVALUATED {
        return;
    }
    // Derivatives of recurrences are refused (E0507) until they are built.
    let (plain, _) = match netgrad::derive(dag.clone(), &[], false) {
        Ok(plain) => plain,
        Err(e) if e.contains("[E0507]") => return,
        Err(e) => panic!("every param: {e}"),
    };
    let (simple, _) = netgrad::derive(dag, &[], true).expect("every param");
    let p = &plain.dag.program;
    let s = &simple.dag.program;
    assert_eq!(
        p.values.len(),
        s.values.len(),
        "simplification keeps the values"
    );
    // Two points, uniform in [-1, 1) as `netgrad check` draws them.
    for seed in [1, 2] {
        let given = netgrad::gradcheck::random_values(p, seed);
        let a = netgrad::eval::run(p, &given);
        let b = netgrad::eval::run(s, &given);
        // The largest magnitude of any finite value: the scale of rounding
        // errors that cancellation can leave in a result.
        let scale = a
            .iter()
            .flatten()
            .filter(|x| x.is_finite())
            .fold(1.0f64, |m, x| m.max(x.abs()));
        for (id, (va, vb)) in a.iter().zip(&b).enumerate() {
            for (k, (x, y)) in va.iter().zip(vb).enumerate() {
                if !x.is_finite() {
                    continue;
                }
                assert!(
                    (x - y).abs() <= TOLERANCE * scale,
                    "`{}`[{k}] is {x:e} unsimplified, {y:e} simplified (scale {scale:e}, seed {seed})\n{text}",
                    p.values[id].name
                );
            }
        }
    }
});
