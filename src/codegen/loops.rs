//! The loop-nest IR: what a definition's code does, between the gradient
//! program and the Rust text. `lower.rs` builds it from the simplified
//! program and the schedule (`schedule.rs`); `emit.rs` prints it and is the
//! only place that writes Rust statements for loop nests.
//!
//! A definition is a list of [`Stmt`]s: loops with extents, lets (index
//! bindings, row slices, temporaries), accumulators and the stores into
//! them, calls of the matrix-product kernel. Reductions are already loops
//! and accumulators here: an accumulator is declared with its identity
//! ([`AccInit`]), each term is stored into it ([`AssignOp::Add`] or
//! [`AssignOp::Max`]), into one of its lanes when it has several, and the
//! lanes are combined in a fixed order ([`Stmt::Combine`]).
//!
//! A core function's definitions are all built before any is printed
//! ([`Definition`]), so a pass over the whole function can rewrite them in
//! between.
//!
//! Language version 2 is to map onto the same statements: a run-time
//! extent from `Dims` is [`Extent::Run`] (done), an affine subscript `x[i + k]` is an [`Affine`] with more
//! terms, a guarded read or `where` mask one more [`Scalar`] variant (a
//! select), max/min reductions accumulators of identity -∞/+∞ stored into
//! with [`AssignOp::Max`] (and a `Min` beside it), a loop over time a
//! [`Loop`] whose body loads what the previous iteration stored. Fusion
//! (`fuse.rs`) is a rewrite of these lists: consecutive definitions' loops
//! merged, arrays read only in their own iteration turned into `let`s.
//!
//! [`Affine`]: super::affine::Affine
//! [`Scalar`]: super::scalar::Scalar

use super::affine::{Access, Affine, Row, Size};
use super::scalar::Scalar;
use crate::ir::ValueId;

/// How far a loop runs.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Extent {
    /// A size known at compile time.
    Const(usize),
    /// A size given at run time: a product of run-time dims (locals bound
    /// from `Dims`) and a number, `for n in 0..N`.
    Run(Size),
}

impl From<usize> for Extent {
    fn from(n: usize) -> Extent {
        Extent::Const(n)
    }
}

impl From<Size> for Extent {
    fn from(s: Size) -> Extent {
        match s.constant() {
            Some(n) => Extent::Const(n),
            None => Extent::Run(s),
        }
    }
}

/// Where a loop starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Start {
    Zero,
    /// After the whole blocks of `n` iterations that a blocked loop over
    /// the same extent ran: the remainder loop of an unrolled, blocked or
    /// laned loop (`for i in 16..19`).
    AfterBlocks(usize),
}

/// `for var in start..end { body }`, or, with `block` > 1, a loop over
/// whole blocks of `block` iterations (`for i_block in 0..end / block`),
/// whose members [`Stmt::Index`] binds (`let i1 = i_block * 4 + 1;`): an
/// unrolled scatter, a register block, the chunks of a sum in lanes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Loop {
    /// The loop variable, `_` when the body does not use it.
    pub(super) var: String,
    pub(super) start: Start,
    pub(super) end: Extent,
    pub(super) block: usize,
    /// A loop of at most one iteration, over the solution of a constraint
    /// (`Expr::Solve`): `var = value / scale` where that is a whole number
    /// in `0..end` (`if let Some(i) = ops::solve(p as isize - di as isize, 1, 27)`).
    pub(super) solve: Option<(Affine, usize)>,
    pub(super) body: Vec<Stmt>,
}

/// The operation of a reduction, as its accumulator keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Reduce {
    /// Identity 0, each term stored with [`AssignOp::Add`] (`sum`, `mean`,
    /// the exponentials of a logsumexp).
    Sum,
    /// Identity -∞, each term stored with [`AssignOp::Max`] (the shift of
    /// a logsumexp) or by [`Stmt::Extreme`] (a max reduction).
    Max,
    /// Identity +∞, each term stored by [`Stmt::Extreme`] (a min reduction).
    Min,
}

/// The first value of an accumulator.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AccInit {
    /// The identity of the reduction, in `lanes` independent accumulators:
    /// `let mut acc: f64 = 0.0;`, `let mut acc: [f64; 8] = [0.0; 8];`,
    /// `let mut max = f64::NEG_INFINITY;`.
    Identity { op: Reduce, lanes: usize },
    /// `let mut acc = row[j];`: a scatter's terms added to an element
    /// already stored.
    From(Scalar),
}

/// How a store combines its value with the place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum AssignOp {
    /// `p = v;`
    Set,
    /// `p += v;` (a sum's term), `-=`, `*=`, `/=` (an epilogue in place).
    Add,
    Sub,
    Mul,
    Div,
    /// `p = p.max(v);`, a max's term.
    Max,
}

