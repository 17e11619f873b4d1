"""Scenario texts shared by the CLI and sweep tests."""

# A few hundred accounts over a few hundred steps, no insurance fund and a crash deep
# enough to bankrupt some of them, so every policy mutualizes: each run takes milliseconds.
TINY = """
name = "tiny"
seed = 3
insurance_fund = 0

[[market]]
name = "BTC-PERP"
start_price = 100_000
tick_value = 10
penalty_bps = 0

[population]
count = 250
leverage = { kind = "uniform", lo = 5, hi = 50 }

[path]
kind = "crash_rebound"
steps = 200
crash_step = 80
crash_depth = 0.3

[[policy]]
preset = "pro_rata"

[[policy]]
preset = "bitmex_adl"
"""
