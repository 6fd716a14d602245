//! Diagnostics as plain data, the catalogue of error codes, and their one renderer.
//!
//! Every pass collects `Diagnostic`s; only `render` knows how they look
//! (rustc style, through codespan-reporting with ASCII characters, coloured
//! for a terminal on request), and `render_json` as JSON Lines for tools.

use codespan_reporting::diagnostic::{self as cs, LabelStyle};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor, Chars, Config};

/// A byte range `start..end` in one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $summary:literal;)*) => {
        /// The stable error codes. Codes are never reused or renumbered.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed: `E0100`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// One line saying what the code means, for the catalogue.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    // Reading and parsing.
    Syntax = "E0001", "syntax error: the text is not a statement of the language";
    NotUtf8 = "E0002", "the file is not valid UTF-8";
    TooDeep = "E0003", "an expression is nested too deeply";
    BadNumber = "E0004", "a number literal is out of range";
    EmptyFile = "E0005", "the file has no statements";
    // Names.
    UnknownName = "E0100", "unknown name";
    DuplicateName = "E0101", "a name is declared or defined twice";
    UseBeforeDef = "E0102", "a name is used before its definition";
    ReservedWord = "E0103", "a reserved word is used as a name";
    UnknownFunction = "E0104", "unknown function";
    WrongArity = "E0105", "a function or reduction is called with the wrong arguments";
    WrongKind = "E0106", "a name is used as something it is not (a dim as a tensor, a param in a const, ...)";
    // Subscripts and index variables.
    WrongSubscriptCount = "E0200", "wrong number of subscripts";
    SubscriptOutOfRange = "E0201", "a literal subscript is out of range";
    ConflictingRange = "E0202", "an index variable ranges over dimensions of different sizes";
    UnboundIndex = "E0203", "an index variable is not bound by the left-hand side or a reduction";
    BroadcastWithoutRange = "E0204", "a left-hand index that the right-hand side does not use needs an explicit range";
    DuplicateIndex = "E0205", "an index variable is bound twice (repeated or shadowing)";
    IndexNeedsRange = "E0206", "a reduction index subscripts nothing and has no explicit range";
    BadSubscript = "E0207", "a subscript is neither an index variable nor an integer literal";
    IndexAsValue = "E0208", "an index variable is used as a number";
    AffineOutOfBounds = "E0209", "an affine subscript reads outside its dimension at some point of its indices' ranges";
    // The loss and the outputs.
    NoLoss = "E0300", "the file defines no loss";
    TwoLosses = "E0301", "the file defines more than one loss";
    NonScalarLoss = "E0302", "the loss is not a scalar";
    BadOutput = "E0303", "an output is not a definition, or is listed twice";
    // Sizes and constants.
    ConstDomain = "E0400", "a constant expression is outside a function's domain";
    ZeroDim = "E0401", "a size is less than 1";
    BadSize = "E0402", "a size is not a positive integer expression of literals and earlier dims";
    TooManyScalars = "E0403", "the file's values hold too many scalars in all";
    SizeDivision = "E0404", "a size expression divides inexactly, or by 0";
    RuntimeParam = "E0405", "a param's shape uses a run-time dim";
    // Reserved for later versions.
    RuntimeDim = "E0500", "not supported yet: generated code for a file with run-time dims";
    AffineSubscript = "E0501", "retired: affine subscripts such as x[i + 1], reserved until they became part of the language (no longer reported)";
    Comparison = "E0502", "retired: comparisons, reserved until `where` became part of the language (no longer reported)";
    UserFunction = "E0503", "not supported yet: user-defined functions";
    MaxReduction = "E0504", "retired: max and min reductions, reserved until they became part of the language (no longer reported)";
    Recurrence = "E0505", "retired: a definition that reads itself (recurrences), reserved until recurrences became part of the language (no longer reported)";
    NonAffineSubscript = "E0506", "not supported yet: a subscript that is not an integer affine form of index variables (i * j, i / 2, `x[k]`)";
    RecurrenceDerivative = "E0507", "not supported yet: the derivative of a recurrence (gradient, `check`, `explain`, `compile`)";
    // Conditions and `where`.
    ConditionOutsideWhere = "E0600", "a comparison, `and`, `or` or `not` outside the condition of a `where`";
    NotACondition = "E0601", "the condition of a `where`, or an operand of `and`, `or`, `not`, is not a comparison";
    // Recurrences.
    InitNotRecurrent = "E0700", "an `init` for a name that is not a recurrent definition";
    DuplicateInit = "E0701", "an `init` for the same step is given twice";
    MissingInit = "E0702", "a recurrent definition is read before its first step without an `init` for that step";
    SameStepCycle = "E0703", "definitions read each other at the same step, in a cycle";
    LaterStep = "E0704", "a definition reads a later step of its own recurrence";
    RecurrentSubscript = "E0705", "a read of a definition of the reader's own recurrence is at neither step `t` nor `t - k`";
    StepRangeConflict = "E0706", "the definitions of one recurrence range over different steps";
    InitShape = "E0707", "an `init` with a wrong step, a wrong number of subscripts, a wrong shape, or a step no read reaches";
    InitOrder = "E0708", "an `init` after the definitions of its recurrence, or reading its own recurrence";
}

