//! Generated code for run-time sizes (`dim N`): modules that take `Dims`,
//! built with rustc (rustfmt and clippy clean), run at several sizes and
//! compared with the interpreter at the same sizes; the typed API against
//! the flat one and `gradient_flat_in` against `gradient_flat` bit for bit;
//! `gradient_flat_in` with a reused `Workspace` allocates nothing (a
//! counting global allocator); central differences of the generated loss.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use netgrad::codegen::{generate_sized, Float, MathFunctions, Options, TargetFeatures};

/// The harness: `./harness values.bin SIZE...` reads inputs then params
/// (f64, little-endian) for the sizes given (in the order of the file's
/// run-time dims), and prints `loss`, `grad ...` (from `gradient_flat`),
/// `forward` and the outputs, one number a line, after checking what must
/// hold bit for bit. With `CENTRAL`, it also prints the worst relative
/// error of the gradient against central differences of `loss_flat`.
const HARNESS: &str = r#"#![deny(warnings)]
mod net {
    include!("net.rs");
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts every allocation.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[allow(clippy::unnecessary_cast)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).expect("readable values");
    let sizes: Vec<usize> = args[2..].iter().map(|s| s.parse().unwrap()).collect();
    let dims = DIMS;
    let values: Vec<REAL> = bytes
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as REAL)
        .collect();
    let (inputs, params) = values.split_at(dims.n_inputs());
    let loss = net::loss_flat(&dims, inputs, params);
    let mut grad = vec![0.0; net::N_PARAMS];
    let again = net::gradient_flat(&dims, inputs, params, &mut grad);
    let mut outputs = vec![0.0; dims.n_outputs()];
    let forward = net::forward_flat(&dims, inputs, params, &mut outputs);
    assert_eq!(loss.to_bits(), again.to_bits());
    assert_eq!(loss.to_bits(), forward.to_bits());

    // gradient_flat_in, twice in one workspace: the same bits, and the
    // second call allocates nothing.
    let mut ws = net::Workspace::new(&dims);
    let mut grad_in = vec![0.0; net::N_PARAMS];
    let first = net::gradient_flat_in(&mut ws, &dims, inputs, params, &mut grad_in);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let second = net::gradient_flat_in(&mut ws, &dims, inputs, params, &mut grad_in);
    let allocated = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(allocated, 0, "gradient_flat_in allocated");
    assert_eq!(first.to_bits(), again.to_bits());
    assert_eq!(second.to_bits(), again.to_bits());
    for (a, b) in grad.iter().zip(&grad_in) {
        assert_eq!(a.to_bits(), b.to_bits(), "gradient_flat_in");
    }
    TYPED
    println!("{loss:e}");
    for g in &grad {
        println!("{g:e}");
    }
    for o in &outputs {
        println!("{o:e}");
    }
    CENTRAL
}
"#;

/// Central differences of `loss_flat` against `gradient_flat` (f64): within
/// 1e-5 of the gradient (1e-3 where it is smaller), and within 1e-6 in the
/// measure of `netgrad check` (|g - fd| / max(1, |g|, |fd|)).
const CENTRAL: &str = r#"let mut worst: f64 = 0.0;
    let mut worst_check: f64 = 0.0;
    for k in 0..net::N_PARAMS {
        let mut p = params.to_vec();
        let h = 1e-6 * p[k].abs().max(1.0);
        p[k] += h;
        let up = net::loss_flat(&dims, inputs, &p);
        p[k] -= 2.0 * h;
        let down = net::loss_flat(&dims, inputs, &p);
        let numeric = (up - down) / (2.0 * h);
        let err = (numeric - grad[k]).abs() / grad[k].abs().max(1e-3);
        worst = worst.max(err);
        let scale = grad[k].abs().max(numeric.abs()).max(1.0);
        worst_check = worst_check.max((numeric - grad[k]).abs() / scale);
    }
    eprintln!("central differences: worst {worst:e} ({worst_check:e} as `netgrad check` measures)");
    assert!(worst < 1e-5, "central differences: {worst:e}");
    assert!(worst_check <= 1e-6, "central differences: {worst_check:e} as `netgrad check` measures");"#;

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One program to test: its text, the `Dims` expression of the harness
/// (over `sizes`), typed-API checks, and the sizes to run at (one list per
/// run, in the order of the file's run-time dims).
struct Case<'a> {
    name: &'a str,
    text: &'a str,
    dims: &'a str,
    typed: &'a str,
    sizes: &'a [&'a [usize]],
    central: bool,
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "netgrad-runtime-codegen-{}-{name}",
        std::process::id()
    ))
}

