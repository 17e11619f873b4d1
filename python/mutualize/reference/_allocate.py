"""Pure-Python reference of the allocation kernel (mechanism.md, section 3).

Every amount is an integer count of minor units (e.g. 1e-6 USD) held in a Python ``int``,
so no step can overflow or round by accident. The module is written from the spec alone;
it is the oracle the compiled kernel is tested against and the fallback when the
extension cannot load, so it favours plain, checkable code over speed (it still does
100,000 accounts of plain pro_rata well under a second).

Definitions used throughout (n accounts, index i):

- eligible: ``c_i > 0``; every other account gets 0. ``base = P`` = sum of eligible claims.
- ceiling ``k_i``: ``c_i``, lowered to ``caps[i]`` and to ``floor(c_i * num / den)``.
- share ``s_i``: ``c_i``, or ``w_i * c_i`` with weights. Payers: eligible with ``s_i > 0``.
- target ``T = min(loss, sum of k_i over payers)``.
- ties always go to the smallest account id (``ids``, default the position).
"""

from __future__ import annotations

from collections.abc import Sequence

from mutualize.errors import AmountOverflowError, InvalidInputError

__all__ = ["allocate", "allocate_many"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

RULES = ("pro_rata", "equal_loss", "equal_award")
ROUNDINGS = ("exact", "down", "up")

# A ratio k/s has k < 2**63 and s = w*c < 2**126, so two different ratios differ by more
# than 2**-252; scaled by 2**256 and floored they stay strictly ordered, and equal ratios
# give equal keys. That turns an exact rational sort into a fast integer sort.
_RATIO_SHIFT = 256


# --------------------------------------------------------------------------- validation


def _check_rule_and_options(
    rule: str,
    rounding: str,
    caps: Sequence[int] | None,
    max_rate: tuple[int, int] | None,
    weights: Sequence[int] | None,
) -> None:
    """Refuse unknown names and option combinations the mechanism does not define."""
    if rule not in RULES:
        raise InvalidInputError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if rounding not in ROUNDINGS:
        raise InvalidInputError(
            f"unknown rounding {rounding!r}; expected one of {', '.join(ROUNDINGS)}"
        )
    if rounding != "exact" and rule != "pro_rata":
        raise InvalidInputError(
            f"rounding={rounding!r} is only defined for rule 'pro_rata' "
            f"(rule {rule!r} takes rounding='exact')"
        )
    given = [
        name
        for name, value in (("caps", caps), ("max_rate", max_rate), ("weights", weights))
        if value is not None
    ]
    if rule == "equal_award" and given:
        raise InvalidInputError(
            f"rule 'equal_award' takes none of caps, max_rate or weights (got {', '.join(given)})"
        )
    if weights is not None and rule != "pro_rata":
        raise InvalidInputError(f"weights are only defined for rule 'pro_rata', not {rule!r}")
    if given and rounding != "exact":
        raise InvalidInputError(
            f"{', '.join(given)} require rounding='exact' (got rounding={rounding!r})"
        )
    if max_rate is not None:
        if len(max_rate) != 2:
            raise InvalidInputError(
                f"max_rate must be a pair (num, den), got {len(max_rate)} values"
            )
        num, den = max_rate
        if max(num, den) >= 2**128:  # the documented range of a rate's terms
            raise AmountOverflowError(f"max_rate {num}/{den} needs more than 128 bits")
        if den <= 0:
            raise InvalidInputError(f"max_rate denominator must be > 0, got {den}")
        if num < 0:
            raise InvalidInputError(f"max_rate numerator must be >= 0, got {num}")
        if num > den:
            raise InvalidInputError(f"max_rate must be at most 1, got {num}/{den}")


def _check_int64(name: str, values: Sequence[int]) -> None:
    """Raise AmountOverflowError if any value does not fit a signed 64-bit integer."""
    if not values:
        return
    low, high = min(values), max(values)
    if low < INT64_MIN or high > INT64_MAX:
        bad = low if low < INT64_MIN else high
        raise AmountOverflowError(f"{name} value {bad} does not fit in int64")


def _check_loss(loss: int, name: str) -> None:
    if loss < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {loss}")
    if loss > INT64_MAX:
        raise AmountOverflowError(f"{name} {loss} does not fit in int64")


def _check_arrays(
    claims: Sequence[int],
    ids: Sequence[int] | None,
    caps: Sequence[int] | None,
    weights: Sequence[int] | None,
) -> None:
    """Lengths, int64 range and signs of the per-account arrays (not id uniqueness)."""
    n = len(claims)
    for name, arr in (("ids", ids), ("caps", caps), ("weights", weights)):
        if arr is not None and len(arr) != n:
            raise InvalidInputError(f"{name} has {len(arr)} entries but claims has {n}")
    _check_int64("claims", claims)
    if ids is not None:
        _check_int64("ids", ids)
    if caps is not None:
        _check_int64("caps", caps)
        low = min(caps, default=0)
        if low < 0:
            raise InvalidInputError(f"caps must be >= 0, got {low} at index {caps.index(low)}")
    if weights is not None:
        _check_int64("weights", weights)
        low = min(weights, default=0)
        if low < 0:
            raise InvalidInputError(
                f"weights must be >= 0, got {low} at index {weights.index(low)}"
            )


def _check_unique(ids: Sequence[int], where: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        for x in ids:
            if x in seen:
                raise InvalidInputError(f"duplicate account id {x}{where}")
            seen.add(x)


# --------------------------------------------------------------------------- rules


def _largest_remainder(shares: list[int], tie_ids: list[int], amount: int, denom: int) -> list[int]:
    """Split ``amount`` units in proportion ``shares / denom`` (Hamilton's method).

    Requires ``sum(shares) == denom > 0``. Each part is ``floor(share * amount / denom)``;
    the units left over go +1 each to the largest remainders ``(share * amount) mod denom``,
    ties to the smallest id. The result sums to ``amount``.
    """
    qr = [divmod(s * amount, denom) for s in shares]
    parts = [q for q, _ in qr]
    leftover = amount - sum(parts)
    if leftover:
        # Remainders sum to leftover * denom with each < denom, so more than `leftover`
        # accounts have one: the winners all have a positive remainder.
        order = sorted(range(len(shares)), key=lambda j: (-qr[j][1], tie_ids[j]))
        for j in order[:leftover]:
            parts[j] += 1
    return parts


def _smallest_ids_first(candidates: list[int], ids: Sequence[int], count: int) -> list[int]:
    """The ``count`` account indexes among ``candidates`` with the smallest ids."""
    return sorted(candidates, key=lambda i: ids[i])[:count]


def _pro_rata_plain(
    claims: Sequence[int],
    elig: list[int],
    ids: Sequence[int],
    target: int,
    base: int,
    rounding: str,
    out: list[int],
) -> None:
    """pro_rata without options: ``h_i ~ c_i * T / P``, rounded as asked."""
    if target == 0:
        return
    if target == base:  # every claim in full; also what each formula below gives
        for i in elig:
            out[i] = claims[i]
        return
    if rounding == "down":
        for i in elig:
            out[i] = claims[i] * target // base
    elif rounding == "up":
        for i in elig:
            out[i] = -(-claims[i] * target // base)  # ceil; <= c_i since T <= P
    else:
        parts = _largest_remainder([claims[i] for i in elig], [ids[i] for i in elig], target, base)
        for i, h in zip(elig, parts, strict=True):
            out[i] = h


def _water_fill(
    payers: list[int],
    ceil_: list[int],
    share: list[int],
    ids: Sequence[int],
    target: int,
    out: list[int],
) -> None:
    """Capped pro_rata: ``h_i = min(k_i, lam* s_i)`` with one real ``lam*``, then rounding.

    ``ceil_`` and ``share`` are aligned with ``payers``. Requires ``target < sum(ceil_)``.
    Accounts with ``k_i <= lam* s_i`` (saturated) pay ``k_i``; the rest share the
    remainder by the largest-remainder rule on ``s_i``.
    """
    m = len(payers)
    order = sorted(range(m), key=lambda j: (ceil_[j] << _RATIO_SHIFT) // share[j])
    # Walk payers by increasing ratio r_j = k_j / s_j. With `sat_k` the ceilings of those
    # already saturated and `rest_s` the shares of the others (j included),
    # f(r_j) = sat_k + r_j * rest_s is the total paid at lam = r_j. While f(r_j) <= T,
    # lam* >= r_j and j saturates (inclusive). Equal ratios give equal f, so ties agree.
    sat_k = 0
    rest_s = sum(share)
    cut = m
    for pos, j in enumerate(order):
        k, s = ceil_[j], share[j]
        if sat_k * s + k * rest_s > target * s:  # f(r_j) > T, cross-multiplied by s > 0
            cut = pos
            break
        sat_k += k
        rest_s -= s
        out[payers[j]] = k
    # T < sum(k) means f(last ratio) = sum(k) > T, so the loop always breaks: rest_s > 0.
    assert cut < m
    assert rest_s > 0
    rest = order[cut:]
    parts = _largest_remainder(
        [share[j] for j in rest], [ids[payers[j]] for j in rest], target - sat_k, rest_s
    )
    for j, h in zip(rest, parts, strict=True):
        out[payers[j]] = h


def _equal_loss(
    payers: list[int], ceil_: list[int], ids: Sequence[int], target: int, out: list[int]
) -> None:
    """Constrained equal losses: ``h_i = min(k_i, lam)``, lam the largest integer with
    ``sum(min(k_i, lam)) <= T``; leftover +1 to payers with ``k_i > lam``, smallest id first.

    ``ceil_`` is aligned with ``payers``. Requires ``target < sum(ceil_)``.
    """
    m = len(payers)
    sorted_k = sorted(ceil_)
    # With the j smallest ceilings saturated (sum sat_k), the others pay lam each:
    # lam = (T - sat_k) // (m - j). It is valid once it is below the next ceiling;
    # otherwise that ceiling saturates too (and lam never decreases).
    sat_k = 0
    lam = 0
    for j in range(m):
        lam = (target - sat_k) // (m - j)
        if lam < sorted_k[j]:
            break
        sat_k += sorted_k[j]
    paid = 0
    above: list[int] = []
    for j, i in enumerate(payers):
        k = ceil_[j]
        h = k if k <= lam else lam
        out[i] = h
        paid += h
        if k > lam:
            above.append(i)
    # leftover < number of payers above lam, by maximality of lam
    for i in _smallest_ids_first(above, ids, target - paid):
        out[i] += 1


def _equal_award(
    claims: Sequence[int],
    elig: list[int],
    ids: Sequence[int],
    target: int,
    out: list[int],
) -> None:
    """Constrained equal awards: each keeps ``min(c_i, mu)``, so ``h_i = max(0, c_i - mu)``,
    mu the smallest integer >= 0 with ``sum(max(0, c_i - mu)) <= T``; leftover +1 to
    accounts with ``c_i >= mu``, smallest id first. Requires ``0 < target < sum(eligible c_i)``.
    """
    desc = sorted((claims[i] for i in elig), reverse=True)
    m = len(desc)
    # H(mu) = sum(max(0, c - mu)) decreases in mu. On [desc[j], desc[j-1]] it equals
    # top - j*mu, top the sum of the j largest claims. Move down while H(next) <= T.
    top = 0
    mu = 0
    for j in range(1, m + 1):
        top += desc[j - 1]
        nxt = desc[j] if j < m else 0
        if top - j * nxt > target:  # H(nxt) > T: mu lies in (nxt, desc[j-1]]
            mu = -(-(top - target) // j)  # ceil((top - T) / j)
            break
    # the loop always breaks: H(0) = base > T
    paid = 0
    at_or_above: list[int] = []
    for i in elig:
        c = claims[i]
        h = c - mu if c > mu else 0
        out[i] = h
        paid += h
        if c >= mu:
            at_or_above.append(i)
    # leftover < count(c >= mu), by minimality of mu
    for i in _smallest_ids_first(at_or_above, ids, target - paid):
        out[i] += 1


def _kernel(
    claims: Sequence[int],
    loss: int,
    rule: str,
    rounding: str,
    ids: Sequence[int],
    caps: Sequence[int] | None,
    max_rate: tuple[int, int] | None,
    weights: Sequence[int] | None,
) -> tuple[list[int], int, int, int, int, int]:
    """One event on validated input. Returns (haircuts, total, target, dust, surplus, base)."""
    n = len(claims)
    out = [0] * n
    elig = [i for i in range(n) if claims[i] > 0]
    base = sum(claims[i] for i in elig)

    if rule == "pro_rata" and caps is None and max_rate is None and weights is None:
        target = min(loss, base)
        _pro_rata_plain(claims, elig, ids, target, base, rounding, out)
    elif rule == "equal_award":
        target = min(loss, base)
        if target == base:
            for i in elig:
                out[i] = claims[i]
        elif target > 0:
            _equal_award(claims, elig, ids, target, out)
    else:
        # pro_rata with options, or equal_loss: payers, their ceilings and shares
        if weights is None:
            payers = elig
            share = [claims[i] for i in payers]
        else:
            payers = [i for i in elig if weights[i] > 0]  # weight 0: pays nothing
            share = [weights[i] * claims[i] for i in payers]
        ceil_ = [claims[i] for i in payers]
        if caps is not None:
            ceil_ = [min(k, caps[i]) for k, i in zip(ceil_, payers, strict=True)]
        if max_rate is not None:
            num, den = max_rate
            ceil_ = [min(k, claims[i] * num // den) for k, i in zip(ceil_, payers, strict=True)]
        capacity = sum(ceil_)
        target = min(loss, capacity)
        if target == capacity:
            for i, k in zip(payers, ceil_, strict=True):
                out[i] = k
        elif target > 0:
            if rule == "pro_rata":
                _water_fill(payers, ceil_, share, ids, target, out)
            else:
                _equal_loss(payers, ceil_, ids, target, out)

    total = sum(out)
    dust = target - total if rounding == "down" else 0
    surplus = total - target if rounding == "up" else 0
    return out, total, target, dust, surplus, base


# --------------------------------------------------------------------------- public


def allocate(
    claims: list[int],
    loss: int,
    rule: str,
    rounding: str,
    ids: list[int] | None,
    caps: list[int] | None,
    max_rate: tuple[int, int] | None,
    weights: list[int] | None,
) -> tuple[list[int], int, int, int, int, int]:
    """Split ``loss`` over ``claims`` by ``rule``; all amounts in minor units.

    Args:
        claims: per-account haircut base (minor units); values <= 0 are ineligible.
        loss: amount to mutualize (minor units), >= 0.
        rule: "pro_rata", "equal_loss" or "equal_award".
        rounding: "exact" (sums to the target), "down" or "up" (pro_rata only).
        ids: unique account ids for tie-breaks (default: positions).
        caps: per-account maximum haircut (minor units), >= 0.
        max_rate: (num, den), maximum haircut as a fraction of the claim, in [0, 1].
        weights: per-account non-negative integer weights (pro_rata only).

    Returns:
        (haircuts, total, target, dust, surplus, base): per-account haircuts; their sum;
        the target ``T``; the shortfall ``T - total`` under rounding "down" (else 0); the
        excess ``total - T`` under rounding "up" (else 0); the sum of eligible claims.
        The uncovered loss is ``loss - total`` when positive.

    Raises:
        InvalidInputError: a value or option combination the mechanism does not accept.
        AmountOverflowError: an input amount or id outside int64, or a max_rate term of
            2**128 or more.
    """
    _check_rule_and_options(rule, rounding, caps, max_rate, weights)
    _check_loss(loss, "loss")
    _check_arrays(claims, ids, caps, weights)
    if ids is None:
        tie_ids: Sequence[int] = range(len(claims))
    else:
        _check_unique(ids, "")
        tie_ids = ids
    return _kernel(claims, loss, rule, rounding, tie_ids, caps, max_rate, weights)


def allocate_many(
    claims: list[int],
    offsets: list[int],
    losses: list[int],
    rule: str,
    rounding: str,
    ids: list[int] | None,
    caps: list[int] | None,
    max_rate: tuple[int, int] | None,
    weights: list[int] | None,
) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """Many independent events, each as :func:`allocate`; all amounts in minor units.

    Event ``e`` covers ``claims[offsets[e]:offsets[e+1]]`` (and the same slice of ids, caps
    and weights) with loss ``losses[e]``. Ids must be unique within an event only.

    Returns:
        (haircuts_flat, totals, targets, dust, surplus): haircuts aligned with ``claims``,
        then one entry per event.
    """
    _check_rule_and_options(rule, rounding, caps, max_rate, weights)
    n_events = len(losses)
    if len(offsets) != n_events + 1:
        raise InvalidInputError(
            f"offsets must have len(losses) + 1 = {n_events + 1} entries, got {len(offsets)}"
        )
    if offsets[0] != 0:
        raise InvalidInputError(f"offsets must start at 0, got {offsets[0]}")
    for e in range(n_events):
        if offsets[e + 1] < offsets[e]:
            raise InvalidInputError(
                f"offsets must be non-decreasing: offsets[{e + 1}] = {offsets[e + 1]} "
                f"< offsets[{e}] = {offsets[e]}"
            )
    if offsets[-1] != len(claims):
        raise InvalidInputError(
            f"offsets must end at len(claims) = {len(claims)}, got {offsets[-1]}"
        )
    for e, loss in enumerate(losses):
        _check_loss(loss, f"losses[{e}]")
    _check_arrays(claims, ids, caps, weights)
    tie_ids: Sequence[int] = range(len(claims)) if ids is None else ids
    if ids is not None:
        for e in range(n_events):
            _check_unique(ids[offsets[e] : offsets[e + 1]], f" in event {e}")

    haircuts: list[int] = []
    totals: list[int] = []
    targets: list[int] = []
    dusts: list[int] = []
    surpluses: list[int] = []
    for e in range(n_events):
        a, b = offsets[e], offsets[e + 1]
        h, total, target, dust, surplus, _ = _kernel(
            claims[a:b],
            losses[e],
            rule,
            rounding,
            tie_ids[a:b],
            None if caps is None else caps[a:b],
            max_rate,
            None if weights is None else weights[a:b],
        )
        haircuts.extend(h)
        totals.append(total)
        targets.append(target)
        dusts.append(dust)
        surpluses.append(surplus)
    return haircuts, totals, targets, dusts, surpluses
