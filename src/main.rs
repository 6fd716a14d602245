//! The `netgrad` command line: the only place that does I/O and chooses exit codes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// What every `--help` says about the exit status.
const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  the file has errors, a file cannot be read or written, or a check failed
  2  the command line is wrong";

/// netgrad: a symbolic differentiation compiler for `.net` network descriptions.
///
/// A FILE argument of `-` reads the .net text from standard input.
#[derive(Parser)]
#[command(name = "netgrad", version, about, after_help = EXIT_STATUS)]
struct Cli {
    /// When to colour diagnostics: auto (when standard error is a terminal
    /// and NO_COLOR is not set), always, or never.
    #[arg(long, value_enum, global = true, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// How to print diagnostics: human (rustc style), or json (one JSON
    /// object per diagnostic and line, on standard error).
    #[arg(long, value_enum, global = true, value_name = "FMT", default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .net file and its gradient: print a summary (dims, values,
    /// definitions, the loss, the values used more than once), then compare
    /// the symbolic gradient with central differences at seeded random values.
    #[command(after_help = EXIT_STATUS)]
    Check {
        /// The .net file.
        file: PathBuf,
        /// Also print the weighted op count of every definition, before and
        /// after simplification, and the totals.
        #[arg(long)]
        stats: bool,
        /// Seed of the random values of inputs and params (uniform in [-1, 1)).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Largest relative error accepted, |g - fd| / max(1, |g|, |fd|).
        #[arg(long, default_value_t = 1e-6, value_parser = positive_finite)]
        tol: f64,
        /// Elements checked per value: every element of a value with at most
        /// N, else N drawn with the seed.
        #[arg(long, value_name = "N", default_value_t = netgrad::gradcheck::MAX_CHECKED as u64,
              value_parser = clap::value_parser!(u64).range(1..))]
        sample: u64,
        /// Check every element of every value (overrides --sample).
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        sizes: DimSizes,
        #[command(flatten)]
        wrt: Wrt,
    },
    /// Evaluate the loss, its gradient and the outputs, given values as JSON.
    ///
    /// values.json maps every input and param to a number (a scalar) or nested
    /// arrays of its shape, row-major. Prints {"loss", "gradient", "outputs"}.
    #[command(after_help = EXIT_STATUS)]
    Eval {
        /// The .net file.
        file: PathBuf,
        /// The JSON file of input and param values.
        #[arg(long, value_name = "values.json")]
        values: PathBuf,
        #[command(flatten)]
        sizes: DimSizes,
        #[command(flatten)]
        wrt: Wrt,
    },
    /// Write a values.json template for `eval --values`: every input and
    /// param nested in its shape (a scalar as a bare number).
    ///
    /// The values are uniform in [-1, 1) from seed 1 unless told otherwise:
    /// the point `netgrad check` checks at its default seed.
    #[command(after_help = EXIT_STATUS)]
    Values {
        /// The .net file.
        file: PathBuf,
        /// Every value 0.
        #[arg(long, conflicts_with = "random")]
        zeros: bool,
        /// Uniform in [-1, 1) from this seed (as `netgrad check --seed`).
        #[arg(long, value_name = "SEED")]
        random: Option<u64>,
        /// Write the JSON here instead of to standard output.
        #[arg(short, long, value_name = "OUT.json")]
        output: Option<PathBuf>,
        #[command(flatten)]
        sizes: DimSizes,
    },
    /// Explain the derivation of the gradient step by step: the forward
    /// definitions, then each adjoint from the loss down, with the uses it
    /// sums over, the chain rule, the local partials and the result.
    #[command(after_help = EXIT_STATUS)]
    Explain {
        /// The .net file.
        file: PathBuf,
        /// text (Unicode), latex (a fragment for a document with amsmath), or
        /// markdown (with $...$ math).
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
        /// Under each simplified adjoint, list the named rewrites from the
        /// chain rule's form to the simplified one.
        #[arg(long)]
        steps: bool,
        #[command(flatten)]
        wrt: Wrt,
    },
    /// Compile to one self-contained Rust module with the loss, the forward
    /// pass and the gradient: `loss_flat`, `forward_flat`, `gradient_flat`,
    /// `N_INPUTS`, `N_PARAMS`, `N_OUTPUTS`, a const per dim, and typed versions.
    #[command(after_help = EXIT_STATUS)]
    Compile {
        /// The .net file.
        file: PathBuf,
        /// Write the module here instead of to standard output.
        #[arg(short, long, value_name = "OUT.rs")]
        output: Option<PathBuf>,
        /// The floating-point type of the generated code.
        #[arg(long, value_enum, default_value_t = FloatType::F64)]
        float: FloatType,
        /// Differentiate with respect to these params (default: every param).
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        wrt: Vec<String>,
        /// Keep the derivatives as the chain rule makes them: no simplification with egg.
        #[arg(long)]
        no_simplify: bool,
        /// Print the weighted op counts before and after simplification on standard error.
        #[arg(long)]
        stats: bool,
        /// Code for `#![no_std]` crates: float functions from the `libm` crate,
        /// no heap (every function takes a `scratch` slice of `SCRATCH_LEN`).
        #[arg(long)]
        no_std: bool,
        /// The instruction sets of the matrix-product kernel: chosen at run
        /// time (dispatch: AVX2+FMA when the CPU has them), at compile time from
        /// the crate's target features (native), or plain Rust without `unsafe`
        /// (portable).
        #[arg(long, value_enum, default_value_t = Features::Dispatch)]
        target_features: Features,
        /// Whose exp, log, tanh, abs (and sigmoid's and softplus's exp and
        /// log) the code calls: its own, which vectorise and are within an ulp
        /// or two of std's (fast), or std's, or libm's with --no-std,
        /// bit-identical to `netgrad eval` (std).
        #[arg(long, value_enum, default_value_t = Math::Fast)]
        math: Math,
    },
    /// Print the expression DAG as Graphviz DOT (multi-use values in red).
    ///
    /// Render it with `netgrad graph net.net | dot -Tsvg > net.svg`.
    #[command(after_help = EXIT_STATUS)]
    Graph {
        /// The .net file.
        file: PathBuf,
        /// Write the DOT here instead of to standard output.
        #[arg(short, long, value_name = "OUT.dot")]
        output: Option<PathBuf>,
    },
    /// Print a shell completion script.
    ///
    /// For bash: `netgrad completions bash > ~/.local/share/bash-completion/completions/netgrad`;
    /// for zsh, put `_netgrad` in a directory of your `fpath`; for fish:
    /// `netgrad completions fish > ~/.config/fish/completions/netgrad.fish`.
    #[command(after_help = EXIT_STATUS)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `netgrad manpage | man -l -`.
    #[command(after_help = EXIT_STATUS)]
    Manpage {
        /// Write the page here instead of to standard output (e.g. netgrad.1).
        #[arg(short, long, value_name = "OUT.1")]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Features {
    Portable,
    Native,
    Dispatch,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Math {
    Fast,
    Std,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FloatType {
    F64,
    F32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExplainFormat {
    Text,
    Latex,
    Markdown,
}

#[derive(clap::Args)]
struct DimSizes {
    /// The size of a run-time dim (`dim N` without a size), e.g. `--dim N=8`;
    /// repeat for several. `check` uses 3 for those not given, `eval` takes
    /// them from the shapes in values.json (and checks any given here
    /// against them), `values` needs every one.
    #[arg(long = "dim", value_name = "NAME=SIZE", value_parser = dim_size)]
    dims: Vec<(String, usize)>,
}

/// `--dim N=8`: a name and a size.
fn dim_size(s: &str) -> Result<(String, usize), String> {
    let (name, size) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=SIZE, e.g. `N=8`, not `{s}`"))?;
    let size = size
        .trim()
        .parse::<usize>()
        .map_err(|e| format!("the size of `{}` is not a whole number: {e}", name.trim()))?;
    Ok((name.trim().to_string(), size))
}

#[derive(clap::Args)]
struct Wrt {
    /// Differentiate with respect to these inputs and params (default: every param).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    wrt: Vec<String>,
    /// Keep the derivatives as the chain rule makes them: no simplification with egg.
    #[arg(long)]
    no_simplify: bool,
}

/// How diagnostics and errors are shown, from the global flags.
#[derive(Clone, Copy)]
struct Style {
    color: bool,
    json: bool,
}

/// Set once in `main`, from `--color` and `--message-format`.
static STYLE: std::sync::OnceLock<Style> = std::sync::OnceLock::new();

fn style() -> Style {
    *STYLE.get_or_init(|| Style {
        color: false,
        json: false,
    })
}

/// Colour on a terminal unless NO_COLOR is set (no-color.org); the flag wins.
fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal as _;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
                && std::io::stderr().is_terminal()
        }
    }
}