/// The module for a file, as `netgrad compile` writes it.
fn module(text: &str, float: Float) -> String {
    let (g, _, numbers) =
        netgrad::derive_symbolic(text, &[], true).unwrap_or_else(|e| panic!("{e:?}"));
    let options = Options {
        float,
        source: "t.net".to_string(),
        share: true,
        no_std: false,
        features: TargetFeatures::default(),
        math: MathFunctions::default(),
    };
    generate_sized(&g, &options, &numbers).unwrap()
}

/// Builds the case in `float` (rustfmt, clippy, rustc), runs it at each of
/// its sizes and compares with the interpreter; returns the worst relative
/// error.
fn check(case: &Case, float: Float) -> f64 {
    let dir = temp(&format!("{}-{float:?}", case.name));
    std::fs::create_dir_all(&dir).unwrap();
    let code = module(case.text, float);
    let real = if float == Float::F64 { "f64" } else { "f32" };
    let central = if case.central && float == Float::F64 {
        CENTRAL
    } else {
        ""
    };
    let harness = HARNESS
        .replace("    TYPED\n", &format!("    {}\n", case.typed))
        .replace("    CENTRAL\n", &format!("    {central}\n"))
        .replace("REAL", real)
        .replace("DIMS", case.dims);
    std::fs::write(dir.join("net.rs"), &code).unwrap();
    std::fs::write(dir.join("main.rs"), harness).unwrap();
    run(
        Command::new("rustfmt")
            .args(["--edition", "2021", "--check"])
            .args(["--config", "format_generated_files=true", "net.rs"])
            .current_dir(&dir),
        &format!("rustfmt --check on {} ({real})", case.name),
    );
    run(
        Command::new("clippy-driver")
            .args(["--edition", "2021", "-D", "warnings", "--crate-type", "bin"])
            .args(["--emit", "metadata", "-o", "clippy.rmeta", "main.rs"])
            .current_dir(&dir),
        &format!("clippy on {} ({real})", case.name),
    );
    run(
        Command::new("rustc")
            .args(["--edition", "2021", "-O", "-D", "warnings"])
            .args(["main.rs", "-o", "harness"])
            .current_dir(&dir),
        &format!("rustc on {} ({real})", case.name),
    );
    let mut worst: f64 = 0.0;
    for sizes in case.sizes {
        worst = worst.max(compare(case, sizes, &dir));
    }
    std::fs::remove_dir_all(&dir).ok();
    worst
}

/// Runs the harness at `sizes` and compares with the interpreter at them.
fn compare(case: &Case, sizes: &[usize], dir: &Path) -> f64 {
    let runtime: Vec<String> = netgrad::front_end(case.text)
        .unwrap()
        .program
        .runtime_dims()
        .map(|d| d.name.clone())
        .collect();
    let given: netgrad::ir::Sizes = runtime.iter().cloned().zip(sizes.iter().copied()).collect();
    let dag = netgrad::front_end_sized(case.text, &given).unwrap();
    let (g, _) = netgrad::derive(dag, &[], true).unwrap();
    let p = &g.dag.program;
    let values = netgrad::gradcheck::random_values(p, 11);
    let order = |kind| p.ids().filter(move |id| p.value(*id).kind == kind);
    let mut bytes = Vec::new();
    for id in order(netgrad::ir::ValueKind::Input).chain(order(netgrad::ir::ValueKind::Param)) {
        for x in values[id.index()].as_ref().unwrap() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let file = dir.join("values.bin");
    std::fs::write(&file, bytes).unwrap();
    let args: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let out = run(
        Command::new(dir.join("harness"))
            .arg(&file)
            .args(&args)
            .current_dir(dir),
        &format!("the harness of {} at {sizes:?}", case.name),
    );
    let got: Vec<f64> = out.lines().map(|l| l.parse().unwrap()).collect();
    let data = netgrad::eval::run(p, &values);
    let mut want = vec![data[p.loss.index()][0]];
    for (_, adj) in &g.wrt {
        want.extend(&data[adj.index()]);
    }
    for o in &p.outputs {
        want.extend(&data[o.index()]);
    }
    assert_eq!(got.len(), want.len(), "{} at {sizes:?}", case.name);
    let mut worst: f64 = 0.0;
    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
        let err = (a - b).abs() / b.abs().max(1.0);
        assert!(
            err.is_finite(),
            "{} at {sizes:?}: element {k} is {a}",
            case.name
        );
        worst = worst.max(err);
    }
    worst
}

