//! The no-std code agrees with the interpreter, in f64 to 1e-12 and in f32
//! to 1e-4: loss, gradient and outputs; and it checks its scratch buffer.

use std::string::String;
use std::vec;
use std::vec::Vec;

use super::{Net, F32, F64};

#[path = "../../common/reference.rs"]
mod reference;
use reference::{relative, Reference};

/// The reference of a network's `.net` file.
fn reference<R>(net: &Net<R>, seed: u64) -> Reference {
    let path = std::format!("{}/{}", env!("CARGO_MANIFEST_DIR"), net.path);
    reference::reference(&path, seed)
}

/// Compares every function of `net` with the interpreter; `to` converts to
/// the network's float type and `from` back.
fn agree<R: Copy + Default>(
    net: &Net<R>,
    seed: u64,
    tol: f64,
    to: fn(f64) -> R,
    from: fn(R) -> f64,
) {
    let r = reference(net, seed);
    let name = net.name;
    assert_eq!(
        (r.inputs.len(), r.params.len(), r.outputs.len()),
        (net.n_inputs, net.n_params, net.n_outputs),
        "{name}"
    );
    let inputs: Vec<R> = r.inputs.iter().map(|x| to(*x)).collect();
    let params: Vec<R> = r.params.iter().map(|x| to(*x)).collect();
    // Scratch holding garbage: the code must not depend on its contents.
    let mut scratch = vec![to(f64::NAN); net.scratch_len];
    let mut grad = vec![R::default(); net.n_params];
    let mut outputs = vec![R::default(); net.n_outputs];
    let loss = from((net.loss_flat)(&inputs, &params, &mut scratch));
    let again = from((net.gradient_flat)(
        &inputs,
        &params,
        &mut grad,
        &mut scratch,
    ));
    let forward = from((net.forward_flat)(
        &inputs,
        &params,
        &mut outputs,
        &mut scratch,
    ));
    for (what, got) in [
        ("loss_flat", loss),
        ("gradient_flat", again),
        ("forward_flat", forward),
    ] {
        assert!(
            relative(got, r.loss) <= tol,
            "{name}: {what} {got} vs {}",
            r.loss
        );
    }
    let check = |what: &str, got: &[R], want: &[f64]| {
        for (k, (got, want)) in got.iter().zip(want).enumerate() {
            let got = from(*got);
            assert!(
                relative(got, *want) <= tol,
                "{name}: {what} element {k}: {got} vs {want}"
            );
        }
    };
    check("gradient", &grad, &r.gradient);
    check("output", &outputs, &r.outputs);
}

#[test]
fn f64_agrees_with_the_interpreter_to_1e_12() {
    for net in F64 {
        agree(net, 21, 1e-12, |x| x, |x| x);
    }
}

#[test]
fn f32_agrees_with_the_interpreter_to_1e_4() {
    for net in F32 {
        agree(net, 22, 1e-4, |x| x as f32, |x| x as f64);
    }
}

#[test]
fn every_example_and_the_wide_net_are_compiled() {
    let names: Vec<&str> = F64.iter().map(|n| n.name).collect();
    for name in ["xor", "bishop", "mlp_mnist", "softmax_regression", "wide"] {
        assert!(names.contains(&name), "{name} is missing from {names:?}");
    }
}

#[test]
fn large_tensors_go_to_scratch_and_small_ones_need_none() {
    // wide.net: h, its adjoint and the shared ∂E/∂h · (1 − h²), 64 x 80 each,
    // all live during the gradient, and the packing buffer of the matrix
    // product that computes h (64 × 80, 8 terms each).
    use netgrad::codegen::kernels::pack_len;
    use netgrad::Float;
    let pack = |float| pack_len(float, 64, 80, 8);
    assert_eq!(super::wide::SCRATCH_LEN, 3 * 64 * 80 + pack(Float::F64));
    assert_eq!(super::wide_f32::SCRATCH_LEN, 3 * 64 * 80 + pack(Float::F32));
    assert_eq!(super::xor::SCRATCH_LEN, 0);
    // mlp_mnist's one large tensor, dE/dw1, is written into `grad`.
    assert_eq!(super::mlp_mnist::SCRATCH_LEN, 0);
}

#[test]
fn a_short_scratch_buffer_panics_with_the_expected_length() {
    use super::wide;
    let result = std::panic::catch_unwind(|| {
        let mut scratch = vec![0.0; 10];
        wide::loss_flat(&[0.0; wide::N_INPUTS], &[0.0; wide::N_PARAMS], &mut scratch)
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        std::format!(
            "netgrad: `scratch` holds 10 scalars; SCRATCH_LEN is {}",
            wide::SCRATCH_LEN
        )
    );
}

#[test]
fn the_typed_api_computes_what_the_flat_one_does() {
    use super::wide::{forward, forward_flat, Inputs, Outputs, Params, SCRATCH_LEN};
    let net = F64.iter().find(|n| n.name == "wide").unwrap();
    let r = reference(net, 23);
    let mut x = [[0.0; 8]; 64];
    x.as_flattened_mut().copy_from_slice(&r.inputs[..512]);
    let t: [f64; 64] = r.inputs[512..].try_into().unwrap();
    let mut w1 = [[0.0; 8]; 80];
    w1.as_flattened_mut().copy_from_slice(&r.params[..640]);
    let b1: [f64; 80] = r.params[640..720].try_into().unwrap();
    let w2: [f64; 80] = r.params[720..800].try_into().unwrap();
    let b2 = r.params[800];
    let mut scratch = vec![0.0; SCRATCH_LEN];
    let (mut h, mut y, mut reg) = ([[0.0; 80]; 64], [0.0; 64], 0.0);
    let typed = forward(
        &Inputs { x: &x, t: &t },
        &Params {
            w1: &w1,
            b1: &b1,
            w2: &w2,
            b2,
        },
        Outputs {
            h: &mut h,
            y: &mut y,
            r: &mut reg,
        },
        &mut scratch,
    );
    let mut flat = vec![0.0; super::wide::N_OUTPUTS];
    let loss = forward_flat(&r.inputs, &r.params, &mut flat, &mut scratch);
    assert_eq!(typed.to_bits(), loss.to_bits());
    let typed_outputs: Vec<f64> = h
        .as_flattened()
        .iter()
        .chain(&y)
        .chain([&reg])
        .copied()
        .collect();
    assert_eq!(typed_outputs, flat);
}
