//! Large valid programs stay within a memory budget: every command's
//! pipeline (front end, autodiff, simplification, and the backends: summary,
//! DOT, explain, generated code) runs on scaled-down versions of the bombs of
//! issue 13 under a counting allocator, and its peak heap must stay small.
//! BENCHMARKS.md has the growth measured at 1x, 4x and 16x.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Every byte ever allocated: the work of copying, where the peak only
/// shows what is kept.
static TOTAL: AtomicUsize = AtomicUsize::new(0);
/// Past this, allocation fails (an abort) rather than taking the machine down.
const CEILING: usize = 512 << 20;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if live > CEILING {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        TOTAL.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time: the peak is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs every command's pipeline on `text` and returns the peak heap in bytes
/// above what was live before.
fn peak_of(text: &str) -> usize {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let dag = netgrad::front_end(text).expect("the program is valid");
    let _ = netgrad::summary::summary(&dag);
    let _ = netgrad::dot::dot(&dag, "n");
    let (g, _) = netgrad::derive(dag, &[], true).expect("every param");
    let _ = netgrad::explain::explain(&g, text, netgrad::explain::Format::Text);
    let options = netgrad::codegen::Options {
        float: netgrad::Float::F64,
        source: "bomb.net".into(),
        share: true,
        no_std: false,
        features: Default::default(),
        math: Default::default(),
    };
    netgrad::codegen::generate(&g, &options).expect("code");
    drop(g);
    PEAK.load(Ordering::Relaxed) - before
}

const MIB: usize = 1 << 20;

fn assert_small(name: &str, text: &str, budget: usize) {
    let peak = peak_of(text);
    eprintln!("{name}: peak heap {} KiB", peak / 1024);
    assert!(
        peak < budget,
        "{name}: peak heap {} KiB, budget {} KiB",
        peak / 1024,
        budget / 1024
    );
}

/// Definitions that are long sums of the same term (issue 13, item 1):
/// 10 definitions of 120 terms.
#[test]
fn long_sums() {
    let mut text = String::from("param w\n");
    for d in 0..10 {
        text += &format!("a{d} = {}*w{}\n", d + 1, " + w".repeat(119));
    }
    text += "loss E = a0\n";
    assert_small("long sums", &text, 32 * MIB);
}

/// A value used many times, so that its adjoint is a long sum (item 2):
/// 200 uses.
#[test]
fn heavy_fan_out() {
    let mut text = String::from("param w\nh0 = w\n");
    for i in 1..200 {
        text += &format!("h{i} = tanh(h{}) + w\n", i - 1);
    }
    text += "loss E = h199\n";
    assert_small("fan-out", &text, 32 * MIB);
}

/// A tower of powers, `w^w^...^w` (item 2): 30 w's.
#[test]
fn power_tower() {
    let text = format!("param w\nloss E = {}\n", ["w"; 30].join("^"));
    assert_small("power tower", &text, 32 * MIB);
}

/// A long product (item 2): 100 factors.
#[test]
fn long_product() {
    let text = format!("param w\nloss E = {}\n", ["w"; 100].join(" * "));
    assert_small("long product", &text, 32 * MIB);
}

/// One deep expression (autodiff): a tower of 240 powers, `w^w^...^w`.
/// Its gradient used to take 3.4 GB; the right-hand side is now split into
/// pieces of at most `graph::MAX_PIECE` nodes, each with an adjoint of its own.
#[test]
fn tall_power_tower() {
    let text = format!("param w\nloss E = {}\n", ["w"; 240].join("^"));
    assert_small("tall power tower", &text, 32 * MIB);
}

/// A product of 240 factors (item 2, at the size of the benchmark's 16x),
/// each a definition of its own, so that nothing is hoisted as a repeat.
#[test]
fn product_of_240_definitions() {
    let mut text = String::from("param w\n");
    for k in 0..240 {
        text += &format!("a{k} = w + {}\n", k + 1);
    }
    let factors: Vec<String> = (0..240).map(|k| format!("a{k}")).collect();
    text += &format!("loss E = {}\n", factors.join(" * "));
    assert_small("product of 240 definitions", &text, 16 * MIB);
}

/// Nesting as deep as brackets may go (`syntax::MAX_NESTING`), each level a
/// product and a sum: `sin(w * sin(w * ... + w) + w)`.
#[test]
fn deep_nesting() {
    let depth = netgrad::syntax::MAX_NESTING - 1;
    let text = format!(
        "param w\nloss E = {}w{}\n",
        "sin(w * ".repeat(depth),
        " + w)".repeat(depth)
    );
    assert_small("deep nesting", &text, 16 * MIB);
}

/// Bytes the code generator allocates in all for `text` (issue 13, item 3:
/// it cloned the scope's name table for every definition, so its
/// allocations grew with the square of the number of definitions).
fn codegen_allocates(text: &str) -> usize {
    let dag = netgrad::front_end(text).expect("the program is valid");
    let (g, _) = netgrad::derive(dag, &[], true).expect("every param");
    let options = netgrad::codegen::Options {
        float: netgrad::Float::F64,
        source: "chain.net".into(),
        share: true,
        no_std: false,
        features: Default::default(),
        math: Default::default(),
    };
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = TOTAL.load(Ordering::Relaxed);
    netgrad::codegen::generate(&g, &options).expect("code");
    TOTAL.load(Ordering::Relaxed) - before
}

/// A chain of `n` definitions `hI = sin(hJ) * x`, the reproducer.
fn chain(n: usize) -> String {
    let mut text = String::from("param w\ninput x\nh0 = w\n");
    for i in 1..n {
        text.push_str(&format!("h{i} = sin(h{}) * x\n", i - 1));
    }
    text.push_str(&format!("loss E = h{}\n", n - 1));
    text
}

/// A chain of `n` tensor definitions `aI[i] = tanh(aJ[i]) * w[i] + x[i] * I`
/// (`benches/scaling/bench.sh`'s "defs"): every loop after the first fusable
/// into the one before.
fn tensor_chain(n: usize) -> String {
    let mut text = String::from(
        "dim N = 4
param w[N]
input x[N]
a0[i] = w[i] * x[i]
",
    );
    for d in 1..n {
        text.push_str(&format!(
            "a{d}[i] = tanh(a{}[i]) * w[i] + x[i] * {d}
",
            d - 1
        ));
    }
    text.push_str(&format!(
        "loss E = sum(i, a{}[i]^2)
",
        n - 1
    ));
    text
}

#[test]
fn code_generation_allocates_linearly_in_the_number_of_definitions() {
    // Linear is x4. The old copies of the name table gave x15.3 for the
    // scalar chain (36.7 MB for 300 definitions, 561 MB for 1200); loop
    // fusion that reread the whole fused loop for each nest it added, x15
    // for the tensor chain.
    for (name, make) in [
        ("chain", &chain as &dyn Fn(usize) -> String),
        ("tensor chain", &tensor_chain),
    ] {
        let small = codegen_allocates(&make(300));
        let large = codegen_allocates(&make(1200));
        let ratio = large as f64 / small as f64;
        eprintln!("{name}: codegen allocates {small} B for 300 definitions, {large} B for 1200: x{ratio:.2}");
        assert!(
            ratio < 6.0,
            "{name}: 4x the definitions allocate x{ratio:.2}"
        );
    }
}

/// The text of `explain` (and `explain --steps`, whose steps are bounded) of
/// `text`, in bytes.
fn explained_bytes(text: &str) -> usize {
    let dag = netgrad::front_end(text).expect("the program is valid");
    let (g, _) = netgrad::derive(dag, &[], true).expect("every param");
    netgrad::explain::explain(&g, text, netgrad::explain::Format::Text).len()
}

#[test]
fn explain_writes_one_deep_expression_in_linear_text() {
    // A long product of distinct factors and a tower of a shared subterm
    // (issue 13's "explain of one deep expression"): split into pieces, each
    // named by what it computes. Writing every piece out with all the pieces
    // inside it made the text grow with the square of the depth (x18.5 and
    // x16.2 for 4x the depth); pieces inside pieces are now `…`.
    let product = |n: usize| {
        let factors: Vec<String> = (1..=n).map(|k| format!("(1 + w / {k})")).collect();
        format!("param w\nloss E = {}\n", factors.join(" * "))
    };
    let tower = |n: usize| format!("param w\nloss E = {}\n", vec!["sigmoid(w)"; n].join("^"));
    for (name, make) in [
        ("product", &product as &dyn Fn(usize) -> String),
        ("tower", &tower),
    ] {
        let (small, large) = (explained_bytes(&make(60)), explained_bytes(&make(240)));
        let ratio = large as f64 / small as f64;
        eprintln!("explain of a {name} of 60: {small} B, of 240: {large} B: x{ratio:.2}");
        assert!(
            ratio < 6.0,
            "{name}: 4x the depth writes x{ratio:.2} the text"
        );
    }
}