/// Why a command failed.
enum Failure {
    /// Diagnostics of a source file, already rendered in the chosen style.
    Diagnostics(String),
    /// Other errors, as text: one or more `error: ...` paragraphs.
    Message(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Message(message)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = *STYLE.get_or_init(|| Style {
        color: use_color(cli.color),
        json: cli.message_format == MessageFormat::Json,
    });
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let text = match failure {
                Failure::Diagnostics(text) => text,
                Failure::Message(text) if style.json => message_json(&text),
                Failure::Message(text) if style.color => netgrad::diag::paint_errors(&text),
                Failure::Message(text) => text,
            };
            // Nothing useful can be done if standard error is gone.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            ExitCode::from(1)
        }
    }
}

/// Splits error text into its `error: ...` paragraphs.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        match out.last_mut() {
            Some(last) if !line.starts_with("error:") => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// Error text as JSON Lines, in the shape of a diagnostic without a code or spans.
fn message_json(text: &str) -> String {
    paragraphs(text)
        .into_iter()
        .map(|p| {
            let message = p.strip_prefix("error: ").unwrap_or(&p);
            let (message, rest) = message.split_once('\n').unwrap_or((message, ""));
            let notes: Vec<&str> = rest.lines().map(str::trim).collect();
            let object = serde_json::json!({
                "code": null,
                "severity": "error",
                "message": message,
                "spans": [],
                "notes": notes,
                "help": null,
                "rendered": format!("{p}\n"),
            });
            format!("{object}\n")
        })
        .collect()
}

