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
pub mod pretty;
pub mod sema;
pub mod simplify;
pub mod summary;
pub mod syntax;
pub mod values;

pub use builder::Builder;
pub use codegen::{Float, TargetFeatures};

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
pub fn front_end(text: &str) -> Result<graph::Dag, Vec<Diagnostic>> {
    on_own_stack(|| {
        let (file, diags) = syntax::parse(text);
        if !diags.is_empty() {
            return Err(diags);
        }
        let program = sema::check(&file, text.len())?;
        Ok(graph::build(program))
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
