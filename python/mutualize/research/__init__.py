"""Research on real ADL waves: a scorecard of policies and an exact replay.

- :func:`score_file` / ``mutualize score PER_WAVE.csv``: tracking error, fairness and the
  objective ``L = T + lambda F`` (:mod:`mutualize.metrics`) of every policy in a per-wave
  file (the layout of the MIT-licensed analysis of arXiv 2602.15182).
- :func:`replay` / ``mutualize replay ACCOUNTS.csv``: per-account rows (HyperReplay
  layout) grouped into waves and run through every policy with ``mutualize.allocate``
  in integer micro-USD; :func:`counterfactual` runs each wave with ADL on and off.
- ``@NAME`` data sets shipped with mutualize: :data:`DATASETS`.

See docs/research.md.
"""

from __future__ import annotations

from mutualize.research.datasets import DATASETS, resolve
from mutualize.research.policies import ANALYSIS_POLICIES, REPLAY_POLICIES, describe
from mutualize.research.scorecard import Scorecard, read_per_wave, score, score_file
from mutualize.research.waves import (
    counterfactual,
    group_waves,
    read_accounts,
    read_gaps,
    replay,
)

__all__ = [
    "ANALYSIS_POLICIES",
    "DATASETS",
    "REPLAY_POLICIES",
    "Scorecard",
    "counterfactual",
    "describe",
    "group_waves",
    "read_accounts",
    "read_gaps",
    "read_per_wave",
    "replay",
    "resolve",
    "score",
    "score_file",
]
