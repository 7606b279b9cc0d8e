#!/usr/bin/env bash
# Calibrate each testbed run with `peerfluid fit` (issue 20 §1) on the keys its trace can show,
# into runs/<name>/fit/; then `python3 compare.py` adds the "model after fit" column.
# Poisson runs are fitted on their steady window (--from: run.json's steady_from_s; the model
# still runs from the first arrival): the clients' start in lockstep is not in the model yet.
# Keys: a run without seeds cannot show the seed residence, one without aborts the abort rate,
# and a download-limited run cannot show η (fit refuses each with the reason).
set -euo pipefail
cd "$(dirname "$0")"
P=${PEERFLUID:-peerfluid}
fit() { "$P" fit "runs/$1/scenario.toml" --trace "runs/$1/trace.csv" --keys "$2" --from "$3" \
          --bootstrap 100 --seed 1 --no-plots --quiet --out "runs/$1/fit"; }
fit upload-limited   swarm.efficiency,swarm.abort_rate       "240 s"
fit upload-limited-16mb swarm.efficiency,swarm.abort_rate     "240 s"
fit upload-limited-64mb swarm.efficiency,swarm.abort_rate     "240 s"
fit download-limited swarm.seed_residence                    "180 s"
fit server-assisted  swarm.seed_residence,swarm.abort_rate   "150 s"
fit flash-crowd      swarm.efficiency                        "0 s"