/// Where a store writes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Place {
    /// A scalar local or accumulator.
    Var(String),
    /// A scalar behind a `&mut` (`*grad = ...`).
    Deref(String),
    /// An element of a tensor, row or accumulator array.
    Elem(Access),
}

/// An operand of the matrix-product kernel: a flat matrix with its row
/// and column strides, and how the call passes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Matrix {
    pub(super) name: String,
    pub(super) pass: Pass,
    pub(super) row_stride: usize,
    pub(super) col_stride: usize,
}

/// How a call passes a buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pass {
    /// As it is: already a slice (a parameter of the function).
    Slice,
    /// `&name`, a local array or `Vec`.
    Borrow,
    /// `&mut name`.
    BorrowMut,
}

/// `C (m × n) = A (m × k) · B (k × n)` by the module's packed kernel
/// (`gemm::gemm`), into `c` with the kernel's packing buffer `pack`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Gemm {
    pub(super) m: Size,
    pub(super) n: Size,
    pub(super) k: Size,
    pub(super) a: Matrix,
    pub(super) b: Matrix,
    pub(super) c: Matrix,
    /// Whether the product is added to what `c` holds (else it replaces it).
    pub(super) accumulate: bool,
    pub(super) pack: (String, Pass),
}

/// One statement of a loop nest.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Stmt {
    /// A blank line before a definition, unless one is there already.
    Blank,
    /// `// text`
    Comment(String),
    /// `let mut name = [0.0; len];`, or `vec![0.0; len]` on the heap.
    Alloc {
        name: String,
        len: usize,
        heap: bool,
    },
    /// `name.fill(0.0);`: a caller's slice zeroed before a scatter.
    Fill(String),
    /// `let name = value;`, or `let name: f64 = value;` with `typed`.
    Let {
        name: String,
        typed: bool,
        value: Scalar,
    },
    /// `let name = i_block * 4 + 1;`: a loop variable's unrolled copy.
    Index {
        name: String,
        value: Affine,
    },
    /// `let name = &row;` or `&mut`, a row sliced before an inner loop.
    Slice {
        name: String,
        row: Row,
        mutable: bool,
    },
    /// An accumulator and its identity.
    Acc {
        name: String,
        init: AccInit,
    },
    /// `let acc = ops::lanes(acc);`: an accumulator's lanes combined in
    /// the fixed pairwise order of `ops::lanes`.
    Combine(String),
    /// `let name = if test.is_finite() { then } else { otherwise };`: a
    /// logsumexp's result, which is its max where the max is infinite.
    IfFinite {
        name: String,
        test: String,
        then: Scalar,
        otherwise: Scalar,
    },
    /// A mean that cannot overflow where it is finite:
    /// `let mut name = sum / size;`, and where `sum` is not finite, the
    /// `rescue` statements (the terms summed again, each times 1 / `pow2`,
    /// exact) and `name = rescued / size * pow2;`. `size` is a count
    /// ([`Scalar::Count`]), `pow2` a count or, for a run-time size, a local
    /// the rescue binds.
    Mean {
        name: String,
        sum: String,
        size: Scalar,
        pow2: Scalar,
        rescue: Vec<Stmt>,
        rescued: Scalar,
    },
    /// `let name = if cond { then; a } else { els; b };`: a `where` whose
    /// branches need statements of their own (a reduction's loop, a long
    /// subterm's `let`), each run only in the branch taken: a branch may
    /// read out of bounds where it is not taken (`where(i >= P, x[i - P],
    /// 0)`).
    /// Without a name, the `if` is its block's value, the last statement
    /// of an enclosing branch (whose own value is then `None`): clippy
    /// rejects `let t = ...; t` at the end of a block.
    Branch {
        name: Option<String>,
        cond: Scalar,
        then: Vec<Stmt>,
        a: Option<Scalar>,
        els: Vec<Stmt>,
        b: Option<Scalar>,
    },
    /// A store into a place.
    Store {
        place: Place,
        op: AssignOp,
        value: Scalar,
    },
    Loop(Loop),
    Gemm(Gemm),
    /// One term of a max (`max`) or min reduction, `value` a local:
    /// `if value > acc || (value.is_nan() && !acc.is_nan()) { acc = value;
    /// pos = index as f64; }` (`<` for a min), the interpreter's rule
    /// (`ir::Extreme`): the first extreme wins, NaN propagates. `pos`, the
    /// position's accumulator and the loop variable, for argmax and argmin.
    Extreme {
        acc: String,
        max: bool,
        value: String,
        pos: Option<(String, String)>,
    },
}