/// Every case in f64 and f32: within 1e-12 and 1e-4 of the interpreter.
fn check_all(cases: &[Case]) {
    let results = common::on_two_threads(cases, |case| {
        (case.name, check(case, Float::F64), check(case, Float::F32))
    });
    for (name, f64_err, f32_err) in results {
        eprintln!("{name}: f64 {f64_err:e}, f32 {f32_err:e}");
        assert!(f64_err <= 1e-12, "{name}: f64 off by {f64_err:e}");
        assert!(f32_err <= 1e-4, "{name}: f32 off by {f32_err:e}");
    }
}

/// A batched two-layer network: `mean` over N, `0.01 / N` as a number.
const BATCH: &str = "\
dim N
dim D = 3
dim H = 4
input x[N, D], t[N]
param w1[H, D], b1[H], w2[H], b2

a[n, j] = sum(i, w1[j, i] * x[n, i]) + b1[j]
z[n, j] = tanh(a[n, j])
y[n] = sum(j, w2[j] * z[n, j]) + b2
loss E = mean(n, (y[n] - t[n])^2) + 0.01 / N * sum(j, w2[j]^2)
output y
";

/// The typed API of BATCH against the flat one, bit for bit.
const BATCH_TYPED: &str = r#"{
        let n = dims.N;
        let x: Vec<[REAL; 3]> = inputs[..n * 3].chunks(3).map(|r| r.try_into().unwrap()).collect();
        let t = &inputs[n * 3..];
        let w1: [[REAL; 3]; 4] = core::array::from_fn(|j| params[j * 3..j * 3 + 3].try_into().unwrap());
        let b1: [REAL; 4] = params[12..16].try_into().unwrap();
        let w2: [REAL; 4] = params[16..20].try_into().unwrap();
        let typed_in = net::Inputs { x: &x, t };
        let typed_params = net::Params { w1: &w1, b1: &b1, w2: &w2, b2: params[20] };
        assert_eq!(net::loss(&dims, &typed_in, &typed_params).to_bits(), loss.to_bits());
        let (mut gw1, mut gb1, mut gw2, mut gb2) = ([[0.0; 3]; 4], [0.0; 4], [0.0; 4], 0.0);
        let grads = net::Gradients { w1: &mut gw1, b1: &mut gb1, w2: &mut gw2, b2: &mut gb2 };
        let l = net::gradient(&dims, &typed_in, &typed_params, grads);
        assert_eq!(l.to_bits(), loss.to_bits());
        let mut flat: Vec<REAL> = gw1.as_flattened().to_vec();
        flat.extend(gb1);
        flat.extend(gw2);
        flat.push(gb2);
        for (a, b) in flat.iter().zip(&grad) {
            assert_eq!(a.to_bits(), b.to_bits(), "typed gradient");
        }
        // Sizes of 0, slices that disagree with the dims, and a workspace
        // made for other dims panic, naming the expected length.
        let message = |f: &dyn Fn()| {
            std::panic::set_hook(Box::new(|_| {}));
            let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
            let _ = std::panic::take_hook();
            match e.downcast_ref::<&str>() {
                Some(s) => s.to_string(),
                None => e.downcast_ref::<String>().cloned().unwrap_or_default(),
            }
        };
        let m = message(&|| {
            net::loss_flat(&net::Dims { N: 0 }, &[], params);
        });
        assert!(m.contains("`dims.N` is 0"), "{m}");
        let m = message(&|| {
            net::loss_flat(&net::Dims { N: n + 1 }, inputs, params);
        });
        let want = format!("`inputs` holds {} scalars; dims.n_inputs() is {}", n * 4, n * 4 + 4);
        assert!(m.contains(&want), "{m}");
        let m = message(&|| {
            let mut g = vec![0.0; net::N_PARAMS];
            let mut other = net::Workspace::new(&net::Dims { N: n + 1 });
            net::gradient_flat_in(&mut other, &dims, inputs, params, &mut g);
        });
        assert!(m.contains("the workspace was made for Dims"), "{m}");
        let m = message(&|| {
            let short = net::Inputs { x: &x[1..], t };
            net::loss(&dims, &short, &typed_params);
        });
        assert!(m.contains(&format!("holds {} elements; the dims give {n}", n - 1)), "{m}");
        let mut y = vec![0.0; n];
        let f = net::forward(&dims, &typed_in, &typed_params, net::Outputs { y: &mut y });
        assert_eq!(f.to_bits(), loss.to_bits());
        for (a, b) in y.iter().zip(&outputs) {
            assert_eq!(a.to_bits(), b.to_bits(), "typed forward");
        }
    }"#;

