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

/// Generated code for run-time sizes is not supported yet: one `E0500`
/// per run-time dim, at its declaration, for `compile` and the `Builder`
/// to report before code generation starts. Empty for a file without them.
pub fn codegen_unsupported(program: &ir::Program) -> Vec<Diagnostic> {
    program
        .runtime_dims()
        .map(|d| {
            Diagnostic::error(
                Code::RuntimeDim,
                d.span,
                format!(
                    "dim `{}` is given at run time; generated code for run-time sizes is not supported yet",
                    d.name
                ),
            )
            .label("a run-time dim")
            .help(format!(
                "`netgrad check`, `eval` and `explain` handle it; to compile, give it a size: `dim {} = 32`",
                d.name
            ))
        })
        .collect()
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
