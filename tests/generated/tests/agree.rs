//! The code generated through the build-script API agrees with the
//! interpreter and with central differences, in f64 and in f32, for the loss,
//! the gradient and the forward pass's outputs; and the typed API computes
//! exactly what the flat one does.

use netgrad_generated_tests as nets;

#[path = "../../common/reference.rs"]
mod reference;
use reference::{relative, Reference};

/// The reference of `examples/{name}.net`.
fn reference(name: &str, seed: u64) -> Reference {
    let path = format!("{}/../../examples/{name}.net", env!("CARGO_MANIFEST_DIR"));
    reference::reference(&path, seed)
}

#[test]
fn every_example_is_compiled() {
    let dir = format!("{}/../../examples", env!("CARGO_MANIFEST_DIR"));
    let count = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .count();
    assert_eq!(nets::F64.len() + nets::RUN_TIME_F64.len(), count);
    assert_eq!(nets::F32.len() + nets::RUN_TIME_F32.len(), count);
    assert!(nets::RUN_TIME_F64.len() >= 2);
}

/// Every example with run-time dims, through the build-script API, at
/// sizes 1, 2 and 7 (every run-time dim at once): loss, gradient and
/// outputs against the interpreter at those sizes (f64 to 1e-12, f32 to
/// 1e-4), and the f64 gradient against central differences of the
/// compiled loss.
#[test]
fn run_time_examples_agree_with_the_interpreter_at_sizes_1_2_and_7() {
    for (net, net32) in nets::RUN_TIME_F64.iter().zip(nets::RUN_TIME_F32) {
        assert_eq!(net.name, net32.name);
        for size in [1, 2, 7] {
            let sizes = vec![size; net.dims.len()];
            let named: Vec<(&str, usize)> = net.dims.iter().map(|d| (*d, size)).collect();
            let path = format!(
                "{}/../../examples/{}.net",
                env!("CARGO_MANIFEST_DIR"),
                net.name
            );
            let r = reference::reference_sized(&path, 17, &named);
            let what = format!("{} at {size}", net.name);
            assert_eq!(
                (r.inputs.len(), r.params.len(), r.outputs.len()),
                (
                    (net.n_inputs)(&sizes),
                    net.n_params,
                    (net.n_outputs)(&sizes)
                ),
                "{what}"
            );
            let mut grad = vec![0.0; net.n_params];
            let mut outputs = vec![0.0; r.outputs.len()];
            let loss = (net.gradient_flat)(&sizes, &r.inputs, &r.params, &mut grad);
            let forward = (net.forward_flat)(&sizes, &r.inputs, &r.params, &mut outputs);
            let again = (net.loss_flat)(&sizes, &r.inputs, &r.params);
            for got in [loss, forward, again] {
                assert!(
                    relative(got, r.loss) <= 1e-12,
                    "{what}: loss {got} vs {}",
                    r.loss
                );
            }
            for (got, want) in grad
                .iter()
                .zip(&r.gradient)
                .chain(outputs.iter().zip(&r.outputs))
            {
                assert!(relative(*got, *want) <= 1e-12, "{what}: {got} vs {want}");
            }
            for k in 0..net.n_params {
                let h = f64::EPSILON.cbrt() * r.params[k].abs().max(1.0);
                let (mut up, mut down) = (r.params.clone(), r.params.clone());
                up[k] += h;
                down[k] -= h;
                let fd = ((net.loss_flat)(&sizes, &r.inputs, &up)
                    - (net.loss_flat)(&sizes, &r.inputs, &down))
                    / (2.0 * h);
                assert!(
                    relative(grad[k], fd) <= 1e-6,
                    "{what}: param {k}: {} vs {fd}",
                    grad[k]
                );
            }
            let to32 = |v: &[f64]| -> Vec<f32> { v.iter().map(|x| *x as f32).collect() };
            let (inputs, params) = (to32(&r.inputs), to32(&r.params));
            let mut grad = vec![0.0f32; net.n_params];
            let mut outputs = vec![0.0f32; r.outputs.len()];
            let loss = (net32.gradient_flat)(&sizes, &inputs, &params, &mut grad);
            let forward = (net32.forward_flat)(&sizes, &inputs, &params, &mut outputs);
            for got in [loss, forward, (net32.loss_flat)(&sizes, &inputs, &params)] {
                assert!(
                    relative(got as f64, r.loss) <= 1e-4,
                    "{what}: f32 loss {got}"
                );
            }
            for (got, want) in grad
                .iter()
                .zip(&r.gradient)
                .chain(outputs.iter().zip(&r.outputs))
            {
                assert!(
                    relative(*got as f64, *want) <= 1e-4,
                    "{what}: f32 {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn f64_agrees_with_the_interpreter_to_1e_12() {
    for net in nets::F64 {
        let r = reference(net.name, 11);
        assert_eq!(
            (r.inputs.len(), r.params.len()),
            (net.n_inputs, net.n_params),
            "{}",
            net.name
        );
        let mut grad = vec![0.0; net.n_params];
        let loss = (net.gradient_flat)(&r.inputs, &r.params, &mut grad);
        assert!(
            relative(loss, r.loss) <= 1e-12,
            "{}: loss {loss} vs {}",
            net.name,
            r.loss
        );
        assert!(
            relative((net.loss_flat)(&r.inputs, &r.params), r.loss) <= 1e-12,
            "{}",
            net.name
        );
        for (k, (got, want)) in grad.iter().zip(&r.gradient).enumerate() {
            assert!(
                relative(*got, *want) <= 1e-12,
                "{}: element {k}: {got} vs {want}",
                net.name
            );
        }
    }
}

#[test]
fn forward_outputs_agree_with_the_interpreter_in_f64_and_f32() {
    for (net, net32) in nets::F64.iter().zip(nets::F32) {
        let r = reference(net.name, 15);
        assert_eq!(r.outputs.len(), net.n_outputs, "{}", net.name);
        let mut outputs = vec![f64::NAN; net.n_outputs];
        let loss = (net.forward_flat)(&r.inputs, &r.params, &mut outputs);
        assert!(relative(loss, r.loss) <= 1e-12, "{}: loss {loss}", net.name);
        for (k, (got, want)) in outputs.iter().zip(&r.outputs).enumerate() {
            assert!(
                relative(*got, *want) <= 1e-12,
                "{}: output element {k}: {got} vs {want}",
                net.name
            );
        }
        let inputs: Vec<f32> = r.inputs.iter().map(|x| *x as f32).collect();
        let params: Vec<f32> = r.params.iter().map(|x| *x as f32).collect();
        let mut outputs = vec![f32::NAN; net32.n_outputs];
        let loss = (net32.forward_flat)(&inputs, &params, &mut outputs);
        assert!(
            relative(loss as f64, r.loss) <= 1e-4,
            "{}: f32 loss {loss}",
            net.name
        );
        for (k, (got, want)) in outputs.iter().zip(&r.outputs).enumerate() {
            assert!(
                relative(*got as f64, *want) <= 1e-4,
                "{}: f32 output element {k}: {got} vs {want}",
                net.name
            );
        }
    }
}

#[test]
fn a_file_without_outputs_has_an_empty_forward_pass() {
    use nets::fanout;
    assert_eq!(fanout::N_OUTPUTS, 0);
    let loss = fanout::forward_flat(&[0.3], &[-0.7], &mut []);
    assert_eq!(loss.to_bits(), fanout::loss_flat(&[0.3], &[-0.7]).to_bits());
    let typed = fanout::forward(
        &fanout::Inputs { x: 0.3 },
        &fanout::Params { w: -0.7 },
        fanout::Outputs {},
    );
    assert_eq!(typed.to_bits(), loss.to_bits());
}

#[test]
fn f64_agrees_with_central_differences_of_the_compiled_loss() {
    for net in nets::F64 {
        let r = reference(net.name, 12);
        let mut grad = vec![0.0; net.n_params];
        (net.gradient_flat)(&r.inputs, &r.params, &mut grad);
        // Up to 48 elements per network, spread over the params.
        let stride = (net.n_params / 48).max(1);
        for k in (0..net.n_params).step_by(stride) {
            let h = f64::EPSILON.cbrt() * r.params[k].abs().max(1.0);
            let (mut up, mut down) = (r.params.clone(), r.params.clone());
            up[k] += h;
            down[k] -= h;
            let fd =
                ((net.loss_flat)(&r.inputs, &up) - (net.loss_flat)(&r.inputs, &down)) / (2.0 * h);
            assert!(
                relative(grad[k], fd) <= 1e-6,
                "{}: param {k}: {} vs {fd}",
                net.name,
                grad[k]
            );
        }
    }
}

#[test]
fn f32_agrees_with_the_interpreter_to_1e_4() {
    for net in nets::F32 {
        let r = reference(net.name, 13);
        let inputs: Vec<f32> = r.inputs.iter().map(|x| *x as f32).collect();
        let params: Vec<f32> = r.params.iter().map(|x| *x as f32).collect();
        let mut grad = vec![0.0f32; net.n_params];
        let loss = (net.gradient_flat)(&inputs, &params, &mut grad);
        assert!(
            relative(loss as f64, r.loss) <= 1e-4,
            "{}: loss {loss} vs {}",
            net.name,
            r.loss
        );
        for (k, (got, want)) in grad.iter().zip(&r.gradient).enumerate() {
            assert!(
                relative(*got as f64, *want) <= 1e-4,
                "{}: element {k}: {got} vs {want}",
                net.name
            );
        }
    }
}

#[test]
fn wrong_slice_lengths_panic_with_the_expected_length() {
    let result = std::panic::catch_unwind(|| {
        nets::bishop::loss_flat(&[0.0; 4], &[0.0; nets::bishop::N_PARAMS])
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(message, "netgrad: `inputs` holds 4 scalars; N_INPUTS is 5");
    let result = std::panic::catch_unwind(|| {
        let mut grad = [0.0; 3];
        nets::bishop::gradient_flat(&[0.0; 5], &[0.0; 26], &mut grad)
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(message, "netgrad: `grad` holds 3 scalars; N_PARAMS is 26");
    let result = std::panic::catch_unwind(|| {
        let mut outputs = [0.0; 3];
        nets::bishop::forward_flat(&[0.0; 5], &[0.0; 26], &mut outputs)
    });
    let message = *result.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        "netgrad: `outputs` holds 3 scalars; N_OUTPUTS is 2"
    );
}

#[test]
fn the_typed_forward_pass_computes_what_the_flat_one_does() {
    // Two outputs of different shapes: h[H] and r[D].
    use nets::tied_autoencoder as net;
    let r = reference("tied_autoencoder", 16);
    let mut flat = vec![0.0; net::N_OUTPUTS];
    let loss = net::forward_flat(&r.inputs, &r.params, &mut flat);
    let x: [f64; net::D] = r.inputs[..].try_into().unwrap();
    let mut w = [[0.0; net::D]; net::H];
    w.as_flattened_mut().copy_from_slice(&r.params[..18]);
    let b: [f64; net::H] = r.params[18..21].try_into().unwrap();
    let c: [f64; net::D] = r.params[21..27].try_into().unwrap();
    let (mut h, mut rec) = ([0.0; net::H], [0.0; net::D]);
    let typed = net::forward(
        &net::Inputs { x: &x },
        &net::Params {
            W: &w,
            b: &b,
            c: &c,
        },
        net::Outputs {
            h: &mut h,
            r: &mut rec,
        },
    );
    assert_eq!(typed.to_bits(), loss.to_bits());
    let typed_outputs: Vec<f64> = h.iter().chain(&rec).copied().collect();
    assert_eq!(typed_outputs, flat);
}

#[test]
fn the_typed_api_computes_what_the_flat_one_does() {
    use nets::bishop::{gradient, loss, Gradients, Inputs, Params};
    let r = reference("bishop", 14);
    let x: [f64; 3] = r.inputs[0..3].try_into().unwrap();
    let t: [f64; 2] = r.inputs[3..5].try_into().unwrap();
    let mut w1 = [[0.0; 3]; 4];
    w1.as_flattened_mut().copy_from_slice(&r.params[0..12]);
    let b1: [f64; 4] = r.params[12..16].try_into().unwrap();
    let mut w2 = [[0.0; 4]; 2];
    w2.as_flattened_mut().copy_from_slice(&r.params[16..24]);
    let b2: [f64; 2] = r.params[24..26].try_into().unwrap();
    let inputs = Inputs { x: &x, t: &t };
    let params = Params {
        w1: &w1,
        b1: &b1,
        w2: &w2,
        b2: &b2,
    };
    let (mut d_w1, mut d_b1, mut d_w2, mut d_b2) =
        ([[0.0; 3]; 4], [0.0; 4], [[0.0; 4]; 2], [0.0; 2]);
    let grads = Gradients {
        w1: &mut d_w1,
        b1: &mut d_b1,
        w2: &mut d_w2,
        b2: &mut d_b2,
    };
    let typed = gradient(&inputs, &params, grads);
    let mut flat = vec![0.0; nets::bishop::N_PARAMS];
    assert_eq!(
        typed.to_bits(),
        nets::bishop::gradient_flat(&r.inputs, &r.params, &mut flat).to_bits()
    );
    assert_eq!(loss(&inputs, &params).to_bits(), typed.to_bits());
    let typed_grad: Vec<f64> = d_w1
        .as_flattened()
        .iter()
        .chain(&d_b1)
        .chain(d_w2.as_flattened())
        .chain(&d_b2)
        .copied()
        .collect();
    assert_eq!(typed_grad, flat);

    // Scalars are plain numbers in the typed API.
    use nets::fanout;
    let mut d_w = 0.0;
    let e = fanout::gradient(
        &fanout::Inputs { x: 0.3 },
        &fanout::Params { w: -0.7 },
        fanout::Gradients { w: &mut d_w },
    );
    let mut flat = [0.0];
    assert_eq!(e, fanout::gradient_flat(&[0.3], &[-0.7], &mut flat));
    assert_eq!(d_w, flat[0]);
}
