//! Trains the 2-2-1 XOR network of examples/xor.net by plain gradient
//! descent, then predicts with the trained params. Its loss, gradient and
//! forward pass are Rust code that netgrad generated from build.rs (see
//! build.rs): no runtime, no allocation per step.

mod xor {
    netgrad::include_net!("xor");
}

/// The four points of XOR, `x[N, I]` then `t[N]`: the inputs of xor.net.
const DATA: [f64; xor::N_INPUTS] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];

/// A fixed start: `w1[H, I]`, `b1[H]`, `w2[H]`, `b2`, small and asymmetric.
const START: [f64; xor::N_PARAMS] = [0.5, -0.4, -0.3, 0.6, 0.1, -0.2, 0.7, -0.5, 0.05];

/// Runs `steps` steps of gradient descent with learning rate `rate`;
/// returns the params and the loss after each step.
fn train(steps: usize, rate: f64) -> ([f64; xor::N_PARAMS], Vec<f64>) {
    let mut params = START;
    let mut grad = [0.0; xor::N_PARAMS];
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        losses.push(xor::gradient_flat(&DATA, &params, &mut grad));
        for (p, g) in params.iter_mut().zip(&grad) {
            *p -= rate * g;
        }
    }
    (params, losses)
}

/// The network's outputs `y[N]` for the four points, with the params
/// trained: inference with the generated forward pass.
fn predict(params: &[f64; xor::N_PARAMS]) -> [f64; xor::N_OUTPUTS] {
    let mut y = [0.0; xor::N_OUTPUTS];
    xor::forward_flat(&DATA, params, &mut y);
    y
}

fn main() {
    let (params, losses) = train(STEPS, RATE);
    for (step, loss) in losses.iter().enumerate().step_by(STEPS / 10) {
        println!("step {step:5}: loss {loss:.6}");
    }
    println!("final loss {:.6}", xor::loss_flat(&DATA, &params));
    for (n, y) in predict(&params).iter().enumerate() {
        let (a, b) = (DATA[2 * n], DATA[2 * n + 1]);
        println!("{a} xor {b} = {y:.4}");
    }
}

/// The schedule the test holds the example to.
const STEPS: usize = 4000;
const RATE: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_falls_below_one_hundredth() {
        let (params, _) = train(STEPS, RATE);
        let loss = xor::loss_flat(&DATA, &params);
        assert!(loss < 0.01, "loss {loss} after {STEPS} steps");
    }

    #[test]
    fn the_trained_network_predicts_xor() {
        let (params, _) = train(STEPS, RATE);
        let y = predict(&params);
        let rounded = y.map(f64::round);
        assert_eq!(rounded, [0.0, 1.0, 1.0, 0.0], "predictions {y:?}");
        // The targets t[N] are the inputs after x[N, I].
        assert_eq!(rounded.as_slice(), &DATA[8..]);
    }

    #[test]
    fn the_typed_forward_pass_is_the_flat_one() {
        let (params, _) = train(STEPS, RATE);
        let (x, t) = DATA.split_at(8);
        let mut xs = [[0.0; xor::I]; xor::N];
        xs.as_flattened_mut().copy_from_slice(x);
        let mut w1 = [[0.0; xor::I]; xor::H];
        w1.as_flattened_mut().copy_from_slice(&params[0..4]);
        let mut y = [0.0; xor::N];
        let loss = xor::forward(
            &xor::Inputs {
                x: &xs,
                t: t.try_into().unwrap(),
            },
            &xor::Params {
                w1: &w1,
                b1: params[4..6].try_into().unwrap(),
                w2: params[6..8].try_into().unwrap(),
                b2: params[8],
            },
            xor::Outputs { y: &mut y },
        );
        let mut flat = [0.0; xor::N_OUTPUTS];
        assert_eq!(
            loss.to_bits(),
            xor::forward_flat(&DATA, &params, &mut flat).to_bits()
        );
        assert_eq!(y, flat);
    }

    #[test]
    fn the_compiled_gradient_matches_central_differences() {
        let mut grad = [0.0; xor::N_PARAMS];
        xor::gradient_flat(&DATA, &START, &mut grad);
        for k in 0..xor::N_PARAMS {
            let h = 1e-6;
            let (mut up, mut down) = (START, START);
            up[k] += h;
            down[k] -= h;
            let fd = (xor::loss_flat(&DATA, &up) - xor::loss_flat(&DATA, &down)) / (2.0 * h);
            assert!(
                (fd - grad[k]).abs() <= 1e-7 * fd.abs().max(1.0),
                "param {k}: {} vs {fd}",
                grad[k]
            );
        }
    }
}
