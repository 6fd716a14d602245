//! The whole pipeline on arbitrary bytes: decode, parse, check, every
//! backend of the front end, autodiff with and without simplification,
//! explain (all formats, with steps), generated code (every option), and,
//! when the program is small, the interpreter and the gradient check. Any
//! panic, abort, stack overflow or timeout is a finding.
#![no_main]

mod common;

use common::{work, MAX_EVALUATED};
use libfuzzer_sys::fuzz_target;
use netgrad::explain::Format;

fuzz_target!(|bytes: &[u8]| {
    let text = match netgrad::decode(bytes.to_vec()) {
        Ok(text) => text,
        Err(e) => {
            let _ = netgrad::diag::render("f.net", &e.lossy, &[e.diagnostic]);
            return;
        }
    };
    let dag = match netgrad::front_end(&text) {
        Ok(dag) => dag,
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            let _ = netgrad::diag::render("f.net", &text, &diags);
            let _ = netgrad::diag::render_styled("f.net", &text, &diags, true);
            let _ = netgrad::diag::render_json("f.net", &text, &diags);
            return;
        }
    };
    let _ = netgrad::summary::summary(&dag);
    let _ = netgrad::dot::dot(&dag, "f");
    // Writing values is linear in the declared sizes (up to 2^27 scalars by
    // the limits of docs/language.md): only small programs, as for eval.
    let small = work(&dag.program) <= MAX_EVALUATED;
    if small {
        let _ = netgrad::values::template(&dag.program, netgrad::values::Fill::Zeros);
    }

    // Derivatives of recurrences are refused (E0507) until they are built;
    // any other refusal of a checked program is a bug.
    let (plain, _) = match netgrad::derive(dag.clone(), &[], false) {
        Ok(plain) => plain,
        Err(e) if e.contains("[E0507]") => return,
        Err(e) => panic!("every param: {e}"),
    };
    let (g, stats) = netgrad::derive(dag, &[], true).expect("every param");
    let _ = netgrad::summary::op_counts(&g, &stats);
    for format in [Format::Text, Format::Latex, Format::Markdown] {
        let _ = netgrad::explain::explain(&g, &text, format);
    }
    let _ = netgrad::explain::explain_with_steps(&g, &text, Format::Text);
    let _ = netgrad::explain::explain(&plain, &text, Format::Text);

    for (float, share, no_std) in [
        (netgrad::Float::F64, true, false),
        (netgrad::Float::F32, true, true),
        (netgrad::Float::F64, false, false),
    ] {
        let options = netgrad::codegen::Options {
            float,
            source: "f.net".into(),
            share,
            no_std,
            features: Default::default(),
            math: Default::default(),
        };
        // An error (a constant beyond f32's range) is a diagnostic, not a finding.
        let _ = netgrad::codegen::generate(if share { &g } else { &plain }, &options);
    }

    if small && work(&g.dag.program) <= MAX_EVALUATED {
        let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
        let data = netgrad::eval::run(&g.dag.program, &given);
        let _ = netgrad::values::result(&g, &data);
        let _ = netgrad::gradcheck::check_with(
            &g,
            &given,
            1,
            netgrad::gradcheck::Sample::AtMost(4),
            &mut (),
        );
    }
});
