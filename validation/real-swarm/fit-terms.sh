#!/usr/bin/env bash
# Calibrate each testbed run with the model terms of issue 20 §2 (models/swarm.md, "Terms for
# real clients"): the origin seeds (`server.policy = "seed"`, what the testbed's origin is), the
# duplicate share each run measured (limits.json `redundant_share_of_download`, set, not
# fitted), one download stage per piece (`swarm.stages` = run.json's pieces: 62 for 4 MB in
# 64 KiB pieces, at most the model's 64 for the 16 and 64 MB runs; with aborts the stages
# matter to the steady state: a download of many stages
# is nearly deterministic, so the downloads that complete take longer than Little's mean over
# every peer, as measured), and the start-up delay fitted with the keys of fit.sh. Writes
# runs/<name>/terms.toml (the run's scenario with the terms) and runs/<name>/fit-terms/; then
# `python3 compare.py --fit fit-terms` gives the "model with terms after fit" column.
# Wall time on the 2-core VM (busy): 10–20 s per upload- and download-limited run,
# 8 min server-assisted, 17 min the flash crowd (trace-driven arrivals step the 62-stage solve).
set -euo pipefail
cd "$(dirname "$0")"
P=${PEERFLUID:-peerfluid}
# terms NAME STAGES: the run's scenario with the terms, STAGES download stages ("pieces": one
# per piece, at most 64).
terms() {
  local d; d=$(python3 -c "import json; print(json.load(open('runs/$1/limits.json'))['redundant_share_of_download'])")
  local k=$2
  if [ "$k" = pieces ]; then k=$(python3 -c "import json; print(min(json.load(open('runs/$1/run.json'))['pieces'], 64))"); fi
  sed -e "s/^\[server\]$/[server]\npolicy = \"seed\"/" \
      -e "s/^\[swarm\]$/[swarm]\nduplicates = $d\nstages = $k/" \
      "runs/$1/scenario.toml" > "runs/$1/terms.toml"
  "$P" check "runs/$1/terms.toml" > /dev/null
}
# fit NAME KEYS FROM STAGES BOOTSTRAP
fit() { terms "$1" "$4"
        "$P" fit "runs/$1/terms.toml" --trace "runs/$1/trace.csv" --keys "$2" --from "$3" \
          --bootstrap "$5" --seed 1 --no-plots --quiet --out "runs/$1/fit-terms"; }
fit upload-limited      swarm.abort_rate,swarm.startup_delay                      "240 s" pieces 100
fit upload-limited-16mb swarm.abort_rate,swarm.startup_delay                      "240 s" pieces 100
fit upload-limited-64mb swarm.abort_rate,swarm.startup_delay                      "240 s" pieces 100
# No aborts: neither the steady state nor the completed downloads' time depends on the stages,
# and 62 stages under the seeding origin's switches take ~50 s a fit: one stage.
fit download-limited    swarm.seed_residence,swarm.startup_delay                  "180 s" 1      100
# 62 stages take ~25 s a fit here: 40 bootstrap refits (~8 min) instead of 100.
fit server-assisted     swarm.seed_residence,swarm.abort_rate,swarm.startup_delay "150 s" pieces 40
fit flash-crowd         swarm.startup_delay                                       "0 s"   pieces 100
