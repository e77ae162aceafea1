#!/usr/bin/env bash
# Runs the scale tests at the sizes of the issues' "done when" (MAPSYNC_SOAK=1), one at a time,
# and prints how long each took and the machine's load. Too long for CI (each 429 the sandbox
# injects stalls its system for a whole second); the outcome goes in BENCHMARKS.md.
#
#   scripts/soak.sh            # debug build, like CI
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p mapsync --test it --no-run >/dev/null 2>&1
for t in \
  sync::ambiguous::full_syncs_each_way_under_lost_answers_503s_429s_and_resets_end_equal_without_duplicates \
  serve::pairs::sync_in_a_loop_beside_serve_under_live_edits_and_faults_loses_nothing \
  serve::ambiguous_live::live_creates_and_edits_under_lost_answers_503s_429s_and_resets_cross_once
do
  echo "== $t"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s)
  if MAPSYNC_SOAK=1 cargo test -q -p mapsync --test it -- --exact "$t" 2>&1 | tail -3; then :; fi
  echo "took $(( $(date +%s) - start )) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