/// Runs one command.
fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Check {
            file,
            stats,
            seed,
            tol,
            sample,
            full,
            sizes,
            wrt,
        } => {
            let (name, source) = read_text(&file)?;
            let dag = front(&name, &source, &netgrad::ir::Sizes::new())?;
            unsupported_recurrence(&name, &source, &dag, "the gradient check")?;
            let sizes = netgrad::resolve_sizes(&dag.program, &sizes.dims)?;
            let dag = if sizes.is_empty() {
                dag
            } else {
                front(&name, &source, &sizes)?
            };
            let mut text = format!(
                "{}: no errors\n\n{}",
                shown_name(&file),
                netgrad::summary::summary(&dag)
            );
            let (g, counts) = differentiate(dag, &wrt)?;
            if stats {
                text.push_str(&netgrad::summary::op_counts(&g, &counts));
            }
            let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
            let sample = if full {
                netgrad::gradcheck::Sample::All
            } else {
                netgrad::gradcheck::Sample::AtMost(usize::try_from(sample).unwrap_or(usize::MAX))
            };
            let checked = netgrad::gradcheck::check_with(
                &g,
                &given,
                seed,
                sample,
                &mut Bar::new("gradient check"),
            );
            let checks = match checked {
                Ok(checks) => checks,
                Err(netgrad::gradcheck::NotFinite { loss }) => {
                    write_output(None, &text)?;
                    return Err(Failure::Message(format!(
                        "error: the loss is {loss} at the random values of seed {seed} (uniform in [-1, 1)), so the gradient cannot be checked\n  = help: try another --seed, or keep log and sqrt arguments positive (e.g. log(softplus(x)))\n"
                    )));
                }
            };
            text.push_str(&netgrad::summary::gradient_check(
                &g.dag.program,
                &checks,
                seed,
                sample,
            ));
            write_output(None, &text)?;
            let failed: Vec<String> = checks
                .iter()
                .filter(|c| c.worst > tol || c.worst.is_nan())
                .map(|c| format!("error: the gradient of `{}` differs from central differences by {:.1e} (tolerance {tol:.0e})\n", c.name, c.worst))
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Failure::Message(failed.concat()))
            }
        }
        Command::Values {
            file,
            zeros,
            random,
            output,
            sizes,
        } => {
            not_an_input(output.as_deref(), &[&file])?;
            let (name, source) = read_text(&file)?;
            let dag = front(&name, &source, &netgrad::ir::Sizes::new())?;
            let sizes = netgrad::resolve_sizes(&dag.program, &sizes.dims)?;
            let missing: Vec<String> = dag
                .program
                .runtime_dims()
                .filter(|d| !sizes.contains_key(&d.name))
                .map(|d| format!("`--dim {}=SIZE`", d.name))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "error: the file has run-time dims: a template needs their sizes\n  = help: give {}\n",
                    missing.join(" ")
                )
                .into());
            }
            let dag = if sizes.is_empty() {
                dag
            } else {
                front(&name, &source, &sizes)?
            };
            let fill = if zeros {
                netgrad::values::Fill::Zeros
            } else {
                netgrad::values::Fill::Random(random.unwrap_or(1))
            };
            write_output(
                output.as_deref(),
                &netgrad::values::template(&dag.program, fill),
            )
        }
        Command::Eval {
            file,
            values,
            sizes,
            wrt,
        } => {
            let (name, source) = read_text(&file)?;
            let dag = front(&name, &source, &netgrad::ir::Sizes::new())?;
            let given = netgrad::resolve_sizes(&dag.program, &sizes.dims)?;
            let text = std::fs::read_to_string(&values)
                .map_err(|e| format!("error: cannot read `{}`: {e}\n", values.display()))?;
            let dag = if dag.program.runtime_dims().next().is_none() {
                dag
            } else {
                let sizes = netgrad::values::runtime_sizes(&dag.program, &text, &given)?;
                front(&name, &source, &sizes)?
            };
            // The derivative of a recurrence is not supported yet: its
            // forward values, and a warning.
            let g = if dag.program.recurrences.is_empty() {
                differentiate(dag, &wrt)?.0
            } else {
                let mut warning = netgrad::recurrence_unsupported(&dag.program, "the gradient");
                for d in &mut warning {
                    d.severity = netgrad::diag::Severity::Warning;
                    d.help = Some("the loss and outputs are computed; the gradient is left empty until backpropagation through time comes in a later version".into());
                }
                let style = style();
                let shown = if style.json {
                    netgrad::diag::render_json(&name, &source, &warning)
                } else {
                    netgrad::diag::render_styled(&name, &source, &warning, style.color)
                };
                let _ = std::io::stderr().lock().write_all(shown.as_bytes());
                netgrad::forward_only(dag)
            };
            let given = netgrad::values::parse(&g.dag.program, &text)
                .map_err(|p| indent_errors(&values, &p))?;
            let data = netgrad::eval::run(&g.dag.program, &given);
            let json = netgrad::values::result(&g, &data)
                .map_err(|p| format!("error: the result is not finite:\n{}\n", indent(&p)))?;
            write_output(None, &json)
        }
        Command::Explain {
            file,
            format,
            steps,
            wrt,
        } => {
            let (name, source) = read_text(&file)?;
            let dag = front(&name, &source, &netgrad::ir::Sizes::new())?;
            unsupported_recurrence(&name, &source, &dag, "`explain`")?;
            let (g, _) = differentiate(dag, &wrt)?;
            let format = match format {
                ExplainFormat::Text => netgrad::explain::Format::Text,
                ExplainFormat::Latex => netgrad::explain::Format::Latex,
                ExplainFormat::Markdown => netgrad::explain::Format::Markdown,
            };
            write_output(
                None,
                &if steps {
                    netgrad::explain::explain_with_steps(&g, &shown_name(&file), format)
                } else {
                    netgrad::explain::explain(&g, &shown_name(&file), format)
                },
            )
        }
        Command::Compile {
            file,
            output,
            float,
            wrt,
            no_simplify,
            stats,
            no_std,
            target_features,
            math,
        } => {
            not_an_input(output.as_deref(), &[&file])?;
            let (name, source) = read_text(&file)?;
            let dag = front(&name, &source, &netgrad::ir::Sizes::new())?;
            unsupported_recurrence(&name, &source, &dag, "generated code")?;
            let unsupported = netgrad::codegen_unsupported(&dag.program, no_std);
            if !unsupported.is_empty() {
                return Err(diagnostics(&name, &source, &unsupported));
            }
            // Run-time dims: instantiated at several sizes to find the
            // numbers computed from them.
            let (g, counts, numbers) = if dag.program.runtime_dims().next().is_some() {
                let wrt = Wrt { wrt, no_simplify };
                netgrad::derive_symbolic(&source, &wrt.wrt, !wrt.no_simplify).map_err(
                    |e| match e {
                        netgrad::SymbolicError::Diagnostics(d) => diagnostics(&name, &source, &d),
                        netgrad::SymbolicError::Message(e) => {
                            Failure::from(format!("error: {e}\n"))
                        }
                    },
                )?
            } else {
                let (g, counts) = differentiate(dag, &Wrt { wrt, no_simplify })?;
                (g, counts, Vec::new())
            };
            if stats {
                eprint!("{}", netgrad::summary::op_counts(&g, &counts));
            }
            let options = netgrad::codegen::Options {
                float: match float {
                    FloatType::F64 => netgrad::codegen::Float::F64,
                    FloatType::F32 => netgrad::codegen::Float::F32,
                },
                source: if is_stdin(&file) {
                    shown_name(&file)
                } else {
                    netgrad::codegen::stamp_path(&file)
                },
                share: !no_simplify,
                no_std,
                features: match target_features {
                    Features::Portable => netgrad::codegen::TargetFeatures::Portable,
                    Features::Native => netgrad::codegen::TargetFeatures::Native,
                    Features::Dispatch => netgrad::codegen::TargetFeatures::Dispatch,
                },
                math: match math {
                    Math::Fast => netgrad::codegen::MathFunctions::Fast,
                    Math::Std => netgrad::codegen::MathFunctions::Std,
                },
            };
            let code = netgrad::codegen::generate_sized(&g, &options, &numbers)
                .map_err(|e| format!("error: {e}\n"))?;
            write_output(output.as_deref(), &code)
        }
        Command::Graph { file, output } => {
            not_an_input(output.as_deref(), &[&file])?;
            let dag = load(&file)?;
            let name = match file.file_stem() {
                Some(stem) if !is_stdin(&file) => stem.to_string_lossy(),
                _ => "net".into(),
            };
            let text = netgrad::dot::dot(&dag, &name);
            write_output(output.as_deref(), &text)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "netgrad", &mut script);
            write_output(None, &String::from_utf8_lossy(&script))
        }
        Command::Manpage { output } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| format!("error: cannot render the manual page: {e}\n"))?;
            write_output(output.as_deref(), &String::from_utf8_lossy(&page))
        }
    }
}

