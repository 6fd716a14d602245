#!/usr/bin/env bash
# Usage: fuzz/run.sh TARGET SECONDS [CORE] — runs one cargo-fuzz target for
# SECONDS, on the seed corpus (fuzz/seeds.sh) and the language's dictionary.
# With CORE, pinned to that core (taskset). Prints libFuzzer's final
# statistics (executions, time); a finding is left in fuzz/artifacts/TARGET/
# and the exit status is non-zero.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS [CORE]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [CORE]}
pin=()
if [ -n "${3:-}" ]; then pin=(taskset -c "$3"); fi
[ -d "corpus/$target" ] || ./seeds.sh
# One input may take at most 30 s and 2 GB: a slower or larger one is a
# finding (every command must be linear in its input). Inputs up to 4 KB.
# Coverage instrumentation makes egg about 10x slower: `explain --steps` of
# a 4-line program took 0.7 s in a release build (the e-graph reaching its
# node limit), 13-15 s instrumented on a loaded core; since constant classes
# keep only their number and steps stop at the goal, that input takes 0.00 s.
# No sanitizer: netgrad has no unsafe code, and without ASan the targets
# build in half the time and run about twice as fast.
"${pin[@]}" cargo +nightly fuzz run --sanitizer none "$target" "corpus/$target" -- \
  -dict=net.dict -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
  -max_len=4096 -print_final_stats=1
