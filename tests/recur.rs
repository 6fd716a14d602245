//! Recurrences, first milestone: `init` and lag reads are checked, and the
//! interpreter computes the forward values step by step, against loops
//! written out here; the commands that need a derivative say it is not
//! supported yet (E0507) and write nothing.

mod common;

use netgrad::ir::{Sizes, Step};

/// Uniform values in [-1, 1) from a seed (splitmix64), for the tests' data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The forward values of `text` with `T = steps`, its inputs and params
/// given by name; looked up by name.
struct Run {
    program: netgrad::ir::Program,
    data: Vec<Vec<f64>>,
}

impl Run {
    fn new(text: &str, steps: usize, given: &[(&str, Vec<f64>)]) -> Run {
        let sizes: Sizes = [("T".to_string(), steps)].into_iter().collect();
        let dag = netgrad::front_end_sized(text, &sizes)
            .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", text, &d)));
        let p = dag.program;
        let mut values = vec![None; p.values.len()];
        for (name, x) in given {
            let id = p.ids().find(|v| p.value(*v).name == *name).unwrap();
            assert_eq!(p.value(id).len(), x.len(), "{name}");
            values[id.index()] = Some(x.clone());
        }
        let data = netgrad::eval::run(&p, &values);
        Run { program: p, data }
    }

    fn get(&self, name: &str) -> &[f64] {
        let id = self
            .program
            .ids()
            .find(|v| self.program.value(*v).name == name)
            .unwrap();
        &self.data[id.index()]
    }

    fn loss(&self) -> f64 {
        self.data[self.program.loss.index()][0]
    }
}

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1e-300);
        assert!(
            (x - y).abs() <= 1e-12 * scale,
            "{what}[{k}]: interpreter {x}, by hand {y}"
        );
    }
}

fn file(name: &str) -> String {
    std::fs::read_to_string(common::root().join("tests/recur").join(name)).unwrap()
}

#[test]
fn ema_evaluates_step_by_step_from_its_init() {
    let text = file("ema.net");
    for steps in [1, 2, 50] {
        let mut rng = Rng(steps as u64);
        let (x, y) = (rng.vec(steps), rng.vec(steps));
        let (a, s0) = (0.3 + 0.5 * rng.next().abs(), rng.next());
        let run = Run::new(
            &text,
            steps,
            &[
                ("x", x.clone()),
                ("y", y.clone()),
                ("a", vec![a]),
                ("s0", vec![s0]),
            ],
        );
        let mut s = vec![0.0; steps];
        let mut prev = s0;
        let mut loss = 0.0;
        for t in 0..steps {
            s[t] = a * prev + (1.0 - a) * x[t];
            prev = s[t];
            loss += (s[t] - y[t]).powi(2);
        }
        close(run.get("s"), &s, &format!("s at T = {steps}"));
        close(&[run.loss()], &[0.5 * loss], &format!("E at T = {steps}"));
    }
}

#[test]
fn rnn_evaluates_step_by_step_from_its_init() {
    let text = file("rnn.net");
    let (d, h) = (3, 8);
    for steps in [1, 2, 50] {
        let mut rng = Rng(100 + steps as u64);
        let x = rng.vec(steps * d);
        let y = rng.vec(steps);
        let u = rng.vec(h * d);
        let w = rng.vec(h * h);
        let b = rng.vec(h);
        let h0 = rng.vec(h);
        let v = rng.vec(h);
        let c = rng.next();
        let run = Run::new(
            &text,
            steps,
            &[
                ("x", x.clone()),
                ("y", y.clone()),
                ("U", u.clone()),
                ("W", w.clone()),
                ("b", b.clone()),
                ("h0", h0.clone()),
                ("v", v.clone()),
                ("c", vec![c]),
            ],
        );
        let mut hs = vec![0.0; steps * h];
        let mut p = vec![0.0; steps];
        let mut loss = 0.0;
        for t in 0..steps {
            for j in 0..h {
                let mut a = b[j];
                for i in 0..d {
                    a += u[j * d + i] * x[t * d + i];
                }
                for i in 0..h {
                    let prev = if t == 0 { h0[i] } else { hs[(t - 1) * h + i] };
                    a += w[j * h + i] * prev;
                }
                hs[t * h + j] = a.tanh();
            }
            p[t] = c + (0..h).map(|j| v[j] * hs[t * h + j]).sum::<f64>();
            loss += (p[t] - y[t]).powi(2);
        }
        close(run.get("h"), &hs, &format!("h at T = {steps}"));
        close(run.get("p"), &p, &format!("p at T = {steps}"));
        close(&[run.loss()], &[0.5 * loss], &format!("E at T = {steps}"));
    }
}

