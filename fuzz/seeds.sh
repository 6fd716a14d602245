#!/usr/bin/env bash
# Usage: fuzz/seeds.sh — fills fuzz/corpus/<target>/ with the seed corpus:
# every .net file of examples/, tests/fail/ and tests/ (the inputs the test
# suite already knows), copied under its content hash so reruns add nothing
# twice. The corpus directory is not committed: libFuzzer adds to it.
set -euo pipefail
cd "$(dirname "$0")"
for target in $(cargo +nightly fuzz list 2>/dev/null || ls fuzz_targets | sed 's/\.rs$//'); do
  mkdir -p "corpus/$target"
  find ../examples ../tests -name '*.net' -not -path '*/target/*' -print0 |
    while IFS= read -r -d '' f; do
      cp "$f" "corpus/$target/seed-$(sha1sum "$f" | cut -c1-16)"
    done
done
echo "seeds: $(ls corpus/pipeline | wc -l) files per target in fuzz/corpus/"