/// `1 / N` as a number, a mean over N, an input of rank 1.
const MEAN: &str = "\
dim N
input x[N], t[N]
param w, c

r[n] = w * x[n] + c - t[n]
loss E = 1 / N * sum(n, r[n]^2) + mean(n, x[n]) * w^2 / (N * N)
";

/// A run-time dim in the middle axis: x[B, T, D] is a flat slice.
const MIDDLE: &str = "\
dim B = 2
dim T
dim D = 3
input x[B, T, D]
param w[D], v[D]

h[b, t] = tanh(sum(d, w[d] * x[b, t, d]))
g[b, d] = mean(t, h[b, t] * x[b, t, d])
loss E = sum(b, sum(d, (g[b, d] - v[d])^2)) + logsumexp(t, h[0, t])
output h
";

/// The typed API of MIDDLE: x flat, h flat.
const MIDDLE_TYPED: &str = r#"{
        let w: [REAL; 3] = params[0..3].try_into().unwrap();
        let v: [REAL; 3] = params[3..6].try_into().unwrap();
        let typed_in = net::Inputs { x: inputs };
        let typed_params = net::Params { w: &w, v: &v };
        assert_eq!(net::loss(&dims, &typed_in, &typed_params).to_bits(), loss.to_bits());
        let mut h = vec![0.0; 2 * dims.T];
        let f = net::forward(&dims, &typed_in, &typed_params, net::Outputs { h: &mut h });
        assert_eq!(f.to_bits(), loss.to_bits());
        assert_eq!(h, outputs);
    }"#;

/// A product large enough for the matrix-product kernel at fixed sizes,
/// with a run-time batch; and two run-time dims.
const WIDE: &str = "\
dim N
dim D = 64
dim H = 64
input x[N, D]
param w[H, D], b[H]

a[n, j] = sum(i, w[j, i] * x[n, i]) + b[j]
loss E = mean(n, sum(j, softplus(a[n, j]))) + sum(j, sum(i, w[j, i]^2)) / N
";

const TWO: &str = "\
dim N
dim T
dim K = 2
input x[N, T], s[T, N, K]
param w[K], c

y[n, t] = c * x[n, t] + sum(k, w[k] * s[t, n, k])
loss E = mean(n, mean(t, y[n, t]^2)) + 2 / (N * T) * c^2 + mean(t, s[t, 0, 1]) * w[0]
";

/// Max and min reductions and a logsumexp over a run-time dim; a max
/// pooling whose window axis is fixed and batch run-time.
const POOL: &str = "\
dim N
dim W = 3
input x[N, W]
param u[W], c

m[n] = max(w, u[w] * x[n, w])
loss E = mean(n, (m[n] - c)^2) + max(n, x[n, 0] * c) - min(n, x[n, 1] * u[1]) + logsumexp(n, c * x[n, 2])
output m
";

