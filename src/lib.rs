//! netgrad: a symbolic differentiation compiler for the `.net` index-notation language.
//!
//! The pipeline is one function of each stage's output (see ARCHITECTURE.md):
//! text ─`syntax`→ AST ─`sema`→ `ir::Program` ─`graph`→ `graph::Dag` → backends
//! (`summary`, `dot`). Only `main.rs` does I/O and chooses exit codes.

pub mod autodiff;
pub mod builder;
pub mod codegen;
pub mod diag;
pub mod dot;
pub mod eval;
pub mod explain;
pub mod gradcheck;
pub mod graph;
pub mod ir;
pub mod lse;
pub mod pretty;
pub mod refine;
pub mod sema;
pub mod simplify;
pub mod summary;
pub mod syntax;
pub mod values;

pub use builder::Builder;
pub use codegen::{Float, MathFunctions, TargetFeatures};

/// Includes a module that `netgrad::Builder` wrote to `OUT_DIR` from a build
/// script: `include_net!("xor")` is `include!(concat!(env!("OUT_DIR"),
/// "/xor.rs"))`. The name is the Builder's `module_name`, by default the
/// `.net` file's stem.
///
/// ```ignore
/// mod xor {
///     netgrad::include_net!("xor");
/// }
/// ```
///
/// The macro needs netgrad in `[dependencies]` as well as in
/// `[build-dependencies]` (`default-features = false` leaves out the CLI);
/// it adds nothing to the program. A `#![no_std]` crate cannot depend on
/// netgrad, which uses std: it writes the `include!` line instead.
#[macro_export]
macro_rules! include_net {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
use diag::{Code, Diagnostic, Span};

/// A file that is not UTF-8: the diagnostic, and a lossy text to render it against.
#[derive(Debug)]
pub struct NotText {
    pub lossy: String,
    pub diagnostic: Diagnostic,
}

/// Decodes a file's bytes. A UTF-8 byte order mark is skipped (the text,
/// and every span and column, start after it). Invalid UTF-8 gives a
/// diagnostic at the first bad byte, along with a lossy text that the
/// diagnostic can be rendered against.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, Box<NotText>> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bad = e.as_bytes()[at];
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The valid prefix is unchanged in the lossy text, so `at` still
            // points at the replacement character.
            let span = Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8());
            let d = Diagnostic::error(
                Code::NotUtf8,
                span,
                format!("the file is not valid UTF-8 (byte 0x{bad:02x} at offset {at})"),
            )
            .label("invalid UTF-8")
            .help(".net files are UTF-8 text; identifiers and operators are ASCII");
            Err(Box::new(NotText {
                lossy,
                diagnostic: d,
            }))
        }
    }
}

/// The front end: text to the checked expression DAG, or every diagnostic
/// (syntax errors alone when there are any, else every semantic error),
/// in source order.
///
/// Run-time dims (`dim N`) take `ir::DEFAULT_RUNTIME_SIZE`; see `front_end_sized`.
pub fn front_end(text: &str) -> Result<graph::Dag, Vec<Diagnostic>> {
    front_end_sized(text, &ir::Sizes::new())
}

/// The front end with the run-time dims instantiated at `sizes` (the
/// default size for those it does not name). Every later stage (autodiff,
/// simplification, eval, the gradient check) runs on the instantiated
/// program as on any other; the program keeps which dims are run-time
/// (`ir::Dim::runtime`) and every extent its dim's name, for what users
/// read. Validate user-given sizes with `resolve_sizes` first.
pub fn front_end_sized(text: &str, sizes: &ir::Sizes) -> Result<graph::Dag, Vec<Diagnostic>> {
    on_own_stack(|| {
        let (file, diags) = syntax::parse(text);
        if !diags.is_empty() {
            return Err(diags);
        }
        let program = sema::check_sized(&file, text.len(), sizes)?;
        Ok(graph::build(program))
    })
}

