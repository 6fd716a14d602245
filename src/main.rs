//! The `netgrad` command line: the only place that does I/O and chooses exit codes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// netgrad: a symbolic differentiation compiler for `.net` network descriptions.
///
/// Exit status: 0 on success, 1 when the file has errors (or cannot be read),
/// 2 for a wrong command line.
#[derive(Parser)]
#[command(name = "netgrad", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .net file and its gradient: print a summary (dims, values,
    /// definitions, the loss, the values used more than once), then compare
    /// the symbolic gradient with central differences at seeded random values.
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
        #[arg(long, default_value_t = 1e-6)]
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
        wrt: Wrt,
    },
    /// Evaluate the loss, its gradient and the outputs, given values as JSON.
    ///
    /// values.json maps every input and param to a number (a scalar) or nested
    /// arrays of its shape, row-major. Prints {"loss", "gradient", "outputs"}.
    Eval {
        /// The .net file.
        file: PathBuf,
        /// The JSON file of input and param values.
        #[arg(long, value_name = "values.json")]
        values: PathBuf,
        #[command(flatten)]
        wrt: Wrt,
    },
    /// Write a values.json template for `eval --values`: every input and
    /// param nested in its shape (a scalar as a bare number).
    ///
    /// The values are uniform in [-1, 1) from seed 1 unless told otherwise:
    /// the point `netgrad check` checks at its default seed.
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
    },
    /// Explain the derivation of the gradient step by step: the forward
    /// definitions, then each adjoint from the loss down, with the uses it
    /// sums over, the chain rule, the local partials and the result.
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
    /// Compile to one self-contained Rust module (std only) with the loss and
    /// its gradient: `loss_flat`, `gradient_flat`, `N_INPUTS`, `N_PARAMS`, and
    /// a const per dim.
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
    },
    /// Print the expression DAG as Graphviz DOT (multi-use values in red).
    ///
    /// Render it with `netgrad graph net.net | dot -Tsvg > net.svg`.
    Graph {
        /// The .net file.
        file: PathBuf,
        /// Write the DOT here instead of to standard output.
        #[arg(short, long, value_name = "OUT.dot")]
        output: Option<PathBuf>,
    },
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
struct Wrt {
    /// Differentiate with respect to these inputs and params (default: every param).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    wrt: Vec<String>,
    /// Keep the derivatives as the chain rule makes them: no simplification with egg.
    #[arg(long)]
    no_simplify: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Nothing useful can be done if standard error is gone.
            let _ = std::io::stderr().lock().write_all(message.as_bytes());
            ExitCode::from(1)
        }
    }
}

/// Runs one command; an error is the text to print on standard error.
fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Check {
            file,
            stats,
            seed,
            tol,
            sample,
            full,
            wrt,
        } => {
            let dag = load(&file)?;
            let mut text = format!(
                "{}: no errors\n\n{}",
                file.display(),
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
                    return Err(format!(
                        "error: the loss is {loss} at the random values of seed {seed} (uniform in [-1, 1)), so the gradient cannot be checked\n  = help: try another --seed, or keep log and sqrt arguments positive (e.g. log(softplus(x)))\n"
                    ));
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
                Err(failed.concat())
            }
        }
        Command::Values {
            file,
            zeros,
            random,
            output,
        } => {
            let dag = load(&file)?;
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
        Command::Eval { file, values, wrt } => {
            let dag = load(&file)?;
            let (g, _) = differentiate(dag, &wrt)?;
            let text = std::fs::read_to_string(&values)
                .map_err(|e| format!("error: cannot read `{}`: {e}\n", values.display()))?;
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
            let dag = load(&file)?;
            let (g, _) = differentiate(dag, &wrt)?;
            let format = match format {
                ExplainFormat::Text => netgrad::explain::Format::Text,
                ExplainFormat::Latex => netgrad::explain::Format::Latex,
                ExplainFormat::Markdown => netgrad::explain::Format::Markdown,
            };
            write_output(
                None,
                &if steps {
                    netgrad::explain::explain_with_steps(&g, &file.display().to_string(), format)
                } else {
                    netgrad::explain::explain(&g, &file.display().to_string(), format)
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
        } => {
            let dag = load(&file)?;
            let (g, counts) = differentiate(dag, &Wrt { wrt, no_simplify })?;
            if stats {
                eprint!("{}", netgrad::summary::op_counts(&g, &counts));
            }
            let options = netgrad::codegen::Options {
                float: match float {
                    FloatType::F64 => netgrad::codegen::Float::F64,
                    FloatType::F32 => netgrad::codegen::Float::F32,
                },
                source: netgrad::codegen::stamp_path(&file),
                share: !no_simplify,
            };
            let code =
                netgrad::codegen::generate(&g, &options).map_err(|e| format!("error: {e}\n"))?;
            write_output(output.as_deref(), &code)
        }
        Command::Graph { file, output } => {
            let dag = load(&file)?;
            let name = file
                .file_stem()
                .map_or("net".into(), |s| s.to_string_lossy());
            let text = netgrad::dot::dot(&dag, &name);
            write_output(output.as_deref(), &text)
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

/// Reads and checks a file; on errors, the rendered diagnostics.
fn load(path: &Path) -> Result<netgrad::graph::Dag, String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read `{name}`: {e}\n"))?;
    let text = match netgrad::decode(bytes) {
        Ok(text) => text,
        Err(e) => return Err(netgrad::diag::render(&name, &e.lossy, &[e.diagnostic])),
    };
    netgrad::front_end(&text).map_err(|diags| {
        let mut s = netgrad::diag::render(&name, &text, &diags);
        let n = diags.iter().filter(|d| d.is_error()).count();
        s.push_str(&format!(
            "error: could not check `{name}`: {n} error{}\n",
            if n == 1 { "" } else { "s" }
        ));
        s
    })
}

fn write_output(path: Option<&Path>, text: &str) -> Result<(), String> {
    match path {
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            // A reader that stops early (`| head`) is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(format!("error: cannot write to standard output: {e}\n"))
            }
            _ => Ok(()),
        },
        Some(p) => std::fs::write(p, text)
            .map_err(|e| format!("error: cannot write `{}`: {e}\n", p.display())),
    }
}