/// A softmax classifier over a run-time batch: a logsumexp per sample,
/// whose residuals and exponentials are sized by N.
const SOFTMAX: &str = "\
dim N
dim K = 3
input x[N, 2], t[N, K]
param w[K, 2], b[K]

a[n, k] = sum(i, w[k, i] * x[n, i]) + b[k]
loss E = mean(n, logsumexp(k, a[n, k]) - sum(k, t[n, k] * a[n, k]))
";

/// Affine subscripts over a run-time batch: the window axis is outer, so
/// its stride is N, scaled by a negative coefficient in the reversal
/// (`z[L - 1 - o, n]`), and the adjoint of z solves `o + dk = p`.
const AFFINE: &str = "\
dim N
dim L = 6
dim K = 2
dim O = L - K + 1
input x[L, N]
param w[K], c

z[l, n] = c * x[l, n]
y[o in O, n] = sum(dk, w[dk] * z[o + dk, n]) + z[L - 1 - o, n]
loss E = mean(n, sum(o, tanh(y[o, n])))
output y
";

/// A run-time batch of rank-4 inputs and a rank-3 param with a long name,
/// and no tensor in the workspace: the typed arguments' method chains and
/// `Workspace { dims: *dims }` as rustfmt lays them out.
const RANK4: &str = "\
dim N
dim B = 3
dim C = 2
dim D = 2
input x[N, B, C, D]
param filter_weights[B, C, D]
loss E = sum(n, b, c, d, filter_weights[b, c, d] * x[n, b, c, d])^2
";

/// The typed API of examples/lenet.net (zero padding by `where`, two
/// convolutions, max pooling, softmax cross-entropy over a run-time batch)
/// against the flat one, bit for bit: inputs of
/// rank 3 as slices of 12 × 12 images, params of rank 4.
const LENET_TYPED: &str = r#"{
        use core::array::from_fn;
        let n = dims.N;
        let x: Vec<[[REAL; 12]; 12]> = (0..n)
            .map(|b| from_fn(|i| from_fn(|j| inputs[b * 144 + i * 12 + j])))
            .collect();
        let t: Vec<[REAL; 10]> = (0..n).map(|b| from_fn(|m| inputs[n * 144 + b * 10 + m])).collect();
        let k1: [[[REAL; 3]; 3]; 4] = from_fn(|c| from_fn(|i| from_fn(|j| params[c * 9 + i * 3 + j])));
        let b1: [REAL; 4] = params[36..40].try_into().unwrap();
        let k2: [[[[REAL; 3]; 3]; 4]; 8] =
            from_fn(|d| from_fn(|c| from_fn(|i| from_fn(|j| params[40 + d * 36 + c * 9 + i * 3 + j]))));
        let b2: [REAL; 8] = params[328..336].try_into().unwrap();
        let w3: [[[[REAL; 2]; 2]; 8]; 10] =
            from_fn(|m| from_fn(|d| from_fn(|i| from_fn(|j| params[336 + m * 32 + d * 4 + i * 2 + j]))));
        let b3: [REAL; 10] = params[656..666].try_into().unwrap();
        assert_eq!(net::N_PARAMS, 666);
        let typed_in = net::Inputs { x: &x, t: &t };
        let typed_params = net::Params { k1: &k1, b1: &b1, k2: &k2, b2: &b2, w3: &w3, b3: &b3 };
        assert_eq!(net::loss(&dims, &typed_in, &typed_params).to_bits(), loss.to_bits());
        let (mut gk1, mut gb1, mut gk2) = ([[[0.0; 3]; 3]; 4], [0.0; 4], [[[[0.0; 3]; 3]; 4]; 8]);
        let (mut gb2, mut gw3, mut gb3) = ([0.0; 8], [[[[0.0; 2]; 2]; 8]; 10], [0.0; 10]);
        let grads = net::Gradients {
            k1: &mut gk1, b1: &mut gb1, k2: &mut gk2, b2: &mut gb2, w3: &mut gw3, b3: &mut gb3,
        };
        let l = net::gradient(&dims, &typed_in, &typed_params, grads);
        assert_eq!(l.to_bits(), loss.to_bits());
        let mut flat: Vec<REAL> = gk1.as_flattened().as_flattened().to_vec();
        flat.extend(gb1);
        flat.extend(gk2.as_flattened().as_flattened().as_flattened());
        flat.extend(gb2);
        flat.extend(gw3.as_flattened().as_flattened().as_flattened());
        flat.extend(gb3);
        assert_eq!(flat.len(), grad.len());
        for (a, b) in flat.iter().zip(&grad) {
            assert_eq!(a.to_bits(), b.to_bits(), "typed gradient");
        }
        let mut y = vec![[0.0; 10]; n];
        let f = net::forward(&dims, &typed_in, &typed_params, net::Outputs { y: &mut y });
        assert_eq!(f.to_bits(), loss.to_bits());
        for (a, b) in y.as_flattened().iter().zip(&outputs) {
            assert_eq!(a.to_bits(), b.to_bits(), "typed forward");
        }
    }"#;