/// Checks sizes given for run-time dims (`--dim N=8`) against a checked
/// program: each name a run-time dim, given once, each size between 1 and
/// `sema::MAX_ELEMENTS`. The error says what is wrong with each, one
/// `error: ...` paragraph per problem, with a did-you-mean where one helps.
pub fn resolve_sizes(
    program: &ir::Program,
    given: &[(String, usize)],
) -> Result<ir::Sizes, String> {
    let mut sizes = ir::Sizes::new();
    let mut problems = String::new();
    let runtime: Vec<&str> = program.runtime_dims().map(|d| d.name.as_str()).collect();
    for (name, size) in given {
        if let Some(d) = program.dims.iter().find(|d| d.name == *name && !d.runtime) {
            problems.push_str(&format!(
                "error: `{name}` has the fixed size {} in the file; `--dim` sets only run-time dims (`dim {name}` without a size)\n",
                d.size
            ));
        } else if !runtime.contains(&name.as_str()) {
            let close = runtime
                .iter()
                .copied()
                .find(|r| r.eq_ignore_ascii_case(name))
                .or_else(|| sema::suggest(name, runtime.iter().copied()));
            let hint = match close {
                Some(s) => format!("  = help: did you mean `{s}`?\n"),
                None if runtime.is_empty() => {
                    "  = help: the file has no run-time dims\n".to_string()
                }
                None => format!("  = help: its run-time dims are {}\n", runtime.join(", ")),
            };
            problems.push_str(&format!(
                "error: `--dim {name}={size}`: `{name}` is not a run-time dim of the file\n{hint}"
            ));
        } else if *size == 0 || *size > sema::MAX_ELEMENTS {
            problems.push_str(&format!(
                "error: `--dim {name}={size}`: a size must be between 1 and {}\n",
                sema::MAX_ELEMENTS
            ));
        } else if sizes.insert(name.clone(), *size).is_some() {
            problems.push_str(&format!("error: `--dim {name}` is given twice\n"));
        }
    }
    if problems.is_empty() {
        Ok(sizes)
    } else {
        Err(problems)
    }
}

/// What code generation does not support yet for a file with run-time
/// dims: `--no-std` (its tensors would need a scratch buffer sized at run
/// time). One `E0500` per run-time dim, at its declaration, for `compile`
/// and the `Builder` to report before code generation starts. Empty for a
/// file without run-time dims, or without `no_std`.
pub fn codegen_unsupported(program: &ir::Program, no_std: bool) -> Vec<Diagnostic> {
    if !no_std {
        return Vec::new();
    }
    program
        .runtime_dims()
        .map(|d| {
            Diagnostic::error(
                Code::RuntimeDim,
                d.span,
                format!(
                    "dim `{}` is given at run time; generated code for run-time sizes without std (`--no-std`) is not supported yet",
                    d.name
                ),
            )
            .label("a run-time dim")
            .help(format!(
                "compile with std (the module's `Workspace` holds the tensors sized at run time), or give it a size: `dim {} = 32`",
                d.name
            ))
        })
        .collect()
}

/// What is not supported yet for a file with recurrences: their
/// derivatives. One `E0507` per recurrence, at its first definition, for
/// the commands that differentiate (`check`, `explain`, `compile`, the
/// `Builder`) to report before they start; `what` names the command's
/// work ("the gradient check"). Empty for a file without recurrences.
/// `eval` computes the forward values of such a file (see
/// `forward_only`) and reports this as a warning.
pub fn recurrence_unsupported(program: &ir::Program, what: &str) -> Vec<Diagnostic> {
    program
        .recurrences
        .iter()
        .map(|r| {
            let names: Vec<String> = r
                .members
                .iter()
                .map(|m| format!("`{}`", program.value(*m).name))
                .collect();
            Diagnostic::error(
                Code::RecurrenceDerivative,
                r.span,
                format!(
                    "{what} needs the derivative of the recurrence of {}, which is not supported yet",
                    names.join(", ")
                ),
            )
            .label("a recurrence")
            .help("`netgrad eval` computes its loss and outputs; backpropagation through time comes in a later version")
        })
        .collect()
}

/// A "gradient" of a checked program with respect to nothing: its forward
/// values only, for `eval` of a file whose derivative is not supported
/// (`recurrence_unsupported`).
pub fn forward_only(dag: graph::Dag) -> autodiff::Gradient {
    let n = dag.program.values.len();
    autodiff::Gradient {
        dag,
        wrt: Vec::new(),
        adjoint_of: vec![None; n],
        forward_len: n,
        terms: Vec::new(),
        unsimplified: Vec::new(),
    }
}

/// Why `derive_symbolic` cannot give code for a file: diagnostics of the
/// file, or a message (a `--wrt` name that is not an input or param).
#[derive(Debug)]
pub enum SymbolicError {
    Diagnostics(Vec<Diagnostic>),
    Message(String),
}

/// The sizes a program with run-time dims is instantiated at to find which
/// of its numbers come from them: the base, and for the dim at position
/// k, `PROBE_STEP` (one dim varied at a time), then `PROBE_CHECK[k]` for
/// every dim at once, to verify. Primes, so that no number computed from
/// them (`1 / 7`) coincides with a number of the file, and small, so that
/// several run-time dims stay within the limits on scalars.
const PROBE_BASE: usize = 7;
const PROBE_STEP: usize = 11;
const PROBE_CHECK: [usize; 6] = [13, 17, 19, 23, 29, 31];