impl Code {
    /// Codes no longer reported: what they rejected is part of the language
    /// now. A code is never reused, so each keeps its place in the catalogue.
    pub const RETIRED: &'static [Code] = &[
        Code::MaxReduction,
        Code::AffineSubscript,
        Code::Comparison,
        Code::Recurrence,
    ];
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled span: the primary label marks what is wrong, secondary ones give context.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One diagnostic: a code, a one-sentence message, labelled spans and an optional hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error whose primary label is `span`.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
                primary: true,
            }],
            notes: Vec::new(),
            help: None,
        }
    }

    /// Sets the text under the primary label.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(l) = self.labels.iter_mut().find(|l| l.primary) {
            l.message = message.into();
        }
        self
    }

    /// Adds a secondary label.
    pub fn with(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// The primary span, used to order diagnostics.
    pub fn primary_span(&self) -> Span {
        self.labels
            .iter()
            .find(|l| l.primary)
            .map(|l| l.span)
            .unwrap_or_default()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by source position; the sort is stable, so diagnostics
/// at one position keep the order in which the passes found them.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.primary_span().start);
}

/// At most this many diagnostics are rendered; a count stands for the rest.
pub const MAX_RENDERED: usize = 100;

/// Renders diagnostics rustc style, without colour.
///
/// `source` is the text the spans index into. Spans are clamped to it, so a
/// bad span can never make rendering fail.
pub fn render(file_name: &str, source: &str, diags: &[Diagnostic]) -> String {
    render_styled(file_name, source, diags, false)
}

/// Renders diagnostics rustc style; with `color`, as ANSI-coloured text for a
/// terminal (codespan's default styles, which follow rustc's).
pub fn render_styled(file_name: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let lines = LineIndex::new(source);
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let mut out = String::new();
    for d in diags.iter().take(MAX_RENDERED) {
        if let Some(location) = too_long_to_show(&lines, file_name, source, d, color) {
            out.push_str(&location);
            continue;
        }
        out.push_str(&render_one(&config, &file, source, d, color));
    }
    if diags.len() > MAX_RENDERED {
        out.push_str(&format!(
            "note: {} more diagnostics not shown\n\n",
            diags.len() - MAX_RENDERED
        ));
    }
    out
}

/// The diagnostics of a file and the count of its errors, as `netgrad check`
/// prints them and a build script's `Builder` error shows them.
pub fn report(file_name: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let mut s = render_styled(file_name, source, diags, color);
    let n = diags.iter().filter(|d| d.is_error()).count();
    let summary = format!(
        "error: could not check `{file_name}`: {n} error{}\n",
        if n == 1 { "" } else { "s" }
    );
    s.push_str(&if color {
        paint_errors(&summary)
    } else {
        summary
    });
    s
}

/// Plain `error: ...` lines with `error:` in bold red, as rustc and cargo
/// print them on a terminal; other lines unchanged.
pub fn paint_errors(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("error:") {
            Some(rest) => format!("\x1b[1;31merror\x1b[0m\x1b[1m:\x1b[0m{rest}\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

fn render_one(
    config: &Config,
    file: &SimpleFile<&str, &str>,
    source: &str,
    d: &Diagnostic,
    color: bool,
) -> String {
    let diagnostic = to_codespan(d, source);
    let text = if color {
        let mut w = termcolor::Ansi::new(Vec::new());
        term::emit_to_write_style(&mut w, config, file, &diagnostic)
            .ok()
            .and_then(|()| String::from_utf8(w.into_inner()).ok())
    } else {
        term::emit_into_string(config, file, &diagnostic).ok()
    };
    // Unreachable with clamped spans; degrade to a plain line rather than panic.
    text.unwrap_or_else(|| format!("error[{}]: {}\n", d.code.as_str(), d.message))
}

/// Diagnostics as JSON Lines, one object per diagnostic, for editors and
/// tools (`--message-format json`): code, severity, message, every labelled
/// span with its byte offsets and 1-based line and column (in characters),
/// the notes, the help, and the text a terminal would show.
pub fn render_json(file_name: &str, source: &str, diags: &[Diagnostic]) -> String {
    let lines = LineIndex::new(source);
    let position = |at: usize| {
        let (line, start, _) = lines.line(at);
        (line + 1, source[start..at].chars().count() + 1)
    };
    let mut out = String::new();
    for d in diags {
        let spans: Vec<serde_json::Value> = d
            .labels
            .iter()
            .map(|l| {
                let r = clamp(l.span, source);
                let (line_start, column_start) = position(r.start);
                let (line_end, column_end) = position(r.end);
                serde_json::json!({
                    "file_name": file_name,
                    "byte_start": r.start,
                    "byte_end": r.end,
                    "line_start": line_start,
                    "column_start": column_start,
                    "line_end": line_end,
                    "column_end": column_end,
                    "is_primary": l.primary,
                    "label": if l.message.is_empty() { None } else { Some(&l.message) },
                })
            })
            .collect();
        let object = serde_json::json!({
            "code": d.code.as_str(),
            "severity": match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            "message": d.message,
            "spans": spans,
            "notes": d.notes,
            "help": d.help,
            "rendered": render(file_name, source, std::slice::from_ref(d)),
        });
        out.push_str(&object.to_string());
        out.push('\n');
    }
    out
}

/// The start of every line, for line and column numbers in O(log n).
struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            starts,
            len: source.len(),
        }
    }

    /// The 0-based line of a byte offset, and that line's byte range.
    fn line(&self, at: usize) -> (usize, usize, usize) {
        let line = self.starts.partition_point(|s| *s <= at).saturating_sub(1);
        let start = self.starts[line];
        let end = self.starts.get(line + 1).map_or(self.len, |next| next - 1);
        (line, start, end)
    }
}

/// Source lines longer than this are not shown under a diagnostic.
const MAX_SHOWN_LINE: usize = 300;

/// A diagnostic whose labels sit on a very long line is rendered without the
/// line: the header, the location and the notes.
fn too_long_to_show(
    lines: &LineIndex,
    file_name: &str,
    source: &str,
    d: &Diagnostic,
    color: bool,
) -> Option<String> {
    let long = d.labels.iter().any(|l| {
        let (_, start, end) = lines.line(clamp(l.span, source).start);
        end - start > MAX_SHOWN_LINE
    });
    if !long {
        return None;
    }
    let at = clamp(d.primary_span(), source).start;
    let (line, start, end) = lines.line(at);
    let column = source[start..at].chars().count() + 1;
    let mut plain = d.clone();
    plain.labels.clear();
    plain.notes.insert(
        0,
        format!(
            "line {} is too long to show ({} characters)",
            line + 1,
            source[start..end].chars().count()
        ),
    );
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let text = render_one(
        &config,
        &SimpleFile::new(file_name, source),
        source,
        &plain,
        color,
    );
    let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
    Some(format!(
        "{head}\n  --> {file_name}:{}:{column}\n{rest}",
        line + 1
    ))
}

fn clamp(span: Span, source: &str) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (start, end) = (fix(span.start), fix(span.end));
    start..end.max(start)
}

fn to_codespan(d: &Diagnostic, source: &str) -> cs::Diagnostic<()> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let style = if l.primary {
                LabelStyle::Primary
            } else {
                LabelStyle::Secondary
            };
            cs::Label::new(style, (), clamp(l.span, source)).with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code.as_str())
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}