#[test]
fn generated_code_for_run_time_sizes_agrees_with_the_interpreter() {
    let cases = [
        Case {
            name: "rank4",
            text: RANK4,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[2], &[7]],
            central: false,
        },
        Case {
            name: "batch",
            text: BATCH,
            dims: "net::Dims { N: sizes[0] }",
            typed: BATCH_TYPED,
            sizes: &[&[1], &[2], &[7]],
            central: true,
        },
        Case {
            name: "mean",
            text: MEAN,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[2], &[7]],
            central: true,
        },
        Case {
            name: "middle",
            text: MIDDLE,
            dims: "net::Dims { T: sizes[0] }",
            typed: MIDDLE_TYPED,
            sizes: &[&[1], &[2], &[7]],
            central: false,
        },
        Case {
            name: "wide",
            text: WIDE,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[7], &[64]],
            central: false,
        },
        Case {
            name: "pool",
            text: POOL,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[2], &[7]],
            central: true,
        },
        Case {
            name: "softmax",
            text: SOFTMAX,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[2], &[7]],
            central: true,
        },
        Case {
            name: "two",
            text: TWO,
            dims: "net::Dims { N: sizes[0], T: sizes[1] }",
            typed: "",
            sizes: &[&[1, 1], &[2, 7], &[7, 3]],
            central: true,
        },
        Case {
            name: "affine",
            text: AFFINE,
            dims: "net::Dims { N: sizes[0] }",
            typed: "",
            sizes: &[&[1], &[2], &[7]],
            central: true,
        },
    ];
    check_all(&cases);
}

/// The numbers computed from run-time sizes, as `derive_symbolic` fits
/// them; a number of another form is `E0500` naming the definition.
#[test]
fn numbers_computed_from_sizes_are_fitted_or_refused() {
    let (_, _, numbers) = netgrad::derive_symbolic(MEAN, &[], true).unwrap();
    let forms: Vec<(f64, Vec<(String, i32)>)> = numbers
        .iter()
        .map(|n| (n.factor, n.powers.clone()))
        .collect();
    assert!(
        forms.contains(&(1.0, vec![("N".to_string(), -1)])),
        "{forms:?}"
    );
    assert!(
        forms.contains(&(1.0, vec![("N".to_string(), -2)])),
        "{forms:?}"
    );
    let (_, _, numbers) = netgrad::derive_symbolic(TWO, &[], true).unwrap();
    assert!(
        numbers
            .iter()
            .any(|n| n.factor == 2.0 && n.powers == [("N".to_string(), -1), ("T".to_string(), -1)]),
        "{numbers:?}"
    );
    let bessel = "dim N\ninput x[N]\nparam m\nloss E = sum(n, (x[n] - m)^2) / (N - 1)\n";
    let Err(netgrad::SymbolicError::Diagnostics(d)) = netgrad::derive_symbolic(bessel, &[], true)
    else {
        panic!("1 / (N - 1) is refused");
    };
    let text = netgrad::diag::render("t.net", bessel, &d);
    assert!(text.contains("error[E0500]"), "{text}");
    assert!(
        text.contains("not a constant times powers of the run-time sizes"),
        "{text}"
    );
    // The same module from run to run.
    assert_eq!(module(TWO, Float::F64), module(TWO, Float::F64));
    // A file without run-time dims: no numbers, the same gradient.
    let (_, _, numbers) = netgrad::derive_symbolic("param w\nloss E = w^2\n", &[], true).unwrap();
    assert!(numbers.is_empty());
}