impl Stmt {
    /// A scalar accumulator of `op`, one lane, at its identity.
    pub(super) fn scalar_acc(name: &str, op: Reduce) -> Stmt {
        Stmt::Acc {
            name: name.to_string(),
            init: AccInit::Identity { op, lanes: 1 },
        }
    }
}

/// The loop nest of one definition: the statements that compute `value`
/// (its comments and storage included). A core function's definitions are
/// all built before any is printed, so a pass over the whole function
/// (fusion, say) has them all in hand.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Definition {
    pub(super) value: ValueId,
    pub(super) stmts: Vec<Stmt>,
}

/// Statements being built, with the loops still open: lowering pushes
/// statements into the innermost open loop and closes loops as it goes.
#[derive(Debug, Default)]
pub(super) struct Builder {
    /// The statements of the top level, then of each open loop.
    blocks: Vec<Vec<Stmt>>,
    /// The open loops, outermost first, their bodies in `blocks[1..]`
    /// (with the open branches' blocks among them).
    open: Vec<Loop>,
    /// For each open branch (`open_branch`), the open loops when it opened.
    branches: Vec<usize>,
}

impl Builder {
    pub(super) fn push(&mut self, stmt: Stmt) {
        if self.blocks.is_empty() {
            self.blocks.push(Vec::new());
        }
        self.blocks.last_mut().expect("a block").push(stmt);
    }

    /// Opens `for var in 0..end`.
    pub(super) fn open(&mut self, var: &str, end: impl Into<Extent>) {
        self.open_loop(var, Start::Zero, end.into(), 1);
    }

    /// Opens a loop over the whole blocks of `block` iterations of `0..end`.
    pub(super) fn open_blocks(&mut self, var: &str, end: impl Into<Extent>, block: usize) {
        self.open_loop(var, Start::Zero, end.into(), block);
    }

    /// Opens the remainder loop of a loop over `0..end` in blocks of `block`.
    pub(super) fn open_rest(&mut self, var: &str, end: impl Into<Extent>, block: usize) {
        self.open_loop(var, Start::AfterBlocks(block), end.into(), 1);
    }

    /// Opens the loop over the solution of `scale * var = value` in `0..end`.
    pub(super) fn open_solve(
        &mut self,
        var: &str,
        value: Affine,
        scale: usize,
        end: impl Into<Extent>,
    ) {
        self.open_loop(var, Start::Zero, end.into(), 1);
        self.open.last_mut().expect("just opened").solve = Some((value, scale));
    }

    fn open_loop(&mut self, var: &str, start: Start, end: Extent, block: usize) {
        if self.blocks.is_empty() {
            self.blocks.push(Vec::new());
        }
        self.open.push(Loop {
            var: var.to_string(),
            start,
            end,
            block,
            solve: None,
            body: Vec::new(),
        });
        self.blocks.push(Vec::new());
    }

    /// Closes the innermost open loop.
    pub(super) fn close(&mut self) {
        let mut l = self.open.pop().expect("an open loop");
        l.body = self.blocks.pop().expect("its body");
        self.push(Stmt::Loop(l));
    }

    /// Opens the statements of one branch of a `where`: pushed into it
    /// until `close_branch` returns them.
    pub(super) fn open_branch(&mut self) {
        if self.blocks.is_empty() {
            self.blocks.push(Vec::new());
        }
        self.branches.push(self.open.len());
        self.blocks.push(Vec::new());
    }

    /// Closes the innermost open branch, every loop opened in it closed,
    /// and returns its statements.
    pub(super) fn close_branch(&mut self) -> Vec<Stmt> {
        let loops = self.branches.pop().expect("an open branch");
        assert_eq!(loops, self.open.len(), "a branch closes its loops");
        self.blocks.pop().expect("its statements")
    }

    /// The statements built, every loop closed.
    pub(super) fn take(&mut self) -> Vec<Stmt> {
        assert!(
            self.open.is_empty() && self.branches.is_empty(),
            "every loop and branch is closed"
        );
        self.blocks.pop().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_nests_statements_in_the_open_loops() {
        let mut b = Builder::default();
        b.push(Stmt::Fill("y".into()));
        b.open("i", 3);
        b.open_rest("j", 9, 4);
        b.push(Stmt::Combine("acc".into()));
        b.close();
        b.close();
        let stmts = b.take();
        let [Stmt::Fill(_), Stmt::Loop(outer)] = stmts.as_slice() else {
            panic!("{stmts:?}");
        };
        assert_eq!((outer.var.as_str(), &outer.end), ("i", &Extent::Const(3)));
        let [Stmt::Loop(inner)] = outer.body.as_slice() else {
            panic!("{outer:?}");
        };
        assert_eq!((inner.start, inner.body.len()), (Start::AfterBlocks(4), 1));
        assert!(b.take().is_empty());
    }
}