/// The gradient of a file, as `front_end` then `derive` give it, and, for
/// a file with run-time dims, which of its numbers are computed from their
/// sizes (`1 / N`, a mean's partial, constants folded with them), for the
/// code generator (`codegen::generate_sized`).
///
/// The program is instantiated at several sizes (`PROBE_BASE`, ...): the
/// gradients must have the same structure, and each number that differs
/// between them must be `c · Π dim^k` (k from -4 to 4), fitted one dim at
/// a time and verified at other sizes; anything else (`1 / (N - 1)`, a
/// simplification that differs with the size) is an `E0500` naming the
/// definition. The gradient returned is the base instantiation's, whose
/// sizes code generation never reads for a run-time dim.
pub fn derive_symbolic(
    text: &str,
    wrt: &[String],
    simplify: bool,
) -> Result<
    (
        autodiff::Gradient,
        simplify::Stats,
        Vec<codegen::SizeNumber>,
    ),
    SymbolicError,
> {
    let program = front_end(text).map_err(SymbolicError::Diagnostics)?.program;
    let runtime: Vec<ir::Dim> = program.runtime_dims().cloned().collect();
    let at = |sizes: &ir::Sizes| -> Result<(autodiff::Gradient, simplify::Stats), SymbolicError> {
        let dag = front_end_sized(text, sizes).map_err(SymbolicError::Diagnostics)?;
        derive(dag, wrt, simplify).map_err(SymbolicError::Message)
    };
    let sizes_with = |f: &dyn Fn(usize) -> usize| -> ir::Sizes {
        runtime
            .iter()
            .enumerate()
            .map(|(k, d)| (d.name.clone(), f(k)))
            .collect()
    };
    let (base, stats) = at(&sizes_with(&|_| PROBE_BASE))?;
    if runtime.is_empty() {
        return Ok((base, stats, Vec::new()));
    }
    let nums = |g: &autodiff::Gradient| -> Vec<(usize, f64)> {
        let mut out = Vec::new();
        on_own_stack(|| {
            for (i, v) in g.dag.program.values.iter().enumerate() {
                if let Some(rhs) = &v.rhs {
                    rhs.for_each_num(&mut |x| out.push((i, x)));
                }
            }
        });
        out
    };
    let base_nums = nums(&base);
    let unsupported = |value: Option<usize>, what: &str| {
        let p = &base.dag.program;
        let (span, name) = match value.map(|i| &p.values[i]) {
            Some(v) if v.origin.span() != diag::Span::default() => {
                (v.origin.span(), v.name.clone())
            }
            Some(v) => (runtime[0].span, v.name.clone()),
            None => (runtime[0].span, String::new()),
        };
        let place = if name.is_empty() {
            String::new()
        } else {
            format!(" (in `{name}`)")
        };
        SymbolicError::Diagnostics(vec![Diagnostic::error(
            Code::RuntimeDim,
            span,
            format!("generated code for run-time sizes: {what}{place}; not supported yet"),
        )
        .label("here")
        .help(format!(
            "`netgrad check`, `eval` and `explain` handle it; to compile, give the run-time dims a size (`dim {} = 32`)",
            runtime[0].name
        ))])
    };
    // One instantiation per run-time dim, that dim at PROBE_STEP; then one
    // at PROBE_CHECK to verify.
    let mut varied = Vec::new();
    for k in 0..runtime.len() {
        let (g, _) = at(&sizes_with(&|j| {
            if j == k {
                PROBE_STEP
            } else {
                PROBE_BASE
            }
        }))?;
        varied.push(nums(&g));
    }
    let (check, _) = at(&sizes_with(&|k| PROBE_CHECK[k % PROBE_CHECK.len()]))?;
    let check = nums(&check);
    let same_shape = |other: &[(usize, f64)]| {
        other.len() == base_nums.len() && other.iter().zip(&base_nums).all(|(a, b)| a.0 == b.0)
    };
    if !varied.iter().all(|v| same_shape(v)) || !same_shape(&check) {
        return Err(unsupported(
            None,
            "the simplified gradient differs from one size to another",
        ));
    }
    let mut numbers: Vec<codegen::SizeNumber> = Vec::new();
    let mut constants: Vec<u64> = Vec::new();
    for (n, &(value, b)) in base_nums.iter().enumerate() {
        if varied.iter().all(|v| v[n].1.to_bits() == b.to_bits())
            && check[n].1.to_bits() == b.to_bits()
        {
            constants.push(b.to_bits());
            continue;
        }
        let fitted = fit(
            b,
            &runtime,
            &varied.iter().map(|v| v[n].1).collect::<Vec<_>>(),
        );
        let verified = fitted.filter(|f| {
            let at_check: f64 = f.factor
                * f.powers
                    .iter()
                    .map(|(d, k)| {
                        let j = runtime.iter().position(|r| r.name == *d).unwrap_or(0);
                        (PROBE_CHECK[j % PROBE_CHECK.len()] as f64).powi(*k)
                    })
                    .product::<f64>();
            close(at_check, check[n].1)
        });
        let Some(f) = verified else {
            return Err(unsupported(
                Some(value),
                &format!(
                    "the number {b} at {} = {PROBE_BASE} is not a constant times powers of the run-time sizes",
                    runtime[0].name
                ),
            ));
        };
        if let Some(other) = numbers.iter().find(|o| o.value.to_bits() == b.to_bits()) {
            if *other != f {
                return Err(unsupported(
                    Some(value),
                    &format!("the number {b} has two meanings"),
                ));
            }
        } else {
            numbers.push(f);
        }
    }
    if numbers
        .iter()
        .any(|n| constants.contains(&n.value.to_bits()))
    {
        return Err(unsupported(
            None,
            "a number computed from a run-time size equals a constant of the file",
        ));
    }
    Ok((base, stats, numbers))
}