/// The examples whose files have a run-time dim, with those dims' names in
/// declaration order: every such file of examples/, so that a new one is
/// checked without being listed.
fn run_time_examples() -> Vec<(String, String, Vec<String>)> {
    common::net_files("examples")
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let dag = netgrad::front_end(&text)
                .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", &text, &d)));
            let dims: Vec<String> = dag.program.runtime_dims().map(|d| d.name.clone()).collect();
            (!dims.is_empty()).then(|| (common::relative(path), text, dims))
        })
        .collect()
}

/// The run-time sizes the examples are checked at: 1, 2 and 7 for every
/// run-time dim at once.
const EXAMPLE_SIZES: [usize; 3] = [1, 2, 7];

/// Issue 10, "Done when": every example with a run-time dim, at sizes 1, 2
/// and 7, through the interpreter against central differences (f64, 1e-6
/// relative, with respect to every param and input) and through its
/// generated module (rustfmt, clippy, rustc; f64 and f32 against the
/// interpreter; central differences of the generated f64 loss;
/// `gradient_flat_in` bit for bit and without allocating).
#[test]
fn every_example_with_run_time_sizes_passes_at_sizes_1_2_and_7() {
    let examples = run_time_examples();
    let names: Vec<&str> = examples.iter().map(|(n, _, _)| n.as_str()).collect();
    for want in [
        "examples/huber_regression.net",
        "examples/causal_attention.net",
        "examples/lenet.net",
    ] {
        assert!(names.contains(&want), "{want} is missing from {names:?}");
    }

    // The interpreter at each size.
    for (name, text, dims) in &examples {
        for size in EXAMPLE_SIZES {
            let sizes: netgrad::ir::Sizes = dims.iter().map(|d| (d.clone(), size)).collect();
            let dag = netgrad::front_end_sized(text, &sizes).unwrap();
            let all: Vec<String> = netgrad::eval::given_values(&dag.program)
                .map(|v| dag.program.value(v).name.clone())
                .collect();
            for simplify in [false, true] {
                let (g, _) = netgrad::derive(dag.clone(), &all, simplify).unwrap();
                assert_eq!(g.wrt.len(), all.len());
                for seed in 1..=3 {
                    let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
                    for c in netgrad::gradcheck::check(&g, &given, seed) {
                        assert!(
                            c.worst <= 1e-6,
                            "{name} at {size} (simplify {simplify}, seed {seed}): {} off by {:e}",
                            c.name,
                            c.worst
                        );
                    }
                }
            }
        }
    }

    // The generated code at each size.
    let dims: Vec<String> = examples
        .iter()
        .map(|(_, _, dims)| {
            let fields: Vec<String> = dims
                .iter()
                .enumerate()
                .map(|(k, d)| format!("{d}: sizes[{k}]"))
                .collect();
            format!("net::Dims {{ {} }}", fields.join(", "))
        })
        .collect();
    let sizes: Vec<Vec<Vec<usize>>> = examples
        .iter()
        .map(|(_, _, dims)| EXAMPLE_SIZES.map(|s| vec![s; dims.len()]).to_vec())
        .collect();
    let sizes: Vec<Vec<&[usize]>> = sizes
        .iter()
        .map(|s| s.iter().map(Vec::as_slice).collect())
        .collect();
    let cases: Vec<Case> = examples
        .iter()
        .zip(&dims)
        .zip(&sizes)
        .map(|(((name, text, _), dims), sizes)| Case {
            name: name
                .trim_start_matches("examples/")
                .trim_end_matches(".net"),
            text,
            dims,
            // lenet.net also through its typed API (bit for bit).
            typed: if name == "examples/lenet.net" {
                LENET_TYPED
            } else {
                ""
            },
            sizes,
            central: true,
        })
        .collect();
    check_all(&cases);
}