/// Gates that read the state before it is defined (as an LSTM's do), a
/// second state, a value outside the recurrence written between its
/// members, and a value after it that reads it.
const GATED: &str = "
dim T
input x[T]
param a, b
init c[-1] = 0.5
init h[-1] = 0.1
f[t] = sigmoid(a * h[t - 1] + x[t])
u[t] = 3 * x[t]
c[t] = f[t] * c[t - 1] + (1 - f[t]) * u[t]
h[t] = tanh(b * c[t])
q[t] = 2 * h[t]
loss E = sum(t, q[t]^2)
";

#[test]
fn a_recurrence_of_several_definitions_reads_later_ones_at_earlier_steps() {
    for steps in [1, 2, 50] {
        let mut rng = Rng(200 + steps as u64);
        let x = rng.vec(steps);
        let (a, b) = (rng.next(), rng.next());
        let run = Run::new(
            GATED,
            steps,
            &[("x", x.clone()), ("a", vec![a]), ("b", vec![b])],
        );
        let (mut c, mut h) = (0.5, 0.1);
        let mut hs = Vec::new();
        let mut loss = 0.0;
        for &xt in &x {
            let f = 1.0 / (1.0 + (-(a * h + xt)).exp());
            c = f * c + (1.0 - f) * (3.0 * xt);
            h = (b * c).tanh();
            hs.push(h);
            loss += (2.0 * h).powi(2);
        }
        close(run.get("h"), &hs, &format!("h at T = {steps}"));
        close(&[run.loss()], &[loss], &format!("E at T = {steps}"));
    }
    // One recurrence of f, c and h, computed after u, which c reads.
    let dag = netgrad::front_end(GATED).unwrap();
    let p = &dag.program;
    let names = |ids: &[netgrad::ir::ValueId]| -> Vec<String> {
        ids.iter().map(|v| p.value(*v).name.clone()).collect()
    };
    assert_eq!(p.recurrences.len(), 1);
    assert_eq!(names(&p.recurrences[0].members), ["f", "c", "h"]);
    let order: Vec<String> = p
        .schedule()
        .into_iter()
        .map(|s| match s {
            Step::Value(v) => p.value(v).name.clone(),
            Step::Recurrence(r) => format!("recurrence {r}"),
        })
        .collect();
    let at = |n: &str| order.iter().position(|o| o == n).unwrap();
    assert!(at("u") < at("recurrence 0") && at("recurrence 0") < at("q"));
}

#[test]
fn a_read_two_steps_back_takes_both_inits() {
    let text = "
dim T
input x[T]
param s1, s2
init s[-1] = s1
init s[-2] = s2
s[t] = x[t] + 0.5 * s[t - 1] + 0.25 * s[t - 2]
loss E = sum(t, s[t])
";
    for steps in [1, 2, 50] {
        let mut rng = Rng(300 + steps as u64);
        let x = rng.vec(steps);
        let (s1, s2) = (rng.next(), rng.next());
        let run = Run::new(
            text,
            steps,
            &[("x", x.clone()), ("s1", vec![s1]), ("s2", vec![s2])],
        );
        // history[k] is s at step k - 2.
        let mut history = vec![s2, s1];
        for t in 0..steps {
            let next = x[t] + 0.5 * history[t + 1] + 0.25 * history[t];
            history.push(next);
        }
        close(run.get("s"), &history[2..], &format!("s at T = {steps}"));
    }
}