/// Whether two numbers agree to 1e-12 relative.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// `value` (at `PROBE_BASE` for every run-time dim) as `c · Π dim^k`,
/// given its values with each dim in turn at `PROBE_STEP`.
fn fit(value: f64, dims: &[ir::Dim], varied: &[f64]) -> Option<codegen::SizeNumber> {
    if value == 0.0 || !value.is_finite() {
        return None;
    }
    let mut powers = Vec::new();
    let mut factor = value;
    for (d, &v) in dims.iter().zip(varied) {
        if v.to_bits() == value.to_bits() {
            continue;
        }
        let ratio = v / value;
        if ratio <= 0.0 || !ratio.is_finite() {
            return None;
        }
        let k = (ratio.ln() / (PROBE_STEP as f64 / PROBE_BASE as f64).ln()).round();
        if k == 0.0 || k.abs() > 4.0 {
            return None;
        }
        let k = k as i32;
        if !close(value * (PROBE_STEP as f64 / PROBE_BASE as f64).powi(k), v) {
            return None;
        }
        factor /= (PROBE_BASE as f64).powi(k);
        powers.push((d.name.clone(), k));
    }
    // `0.01 / 7 * 7` is 0.01 up to rounding: the shortest decimal near it.
    let short: f64 = format!("{factor:.12e}").parse().ok()?;
    if close(short, factor) {
        factor = short;
    }
    Some(codegen::SizeNumber {
        value,
        factor,
        powers,
    })
}

/// The middle of the pipeline: the gradient of a checked program's loss with
/// respect to `wrt` (inputs and params; every param when empty), simplified
/// unless `simplify` is false, with the op counts before and after. The
/// error names a `wrt` name that is not an input or param.
pub fn derive(
    dag: graph::Dag,
    wrt: &[String],
    simplify: bool,
) -> Result<(autodiff::Gradient, simplify::Stats), String> {
    if let Some(d) = recurrence_unsupported(&dag.program, "the gradient").first() {
        return Err(format!("{} [{}]", d.message, d.code.as_str()));
    }
    let ids = autodiff::resolve_wrt(&dag.program, wrt)?;
    let g = autodiff::differentiate(dag, &ids);
    Ok(if simplify {
        simplify::gradient(g)
    } else {
        let stats = simplify::Stats::unchanged(&g);
        (g, stats)
    })
}

/// The stack the compiler's stages (front end, autodiff, simplification,
/// eval, explain, codegen) need at most: their recursion is bounded by
/// `syntax::MAX_NESTING`, `syntax::MAX_DEPTH` and `graph::MAX_PIECE`. The
/// deepest inputs of the tests take about 3 MiB unoptimised (pest alone
/// takes about 40 KiB per nesting level at opt-level 0), under 512 KiB at
/// opt-level 1; this is twice the first.
pub const STACK_NEEDED: usize = 6 << 20;

/// The stack made when the caller's has less than `STACK_NEEDED` left (a
/// test harness's or a spawned thread's 2 MiB). Only the pages touched are
/// committed, but the whole is address space: under a cap on it (`prlimit
/// --as`) a smaller reserve leaves more for the heap.
pub const STACK_SIZE: usize = 16 << 20;

/// Runs `f` with at least `STACK_NEEDED` bytes of stack: on the caller's
/// stack when it has that much left (the main thread's 8 MiB, or a stage
/// called from another), else on a fresh stack of `STACK_SIZE` bytes. So
/// stages never nest fresh stacks, and the command line, on its main
/// thread, maps none.
pub fn on_own_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(STACK_NEEDED, STACK_SIZE, f)
}