/// A progress bar on standard error for work that has lasted a second:
/// indicatif's, which stays hidden when standard error is not a terminal.
struct Bar {
    label: &'static str,
    started: std::time::Instant,
    total: u64,
    done: u64,
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    fn new(label: &'static str) -> Bar {
        Bar {
            label,
            started: std::time::Instant::now(),
            total: 0,
            done: 0,
            bar: None,
        }
    }
}

impl netgrad::gradcheck::Progress for Bar {
    fn start(&mut self, total: u64) {
        self.total = total;
        self.started = std::time::Instant::now();
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if self.bar.is_none() && self.started.elapsed() >= std::time::Duration::from_secs(1) {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(self.total),
                indicatif::ProgressDrawTarget::stderr(),
            )
            .with_elapsed(self.started.elapsed())
            .with_position(self.done);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{wide_bar}] {pos}/{len} elements ({eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(self.label);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// E0507 for a file with recurrences, for a command that differentiates.
fn unsupported_recurrence(
    name: &str,
    text: &str,
    dag: &netgrad::graph::Dag,
    what: &str,
) -> Result<(), Failure> {
    let unsupported = netgrad::recurrence_unsupported(&dag.program, what);
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(diagnostics(name, text, &unsupported))
    }
}

/// Differentiates, and simplifies unless told not to; with the op counts.
fn differentiate(
    dag: netgrad::graph::Dag,
    wrt: &Wrt,
) -> Result<(netgrad::autodiff::Gradient, netgrad::simplify::Stats), String> {
    netgrad::derive(dag, &wrt.wrt, !wrt.no_simplify).map_err(|e| format!("error: {e}\n"))
}

fn indent(lines: &str) -> String {
    lines
        .lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent_errors(path: &Path, problems: &str) -> String {
    format!(
        "error: `{}` does not match the file's inputs and params:\n{}\n",
        path.display(),
        indent(problems)
    )
}

/// Whether a FILE argument means standard input.
fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name a FILE argument is shown by: `<stdin>` for `-`.
fn shown_name(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads a file, or standard input for `-`; with the name to show for it.
fn read_source(path: &Path) -> Result<(String, Vec<u8>), Failure> {
    if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .map_err(|e| format!("error: cannot read standard input: {e}\n"))?;
        return Ok((shown_name(path), bytes));
    }
    let name = shown_name(path);
    let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read `{name}`: {e}\n"))?;
    Ok((name, bytes))
}

/// Renders a file's diagnostics in the chosen style.
fn diagnostics(name: &str, text: &str, diags: &[netgrad::diag::Diagnostic]) -> Failure {
    let style = style();
    if style.json {
        return Failure::Diagnostics(netgrad::diag::render_json(name, text, diags));
    }
    Failure::Diagnostics(netgrad::diag::report(name, text, diags, style.color))
}

/// Reads and checks a file, its run-time dims at the default size; on
/// errors, the rendered diagnostics.
fn load(path: &Path) -> Result<netgrad::graph::Dag, Failure> {
    let (name, text) = read_text(path)?;
    front(&name, &text, &netgrad::ir::Sizes::new())
}

/// Reads a file as text: its name to show, and the text.
fn read_text(path: &Path) -> Result<(String, String), Failure> {
    let (name, bytes) = read_source(path)?;
    match netgrad::decode(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => Err(diagnostics(&name, &e.lossy, &[e.diagnostic])),
    }
}

/// Checks a file's text with its run-time dims at `sizes`; on errors, the
/// rendered diagnostics.
fn front(
    name: &str,
    text: &str,
    sizes: &netgrad::ir::Sizes,
) -> Result<netgrad::graph::Dag, Failure> {
    netgrad::front_end_sized(text, sizes).map_err(|diags| diagnostics(name, text, &diags))
}

fn write_output(path: Option<&Path>, text: &str) -> Result<(), Failure> {
    match path {
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            // A reader that stops early (`| head`) is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(format!("error: cannot write to standard output: {e}\n").into())
            }
            _ => Ok(()),
        },
        Some(p) => write_atomically(p, text)
            .map_err(|e| format!("error: cannot write `{}`: {e}\n", p.display()).into()),
    }
}

/// Writes a file through a temporary file in the same directory, renamed
/// over it: a full disk or a crash leaves the old file or the new one,
/// never a truncated one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".netgrad-{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Refuses an output path that is one of the command's input files (`compile
/// -o x.net x.net` would replace the source by the module).
fn not_an_input(output: Option<&Path>, inputs: &[&Path]) -> Result<(), Failure> {
    let Some(out) = output else { return Ok(()) };
    for input in inputs {
        if !is_stdin(input) && same_file(out, input) {
            return Err(format!(
                "error: the output `{}` is the input file `{}`\n  = help: write the output to another path with `-o`\n",
                out.display(),
                input.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Whether two paths name one existing file (through links too).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!(
        (a.canonicalize(), b.canonicalize()),
        (Ok(x), Ok(y)) if x == y
    )
}

/// `--tol`: a positive finite number.
fn positive_finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("the tolerance must be a positive finite number".to_string()),
        Err(e) => Err(format!("not a number: {e}")),
    }
}
