"""``scheme="auto"``: each step takes the scheme whose estimated cost is lower.

At the step the controller proposes (``k`` in Ξ, the accuracy-limited step,
or the fixed one without control) the two candidates cost, in units of one
explicit stage on one node (one compiled pass of the edge fluxes):

* **explicit** (RKC2, :mod:`fempde.solvers.rkc`): ``s(k λ)`` stages, ``s ≈
  √(1.7 k λ)`` with ``λ`` the Gershgorin bound of the right-hand side's
  Jacobian at the step's start, plus the pass for the next step's start:
  ``(s + 1) n + E``;
* **implicit** (BDF2 + Newton): ``N (c n + C) + I``, with ``N`` the Newton
  iterations of a step (:data:`NEWTON_ITERATIONS`), ``c`` the cost of an iteration per node relative to a stage (the
  assembly and the linear solve: :data:`NEWTON_PER_NODE` for the direct and the
  AMG solvers) and ``C`` its fixed part (Python, the solver's calls).

``E``, ``I`` and ``C`` are each step's and each iteration's fixed costs (the
step's bookkeeping), in the same unit. The constants are ratios, not clock
readings, so the choice is the same on every machine and a run repeats
exactly. They were set from timings on the peers' square
(``benchmarks/peers.py``; a shared 2-core machine): one stage 45–73 ns per
node; one BDF2 Newton iteration with the direct solver 0.95 ms at 289 nodes
and 5.8 ms at 4225 (45 and 23 stages, all overheads included), which
``14 n + 2000`` node-stages underestimates by 1.6–2.1× (so the choice leans to
the implicit scheme, whose cost is the better known). Near the break-even
either choice costs about the same, so the model need not be sharper; AMG's
constant is an estimate, not measured. An
explicit step beyond :data:`~fempde.solvers.rkc.MAX_STAGES` stages is never
chosen.
"""

from __future__ import annotations

from .rkc import MAX_STAGES, stages_for

__all__ = ["NEWTON_ITERATIONS", "NEWTON_PER_NODE", "SchemeChoice"]

NEWTON_PER_NODE = {"direct": 14.0, "amg": 40.0}
"""One Newton iteration per node, in explicit stages per node: the Jacobian's assembly
(about 2.5 stages) and the linear solve (PatternLU's factorisation and solve; AMG's
hierarchy, V-cycles and FGMRES)."""
NEWTON_FIXED = 2000.0
"""A Newton iteration's fixed part, in node-stages (Python and the solver's calls: ~60 µs)."""
IMPLICIT_STEP = 3000.0
"""An implicit step's fixed part besides its iterations (Milne's estimate, the error propagation's
solve and the bookkeeping), in node-stages."""
EXPLICIT_STEP = 1000.0
"""An explicit step's fixed part (the step's bookkeeping), in node-stages."""
NEWTON_ITERATIONS = 3.0
"""Newton iterations per implicit step (BDF2 on the peers' square: 2.0–2.8). A constant, not the
run's mean: the choice then depends only on the step and the state, so a resumed run chooses as
the uninterrupted one did."""


class SchemeChoice:
    """The choice between RKC2 and BDF2 for each step of one run on ``n`` nodes solved by
    ``solver`` (``"direct"`` or ``"amg"``)."""

    def __init__(self, n: int, solver: str) -> None:
        self.n = n
        self.per_node = NEWTON_PER_NODE.get(solver, NEWTON_PER_NODE["amg"])

    def explicit_cost(self, k: float, bound: float) -> float:
        """The estimated cost of an explicit step of ``k`` where the bound is ``bound`` (inf beyond
        the most stages)."""
        stages = stages_for(k, bound)
        return (stages + 1) * self.n + EXPLICIT_STEP if stages <= MAX_STAGES else float("inf")

    def implicit_cost(self) -> float:
        """The estimated cost of an implicit step."""
        return NEWTON_ITERATIONS * (self.per_node * self.n + NEWTON_FIXED) + IMPLICIT_STEP

    def explicit(self, k: float, bound: float) -> bool:
        """Whether the step of ``k`` is cheaper explicit."""
        return self.explicit_cost(k, bound) < self.implicit_cost()
