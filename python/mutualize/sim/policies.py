"""Policies: the waterfalls a scenario compares, and how the engine applies them
(fields: ``schema.POLICY``).

A :class:`Policy` is a name, a :class:`~mutualize.waterfall.Waterfall`, a granularity
(one allocation per step or per bankruptcy) and, for clawback waterfalls, the session
length in steps. :func:`policy` gives the named ones of :data:`POLICY_NAMES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..waterfall import PRESETS, InsuranceFund, Socialize, Waterfall
from .checks import ScenarioError, check_choice, check_table, expected
from .schema import POLICY

__all__ = ["DEMO_POLICIES", "GRANULARITIES", "POLICY_NAMES", "Policy", "policy"]

GRANULARITIES: tuple[str, ...] = POLICY["granularity"].choices


def _capped_pro_rata() -> Waterfall:
    # The kernel takes max_rate only with exact (largest-remainder) rounding.
    return Waterfall(
        stages=(
            InsuranceFund(),
            Socialize(rule="pro_rata", rounding="exact", base="unrealized_pnl", max_rate=(1, 2)),
        )
    )


def _equal_award() -> Waterfall:
    return Waterfall(stages=(InsuranceFund(), Socialize(rule="equal_award")))


_EXTRA_POLICIES = {"capped_pro_rata": _capped_pro_rata, "equal_award": _equal_award}
POLICY_NAMES: tuple[str, ...] = (*PRESETS, *_EXTRA_POLICIES)
"""Every policy name :func:`policy` knows: the waterfall presets, ``"capped_pro_rata"``
(insurance fund, then a pro-rata haircut of unrealized PnL taking at most half of any
account's profit; exact rounding, the only one the kernel allows with a cap) and
``"equal_award"`` (insurance fund, then constrained equal awards: the biggest winners
pay first)."""

DEMO_POLICIES = ("okx_clawback", "bitmex_adl", "capped_pro_rata", "equal_award")
"""The four policies a scenario compares when it names none."""


@dataclass(frozen=True)
class Policy:
    """A waterfall configuration to backtest, and how the engine applies it.

    Attributes:
        name: the name results are reported under (unique within a scenario).
        waterfall: the :class:`~mutualize.waterfall.Waterfall` (or its plain dict).
        granularity: ``"step"`` (the deficits of one price step are socialized in one
            allocation; pro-rata haircuts compose, so this equals one at a time up to
            rounding) or ``"bankruptcy"`` (one allocation per bankruptcy).
        session_steps: steps per session for deferred (clawback) waterfalls; the last
            session is settled after the last step. 0: one session, settled at the end.
    """

    name: str
    waterfall: Waterfall = field(default_factory=Waterfall)
    granularity: str = POLICY.default("granularity")
    session_steps: int = POLICY.default("session_steps")

    KEYS = POLICY.keys

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", POLICY["name"].check(self.name))
        if not isinstance(self.waterfall, Waterfall):
            try:
                waterfall = Waterfall.from_dict(self.waterfall)
            except InvalidInputError as exc:
                raise ScenarioError("waterfall", str(exc)) from None
            object.__setattr__(self, "waterfall", waterfall)
        POLICY.check_into(self, ("granularity", "session_steps"))

    @property
    def preset(self) -> str | None:
        """The name in :data:`POLICY_NAMES` whose waterfall this is (its own name first),
        or ``None``."""
        if self.name in POLICY_NAMES and _waterfall_of(self.name) == self.waterfall:
            return self.name
        for name in POLICY_NAMES:
            if _waterfall_of(name) == self.waterfall:
                return name
        return None

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form: ``preset`` when the waterfall is a known one, else
        ``stages``, ``timing`` and ``lock_session_profit``."""
        out: dict[str, Any] = {"name": self.name}
        preset = self.preset
        if preset is not None:
            out["preset"] = preset
        else:
            plain = self.waterfall.to_dict()
            out["stages"] = [
                {key: value for key, value in stage.items() if value is not None}
                for stage in plain["stages"]
            ]
            out["timing"] = plain["timing"]
            out["lock_session_profit"] = plain["lock_session_profit"]
        out["granularity"] = self.granularity
        out["session_steps"] = self.session_steps
        return out

    @classmethod
    def from_dict(cls, d: object, default_name: str = "policy") -> Policy:
        """Read the plain form: ``preset`` (a name in :data:`POLICY_NAMES`) or ``stages``
        (the stage dicts of ``Waterfall.from_dict``), plus optional ``name``,
        ``timing``, ``lock_session_profit``, ``granularity`` and ``session_steps``."""
        if isinstance(d, Policy):
            return d
        table = check_table(d, "", cls.KEYS)
        preset, stages = table.get("preset"), table.get("stages")
        if preset is not None and stages is not None:
            raise ScenarioError("stages", "give either preset or stages, not both")
        if preset is None and stages is None:
            raise ScenarioError(
                "preset",
                "missing; a policy needs a preset (one of "
                + ", ".join(POLICY_NAMES)
                + ") or stages",
            )
        timing = table.get("timing")
        if timing is not None:
            POLICY["timing"].check(timing)
        lock = table.get("lock_session_profit")
        if lock is not None:
            POLICY["lock_session_profit"].check(lock)
        if preset is not None:
            base = _waterfall_of(check_choice(preset, "preset", POLICY_NAMES))
            waterfall = Waterfall(
                stages=base.stages,
                timing=base.timing if timing is None else timing,
                lock_session_profit=base.lock_session_profit if lock is None else lock,
            )
            name = table.get("name", preset)
        else:
            if isinstance(stages, str | bytes | Mapping) or not isinstance(stages, Sequence):
                raise expected("stages", "a list of stage tables", stages)
            if len(stages) > 100:
                raise ScenarioError("stages", f"expected at most 100 stages, got {len(stages):,}")
            try:
                waterfall = Waterfall.from_dict(
                    {
                        "stages": list(stages),
                        "timing": "immediate" if timing is None else timing,
                        "lock_session_profit": bool(lock),
                    }
                )
            except InvalidInputError as exc:
                raise ScenarioError("stages", str(exc)) from None
            name = table.get("name", default_name)
        return cls(
            name=name,
            waterfall=waterfall,
            granularity=table.get("granularity", POLICY.default("granularity")),
            session_steps=table.get("session_steps", POLICY.default("session_steps")),
        )


def _waterfall_of(name: str) -> Waterfall:
    factory = PRESETS.get(name) or _EXTRA_POLICIES[name]
    return factory()


def policy(name: str, *, granularity: str = "step", session_steps: int = 0) -> Policy:
    """The named policy: a preset of :data:`mutualize.waterfall.PRESETS`,
    ``"capped_pro_rata"`` or ``"equal_award"`` (see :data:`POLICY_NAMES`).

    Raises:
        ScenarioError: an unknown name.
    """
    check_choice(name, "policy", POLICY_NAMES)
    return Policy(
        name=name,
        waterfall=_waterfall_of(name),
        granularity=granularity,
        session_steps=session_steps,
    )


def _default_policies() -> tuple[Policy, ...]:
    return tuple(policy(name) for name in DEMO_POLICIES)
