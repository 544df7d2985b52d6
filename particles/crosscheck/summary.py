"""The words of a cross-check: :func:`describe` (what ``fempde-crosscheck`` prints)
and :func:`warning_lines` (one per quantity the limit does not resolve).

Every gap printed has the limit's error beside it and says whether that error
could explain it; a warning names the quantity, the gap, the run and the time
that trip it. They read a :class:`~particles.crosscheck.result.CrossCheck`
(passed in, not imported: the result's methods call these).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["describe", "warning_lines"]


def _group_line(check: Any, quantity: str, n: int, epsilon: float) -> str:
    runs = check.group(n, epsilon)
    sup = np.array([r.sup(quantity) for r in runs])
    start = np.array([r.gaps[quantity][0] for r in runs])
    where = [float(check.times[r.argsup(quantity)]) for r in runs]
    seeds = np.array2string(sup, precision=3)
    return (f"    N = {n}, ε = {epsilon:g}: sup over t > 0 {np.mean(sup):.3e} (seeds {seeds}, "
            f"at t = {', '.join(f'{t:g}' for t in where)}); at t = 0 (the initial sample) "
            f"{np.array2string(start, precision=3)}")


def _verdict(check: Any, quantity: str) -> str:
    error = check.limit_error(quantity)[1:]
    resolved = check.resolved(quantity)
    if resolved is None:
        return f"the limit's error of it is not estimated ({check.how.get(quantity, 'no estimate')}): NOT checked"
    flagged = len(check.flags(quantity))
    words = "resolved" if resolved else "NOT resolved"
    return (f"the limit's error ≤ {float(error.max(initial=0.0)):.2e} ({check.how.get(quantity, '')}): {words}; "
            f"{flagged} of {len(check.runs) * (len(check.times) - 1)} (run, t > 0) gaps flagged")


def describe(check: Any) -> str:
    """Lines: the study, the limit and its error, each quantity's sup-gaps (t > 0) and t = 0 gaps per
    ``(N, ε)`` with the verdict, the slopes, and the worst flag of each quantity."""
    lines = [f"{check.model_name}: {len(check.runs)} SGD runs (N = {list(check.ns)}, ε = {list(check.epsilons)}, "
             f"{len(check.seeds)} seeds), {len(check.times) - 1} output times to t = {check.times[-1]:g}",
             "limit: " + check.limit.describe().replace("\n", "\n  ")]
    if check.noise:
        lines.append(f"every risk leaves out the label noise's variance {check.noise:.4g}")
    for q in check.quantities:
        lines.append(f"  {q.name} ({q.label}): {_verdict(check, q.name)}")
        lines += [_group_line(check, q.name, n, e) for n in check.ns for e in check.epsilons if check.group(n, e)]
    bias = {n: b for n, b in check.bias.items() if np.all(np.isfinite(b))}
    if bias:
        sizes = ", ".join(f"N = {n}: ≤ {float(np.max(np.abs(b[1:]), initial=0.0)):.2e}" for n, b in bias.items())
        lines.append(f"  finite-N bias E R_N − R(ρ_t) of N units drawn from the limit (beside the risk gap): {sizes}")
    slopes = check.slopes()
    if slopes:
        lines.append("  slopes of the sup-gaps (t > 0), 95 % intervals:")
        lines += [f"    {s.describe()}" for s in slopes]
    lines += [f"  {w}" for w in warning_lines(check)]
    return "\n".join(lines)


def warning_lines(check: Any) -> list[str]:
    """One line per quantity not resolved (or not checked): the gap, run and time that trip it."""
    out = []
    for q in check.names:
        resolved = check.resolved(q)
        if resolved is None:
            out.append(f"WARNING {q}: the limit's error of this quantity is not estimated; its gaps are not checked")
            continue
        flags = check.flags(q)
        if resolved and not flags:
            continue
        smallest = check.runs[int(np.argmin(check.sup(q)))]
        error = check.limit_error(q)
        largest_gap = float(np.max(check.sup(q)))
        if float(np.max(error[1:])) > largest_gap:  # a bound above every gap says nothing about any of them
            out.append(f"WARNING {q}: not checked: the limit's error of it, {float(np.max(error[1:])):.2e}, is more "
                       f"than its largest sup-gap {largest_gap:.3e}, so the gaps cannot tell the particles from the "
                       f"limit's own error" + _remedy(check, q))
            continue
        k = 1 + int(np.argmax(error[1:]))
        head = (f"WARNING {q}: the limit's error {error[k]:.2e} at t = {check.times[k]:g} is more than "
                f"{check.fraction:g} of the smallest sup-gap {smallest.sup(q):.3e} ({smallest.key.name}, at "
                f"t = {check.times[smallest.argsup(q)]:g})" if not resolved else
                f"WARNING {q}: the sup-gaps are resolved, but not every gap")
        if flags:
            head += f"; {len(flags)} gaps flagged, the worst: {flags[0].describe()}"
        out.append(head + _remedy(check, q))
    return out


def _remedy(check: Any, quantity: str) -> str:
    limit = check.limit
    space = [p for p in limit.errors if p.name == "space" and p.estimated]
    if space and quantity == "risk" and float(np.max(space[0].risk)) >= 0.5 * float(np.max(limit.total)):
        return " — the space part dominates: refine the mesh (smaller h)"
    return ""
