# ---
# jupyter:
#   jupytext:
#     text_representation:
#       format_name: percent
# ---

# %% [markdown]
# # What should a video site pay viewers who share?
#
# A notebook in the percent format (open it in Jupyter with jupytext, VS Code or Spyder, or
# run it as a script: `python examples/notebook.py` from the repository root). It needs
# `pip install ./python pandas matplotlib`.
#
# 1. Load the built-in scenario (a 1.5 GB video goes viral; viewers are paid per GB they
#    upload) and price it as `peerfluid compare` does.
# 2. Sweep the per-GB price paid to sharers and plot what peer-assisted delivery saves.
# 3. Draw the figure `peerfluid sweep scenarios/sweeps/sharing-price.toml` draws, from the same
#    numbers: if the CLI has written its `sweep.csv`, check that they are equal.

# %%
import os
from pathlib import Path

import matplotlib

if __name__ == "__main__" and not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")  # run as a script without a screen: write PNGs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import peerfluid as pf

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
OUT = Path(os.environ.get("NOTEBOOK_OUT", ROOT / "results" / "notebook"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. The built-in scenario, priced

# %%
s = pf.Scenario.default()
print(s.name, "-", s.description)
r = pf.compare(s)
r.costs[["architecture", "provider_usd", "payments_usd", "gross_saving", "net_saving"]]

# %% [markdown]
# ## 2. Sweep the price paid per GB uploaded
#
# The keys and unit strings are those of the scenario files; `mode="grid"` with one key is a
# list of prices. Each row is a line of `sweep.csv`. (In `sharing-price.toml`, section 3,
# viewers have private costs and decide whether to share: there the price buys participation.)

# %%
prices = {"incentive.price": {"from": "0.001 $/GB", "to": "0.2 $/GB", "steps": 40, "scale": "log"}}
df = pf.sweep(s, prices)
df[["incentive.price", "status", "participation", "p2p.net_saving", "hybrid.net_saving"]].head()

# %%
SAVINGS = [  # the series of `peerfluid sweep`'s savings figure (src/output/sweep_plot.rs)
    ("cdn.net_saving", "CDN", "-"),
    ("p2p.gross_saving", "p2p, gross", "--"),
    ("p2p.net_saving", "p2p, net of payments", "-"),
    ("hybrid.gross_saving", "hybrid, gross", "--"),
    ("hybrid.net_saving", "hybrid, net of payments", "-"),
]


def savings_figure(df, key, title, path):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for column, label, style in SAVINGS:
        if column in df and df[column].notna().any():
            ax.plot(df[key], 100 * df[column], style, label=label)
    ax.set_xscale("log")
    ax.set_xlabel(f"{key} ($/GB)")
    ax.set_ylabel("saving vs client-server (%)")
    ax.set_title(title)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig


savings_figure(df, "incentive.price", f"{s.name}: saving vs client-server", OUT / "viral-video-price.png")
# Every viewer of this scenario shares at any price (participation 1: no private costs), so
# a higher price only pays more for the same upload: where does paying stop saving?
losing = df[df["p2p.net_saving"] < 0]
print(f"participation {df['participation'].min():.2f} to {df['participation'].max():.2f}; "
      f"peer-assisted delivery stops saving at ${losing['incentive.price'].iloc[0]:.4f}/GB"
      if len(losing) else "peer-assisted delivery saves at every price swept")

# %% [markdown]
# ## 3. The CLI's sweep figure, from Python
#
# `scenarios/sweeps/sharing-price.toml` is a scenario with its own `[sweep]` (200 log-spaced
# prices). `pf.sweep_file` runs it as `peerfluid sweep` does; the figure below has the numbers
# of `results/sharing-price-sweep/savings.svg`. The same sweep written as a Python call on the
# scenario gives the same rows.

# %%
file = ROOT / "scenarios" / "sweeps" / "sharing-price.toml"
cli_like = pf.sweep_file(file)
again = pf.sweep(
    pf.Scenario.load(file),
    {"incentive.price": {"from": "0.0001 $/GB", "to": "0.05 $/GB", "steps": 200, "scale": "log"}},
)
pd.testing.assert_frame_equal(cli_like, again)
savings_figure(cli_like, "incentive.price", "sharing-price: saving vs client-server",
               OUT / "sharing-price.png")

# %%
# Where `peerfluid sweep scenarios/sweeps/sharing-price.toml` writes (NOTEBOOK_CLI_SWEEP: elsewhere).
csv = Path(os.environ.get("NOTEBOOK_CLI_SWEEP", ROOT / "results" / "sharing-price-sweep" / "sweep.csv"))
if csv.exists():
    cli = pd.read_csv(csv)
    assert list(cli.columns) == list(cli_like.columns)
    numeric = [c for c in cli.columns if cli[c].dtype.kind in "fi"]
    # Same doubles: both sides print the shortest text that reads back exactly.
    assert np.array_equal(cli[numeric].to_numpy(float), cli_like[numeric].to_numpy(float), equal_nan=True)
    print(f"{csv}: the same {len(cli)} rows as the CLI")
else:
    print(f"run `peerfluid sweep {file.relative_to(ROOT)}` to check these rows against its sweep.csv")
