#!/usr/bin/env bash
# Calibrate each testbed run with the model terms of issue 20 §2 (models/swarm.md, "Terms for
# real clients"): the origin seeds (`server.policy = "seed"`, what the testbed's origin is), the
# duplicate share each run measured (limits.json `redundant_share_of_download`, set, not
# fitted), for the flash crowd one download stage per piece (`swarm.stages` = run.json's
# pieces: 62; the steady runs keep one stage: without aborts their steady state does not
# depend on it, and 62 stages make a fit with its bootstrap take tens of minutes), and the
# start-up delay fitted with the keys of fit.sh. Writes runs/<name>/terms.toml
# (the run's scenario with the terms) and runs/<name>/fit-terms/; then
# `python3 compare.py --fit fit-terms` gives the "model with terms after fit" column.
set -euo pipefail
cd "$(dirname "$0")"
P=${PEERFLUID:-peerfluid}
terms() {
  local d; d=$(python3 -c "import json; print(json.load(open('runs/$1/limits.json'))['redundant_share_of_download'])")
  local k=1
  if [ "$4" = stages ]; then k=$(python3 -c "import json; print(json.load(open('runs/$1/run.json'))['pieces'])"); fi
  sed -e "s/^\[server\]$/[server]\npolicy = \"seed\"/" \
      -e "s/^\[swarm\]$/[swarm]\nduplicates = $d\nstages = $k/" \
      "runs/$1/scenario.toml" > "runs/$1/terms.toml"
  "$P" check "runs/$1/terms.toml" > /dev/null
}
fit() { terms "$1" "$2" "$3" "${4:-}"
        "$P" fit "runs/$1/terms.toml" --trace "runs/$1/trace.csv" --keys "$2" --from "$3" \
          --bootstrap 100 --seed 1 --no-plots --quiet --out "runs/$1/fit-terms"; }
fit upload-limited   swarm.abort_rate,swarm.startup_delay                       "240 s"
fit download-limited swarm.seed_residence,swarm.startup_delay                   "180 s"
fit server-assisted  swarm.seed_residence,swarm.abort_rate,swarm.startup_delay  "150 s"
fit flash-crowd      swarm.startup_delay                                        "0 s" stages