#[test]
fn a_fixed_number_of_steps_works_too() {
    let text = "
dim T = 4
dim H = 2
input x[T, H]
param w, h0[H]
init h[-1, j] = h0[j]
h[t, j] = tanh(x[t, j] + w * h[t - 1, j])
loss E = sum(t, j, h[t, j])
";
    let x: Vec<f64> = (0..8).map(|k| 0.1 * k as f64 - 0.3).collect();
    let (w, h0) = (0.7, vec![0.2, -0.4]);
    let run = Run::new(
        text,
        4,
        &[("x", x.clone()), ("w", vec![w]), ("h0", h0.clone())],
    );
    let mut prev = h0;
    let mut hs = Vec::new();
    for t in 0..4 {
        let next: Vec<f64> = (0..2)
            .map(|j| (x[t * 2 + j] + w * prev[j]).tanh())
            .collect();
        hs.extend(&next);
        prev = next;
    }
    close(run.get("h"), &hs, "h");
}

/// `sum(i, h[t - 1, i])`: `i` subscripts only a lag read, and ranges over
/// the dimension it subscripts.
#[test]
fn a_reduction_index_takes_its_range_from_a_read_of_an_earlier_step() {
    let text = "
dim T
dim H = 2
input x[T, H]
init h[-1, j in H] = 0
h[t, j] = x[t, j] + sum(i, h[t - 1, i])
loss E = sum(t, j, h[t, j])
";
    let run = Run::new(text, 2, &[("x", vec![1.0, 2.0, 3.0, 4.0])]);
    // h[0] = (1, 2); h[1] = (3 + 3, 4 + 3).
    close(run.get("h"), &[1.0, 2.0, 6.0, 7.0], "h");
}

fn write_values(name: &str, steps: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netgrad-recur-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let x: Vec<String> = (0..steps).map(|t| format!("{}", t as f64 * 0.5)).collect();
    std::fs::write(
        &path,
        format!(
            "{{\"x\": [{}], \"y\": [{}], \"a\": 0.5, \"s0\": 2}}",
            x.join(", "),
            vec!["0"; steps].join(", ")
        ),
    )
    .unwrap();
    path
}

#[test]
fn eval_prints_the_loss_and_outputs_with_a_warning() {
    let values = write_values("ema_eval.json", 3);
    let out = common::netgrad(&[
        "eval",
        "tests/recur/ema.net",
        "--values",
        values.to_str().unwrap(),
    ]);
    let stdout = common::text(&out.stdout);
    let stderr = common::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // s = 0.5 * 2 + 0 = 1, then 0.5 * 1 + 0.25 = 0.75, then 0.375 + 0.5 = 0.875.
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["outputs"]["s"], serde_json::json!([1.0, 0.75, 0.875]));
    let loss = 0.5 * (1.0f64 + 0.75 * 0.75 + 0.875 * 0.875);
    assert_eq!(json["loss"].as_f64(), Some(loss));
    assert_eq!(json["gradient"], serde_json::json!({}));
    assert!(stderr.starts_with("warning[E0507]"), "{stderr}");
}

#[test]
fn commands_that_differentiate_report_e0507_and_write_nothing() {
    let dir = std::env::temp_dir().join(format!("netgrad-recur-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_rs = dir.join("rnn.rs");
    let out_rs = out_rs.to_str().unwrap();
    let runs: [&[&str]; 3] = [
        &["check", "tests/recur/rnn.net"],
        &["explain", "tests/recur/rnn.net"],
        &["compile", "tests/recur/rnn.net", "-o", out_rs],
    ];
    for args in runs {
        let out = common::netgrad(args);
        let stderr = common::text(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} wrote {:?}",
            common::text(&out.stdout)
        );
        assert!(stderr.contains("error[E0507]"), "{args:?}: {stderr}");
        assert!(stderr.contains("--> tests/recur/rnn.net:10:1"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!std::path::Path::new(out_rs).exists());
    // The library says so too, and the Builder.
    let text = file("rnn.net");
    let dag = netgrad::front_end(&text).unwrap();
    let e = netgrad::derive(dag, &[], true).err().unwrap();
    assert!(e.contains("E0507"), "{e}");
    let built = netgrad::Builder::new()
        .out_dir(&dir)
        .compile(common::root().join("tests/recur/rnn.net"));
    let message = format!("{:?}", built.err().unwrap());
    assert!(message.contains("E0507"), "{message}");
}

#[test]
fn the_recurrence_is_in_the_graph_as_a_lag_edge() {
    let out = common::netgrad(&["graph", "tests/recur/rnn.net"]);
    assert!(out.status.success());
    let dot = common::text(&out.stdout);
    assert!(dot.contains("v9 -> v9 [label=\"h[t - 1, i]"), "{dot}");
}
