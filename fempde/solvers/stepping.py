"""Implicit Euler or BDF2 + Newton, with error-controlled steps, as a generator of immutable steps.

**Schemes.** BDF2 is written as an implicit-Euler step of size
``k(1 + ω)/(1 + 2ω)`` from ``ρ̃ = ((1 + ω)² ρ_n − ω² ρ_{n−1}) / (1 + 2ω)``
(``ω = k_n / k_{n−1}``): the same Newton system, second order in time. ``ρ̃``
has the mass of ``ρ_n``, so mass stays exact; where ``ρ̃`` would be negative
somewhere (or ``ω > 2``, or there is too little history, or a source term) the
step is an implicit-Euler step, so ``ρ ≥ 0`` holds for every step. The
free-energy decay is proved for implicit Euler only; for BDF2 it is checked
(the energy certificate) rather than given.

**Error control.** Every step's local error is estimated by Milne's device:
the solution ``ρ_c`` against the polynomial extrapolation ``ρ_p`` of the
accepted past (linear for implicit Euler, quadratic for BDF2; the first step
uses an explicit-Euler predictor from the residual), ``e = C_c/(C_p − C_c)
(ρ_c − ρ_p)`` with the error constants of both on the actual step sizes
(:func:`milne_factor`). Its size ``E`` is the larger of two ratios: the
mass-weighted L1 norm relative to the density, ``Σ m_i |e_i| / (rtol (Σ m_i |ρ_i|
+ atol |Ω|))``, and the error it causes in the risk relative to the risk,
``|R(ρ) − R(ρ − e)| / (rtol (|R| + atol))`` — the risk curve is what a
cross-check compares, and it may decay by orders of magnitude, so its relative
accuracy is controlled too. A step with ``E > 1`` is rejected, and the next step size comes from a PI controller
(Gustafsson: ``k E^{−0.7/q} E_prev^{0.4/q}``, ``q`` the estimate's order),
within ``[0.2, 5]`` times the last, capped by Newton's difficulty and ``dt_max``,
and steps still land exactly on output times.

**Global error.** The local errors are carried forward by the linearised
scheme, ``g_{n+1} = J⁻¹ M g̃_n + e_{n+1}`` (``J`` the step's Newton Jacobian,
whose factorisation or preconditioner is reused, ``g̃`` the BDF2 combination of
the last two), so each step records the estimated global error of ρ
(``time_error = Σ m|g|``) and of the risk (``risk_time_error = |R(ρ + g) − R(ρ)|``),
also without control (``rtol=None``). Because errors decay with the flow, this
stays relative where the risk decays by orders of magnitude and vanishes at a
steady state, unlike a sum of local errors.

The stepper knows nothing of output: it yields :class:`Step` records and the
run loop (:func:`fempde.solve`) hands them to observers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..checks import number
from ..fem.space import Space
from ..meanfield import Schedule
from .linalg import LINEAR_SOLVERS, LinearSolver, MatrixFreeJacobian, choose_solver

__all__ = [
    "DEFAULT_RTOL", "SCHEMES", "ConvergenceError", "GradientFlowSystem", "Step", "StepOptions", "StepperState",
    "milne_factor", "steps",
]

Array = NDArray[np.float64]

DEFAULT_RTOL = 3e-6
"""The default local (per-step) error tolerance, relative. Chosen by measurement
(benchmarks/work_precision.py, README's Numerics): a default run's risk history
is within 1e-3 relative of the same run at a 100× tighter tolerance on the
interval problem of ``examples/crosscheck/interval.toml`` (measured 9.2e-4, the
largest at t = 0.11, where the risk has decayed from 0.2 to 1.6e-8; it ends at
6e-10) and on ``fempde demo`` (1.5e-5)."""

SCHEMES = ("bdf2", "euler")
"""Time schemes; the first is the default."""


class ConvergenceError(RuntimeError):
    """Newton failed even with the smallest allowed time step."""


class GradientFlowSystem(Protocol):
    """What the stepper needs from a discretised problem."""

    space: Space
    has_source: bool

    @property
    def schedule(self) -> Schedule: ...

    def linearise(
        self, rho: Array, rho_old: Array, t_old: float, t_new: float, *, rescaled: float | None = None
    ) -> tuple[Array, sp.csr_matrix | MatrixFreeJacobian]: ...

    def free_energy(self, rho: Array) -> float: ...

    def risk(self, rho: Array) -> float: ...

    def source(self, t: float) -> Array | None: ...

    def point_fields(self, rho: Array) -> dict[str, Array]: ...

    def cell_fields(self, rho: Array, t: float) -> dict[str, Array]: ...


@dataclass(frozen=True)
class StepOptions:
    """How :func:`steps` steps (validated on construction).

    Parameters
    ----------
    rtol, atol
        Local (per-step) error tolerances, relative and absolute (module
        docstring; ``atol`` applies to the density per unit volume and to the
        risk). The global error follows from the local ones as the flow carries
        them; ``Result.risk_time_error`` reports its estimate. ``rtol=None`` switches
        the control off: steps then grow by 1.5 after easy Newton solves up to
        ``dt_max`` (with ``dt0 = dt_max``: fixed steps), and the error is still
        estimated and reported.
    dt0, dt_max, dt_min
        First, largest and smallest step (defaults ``1e-4 t_end`` clamped to
        ``[dt_min, dt_max]``, ``t_end/10`` and ``1e-12 t_end``).
    newton_tol, max_newton
        Newton stops when its update, or the residual per lumped mass, is below
        ``newton_tol · max(1, max ρ)``; a step that needs more than
        ``max_newton`` iterations is rejected.
    linear_solver
        ``"auto"``, ``"direct"`` or ``"amg"``.
    scheme
        ``"bdf2"`` (default, second order) or ``"euler"`` (implicit Euler).
    """

    rtol: float | None = DEFAULT_RTOL
    atol: float = 1e-12
    dt0: float | None = None
    dt_max: float | None = None
    dt_min: float | None = None
    newton_tol: float = 1e-11
    max_newton: int = 25
    linear_solver: str = "auto"
    scheme: str = SCHEMES[0]

    def __post_init__(self) -> None:
        def positive(name: str, value: object, *, allow_none: bool = True, zero: bool = False) -> None:
            if value is None and allow_none:
                return
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) \
                and math.isfinite(float(value)) and (float(value) >= 0 if zero else float(value) > 0)
            if not ok:
                kind = "a number >= 0" if zero else "a positive number"
                raise ValueError(f"{name} must be {kind}, got {value!r}")

        positive("rtol", self.rtol)
        if self.rtol is not None and self.rtol >= 1:
            raise ValueError(f"rtol must be below 1 (a relative error), got {self.rtol!r}")
        positive("atol", self.atol, zero=True, allow_none=False)
        for name in ("dt0", "dt_max", "dt_min"):
            positive(name, getattr(self, name))
        positive("newton_tol", self.newton_tol, allow_none=False)
        if isinstance(self.max_newton, bool) or not isinstance(self.max_newton, int) or self.max_newton < 1:
            raise ValueError(f"max_newton must be an integer >= 1, got {self.max_newton!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be 'bdf2' (second order) or 'euler' (implicit Euler), got {self.scheme!r}")
        if self.linear_solver not in LINEAR_SOLVERS:
            raise ValueError(f"linear_solver must be 'auto', 'direct' or 'amg', got {self.linear_solver!r}")

    def resolved(self, t_end: float) -> tuple[float, float, float]:
        """``(dt0, dt_max, dt_min)`` for a run to ``t_end``: defaults filled in, the
        default ``dt0`` clamped into ``[dt_min, dt_max]``; given values must be ordered."""
        dt_max = self.dt_max if self.dt_max is not None else t_end / 10
        dt_min = self.dt_min if self.dt_min is not None else min(1e-12 * t_end, dt_max)
        if self.dt0 is None:
            dt0 = min(max(1e-4 * t_end, dt_min), dt_max)
        else:
            dt0 = self.dt0
        if not (dt_min <= dt0 <= dt_max):
            raise ValueError(f"need dt_min <= dt0 <= dt_max, got {dt_min:.3g}, {dt0:.3g}, {dt_max:.3g}")
        return float(dt0), float(dt_max), float(dt_min)


@dataclass(frozen=True)
class Step:
    """One accepted time step (index 0 is the initial state). Built by keyword."""

    index: int
    t: float
    dt: float
    rho: Array
    free_energy: float
    risk: float
    mass: float
    expected_mass: float
    newton_iterations: int = 0
    rejected: int = 0
    at_output_time: bool = False
    energy_increase: float = 0.0
    """``F_h`` now minus ``F_h`` at the previous step (0 at the initial state)."""
    dt_next: float = 0.0
    """The step size the controller will try next (what a resumed run needs)."""
    wall_mass: float = 0.0
    """Mass within two mesh sizes of the wall: large values mean the walls matter."""
    past: tuple[Array, ...] = ()
    """The states of the steps before, newest first (at most two: the error
    estimate and BDF2 need them)."""
    past_dt: tuple[float, ...] = ()
    """The sizes of the steps that led to ``rho`` and to each of ``past``, newest first."""
    scheme: str = "euler"
    """The scheme this step was taken with: ``"euler"`` or ``"bdf2"``."""
    local_error: float = 0.0
    """Estimated local error of this step, ``Σ m_i |e_i|`` (mass-weighted L1)."""
    time_error: float = 0.0
    """Estimated global error of ρ from the time stepping, ``Σ m_i |g_i|``."""
    risk_time_error: float = 0.0
    """Estimated global error of the risk from the time stepping, ``|R(ρ + g) − R(ρ)|``."""
    error_ratio: float = 0.0
    """The controller's ``E`` for this step (<= 1 when accepted under control)."""
    global_error: tuple[Array, ...] = ()
    """The estimated global errors ``g`` of ``rho`` and of ``past[0]``, newest first."""

    def state(self) -> StepperState:
        """What :func:`steps` needs to continue from this step exactly."""
        return StepperState(index=self.index, t=self.t, rho=np.array(self.rho), dt_next=self.dt_next,
                            expected_mass=self.expected_mass, free_energy=self.free_energy,
                            past=tuple(np.array(r) for r in self.past), past_dt=self.past_dt,
                            global_error=tuple(np.array(g) for g in self.global_error),
                            error_ratio=self.error_ratio)

    @property
    def min_rho(self) -> float:
        return float(self.rho.min())

    @property
    def mass_drift(self) -> float:
        """``|mass − expected| / expected``; expected is the initial mass plus the integrated source."""
        return abs(self.mass - self.expected_mass) / abs(self.expected_mass)


@dataclass(frozen=True)
class StepperState:
    """A point to resume stepping from (see :meth:`Step.state` and :mod:`fempde.io.checkpoint`)."""

    index: int
    t: float
    rho: Array
    dt_next: float
    expected_mass: float
    free_energy: float
    past: tuple[Array, ...] = ()
    past_dt: tuple[float, ...] = ()
    global_error: tuple[Array, ...] = ()
    """The estimated global errors of ``rho`` and of ``past[0]``, newest first."""
    error_ratio: float = 0.0


def milne_factor(k: float, past_dt: Sequence[float], scheme: str) -> float:
    """``C_c / (C_p − C_c)``: the local error of a step of size ``k`` is this
    times ``ρ_c − ρ_p`` (module docstring). ``past_dt`` are the previous step
    sizes, newest first; the constants are those of ``(t − t_n)^{q}/q!`` with
    ``q`` = the order + 1, on the actual steps.

    Implicit Euler (``q = 2``; linear predictor through ``t_n, t_{n−1}``, or
    explicit Euler when ``past_dt`` is empty): ``C_c = −k²/2``,
    ``C_p = k(k + k₁)/2`` (``k²/2`` for explicit Euler). BDF2 (``q = 3``;
    quadratic predictor through ``t_n, t_{n−1}, t_{n−2}``): ``C_p = k(k + k₁)(k + k₁ + k₂)/6``
    and ``C_c`` from the scheme applied to ``(t − t_n)³/6``. For constant steps
    these give ``−1/3`` and ``−2/11``.
    """
    if scheme == "euler":
        c_c = -0.5 * k * k
        c_p = 0.5 * k * (k + past_dt[0]) if past_dt else 0.5 * k * k
        return c_c / (c_p - c_c)
    k1, k2 = past_dt[0], past_dt[1]
    w = k / k1
    c_p = k * (k + k1) * (k + k1 + k2) / 6
    c_c = k**3 / 6 - w * w * k1**3 / (6 * (1 + 2 * w)) - k * (1 + w) / (1 + 2 * w) * k * k / 2
    return c_c / (c_p - c_c)


def _rescaled_steps(schedule: Schedule, t: float, past_dt: Sequence[float]) -> tuple[float, ...]:
    """The past steps (physical sizes ``past_dt``, newest first, ending at ``t``) in Ξ."""
    out, end = [], t
    for dt in past_dt:
        out.append(schedule.integral(end - dt, end))
        end -= dt
    return tuple(out)


def _predict(rho: Array, past: tuple[Array, ...], k: float, past_dt: tuple[float, ...], order: int) -> Array:
    """The polynomial through ``(t_n, ρ)`` and ``order`` past states, at ``t_n + k``."""
    if order == 1:
        return rho + (k / past_dt[0]) * (rho - past[0])
    k1, k2 = past_dt[0], past_dt[1]
    # Newton's divided differences on t_n, t_{n-1} = t_n − k1, t_{n-2} = t_n − k1 − k2
    d1 = (rho - past[0]) / k1
    d1_old = (past[0] - past[1]) / k2
    d2 = (d1 - d1_old) / (k1 + k2)
    return rho + k * d1 + k * (k + k1) * d2


# Inexact Newton (Eisenstat & Walker 1996, their second choice): the linear
# tolerance of iteration k is η_k = γ (‖G_k‖ / ‖G_{k−1}‖)², kept within [the
# solver's rtol, _FORCING_MAX] (with η ≤ 0.1 their safeguard η_k ≥ γ η²_{k−1},
# meant for η_{k−1} > 1/3, never acts). Loose while Newton is far off, as tight as
# before where it converges quadratically; _FORCING_MAX was chosen on the disk
# flow of benchmarks/breakdown.py (figures in benchmarks/results/breakdown_disk.txt).
_FORCING_MAX = 0.01
_FORCING_GAMMA = 0.9


def _forcing(norm: float, previous: float | None, floor: float) -> float:
    """The linear tolerance for the next Newton solve (see the notes above)."""
    if previous is None or previous == 0.0:
        return _FORCING_MAX
    return min(max(_FORCING_GAMMA * (norm / previous) ** 2, floor), _FORCING_MAX)


class _Rejected(Exception):
    pass


def _newton(
    system: GradientFlowSystem,
    rho_old: Array,
    t_old: float,
    t_new: float,
    solver: LinearSolver,
    tol: float,
    max_iter: int,
    guess: Array | None = None,
    rescaled: float | None = None,
) -> tuple[Array, int, sp.csr_matrix | MatrixFreeJacobian | None]:
    """Solve the implicit-Euler system from ``rho_old`` (``rescaled``: its step in
    Ξ, when not ``∫ξ`` over ``[t_old, t_new]``): the density, the iterations, and
    the last Jacobian solved with (the error propagation reuses it)."""
    m = system.space.m
    rho = rho_old.copy() if guess is None else guess.copy()
    scale = max(1.0, float(np.abs(rho_old).max()))
    solver.refresh()
    updates: list[float] = []
    previous: float | None = None
    solved: sp.csr_matrix | MatrixFreeJacobian | None = None
    for k in range(1, max_iter + 1):
        residual, jacobian = system.linearise(rho, rho_old, t_old, t_new, rescaled=rescaled)
        if not np.all(np.isfinite(residual)):
            raise _Rejected("non-finite residual")
        norm = float(np.linalg.norm(residual))
        if not np.isfinite(norm):  # finite entries whose squares overflow
            raise _Rejected("residual too large to measure (overflow)")
        eta, previous = _forcing(norm, previous, solver.rtol), norm
        if k > 1 and float(np.abs(residual / m).max()) <= tol * scale and _settled(rho, updates[-1], scale):
            # converged here without another solve: for the local flux Jacobian (an
            # M-matrix with column sums m) the next update is at most max |G_i| / m_i
            return _nonnegative(rho, tol * scale), k - 1, solved
        try:
            delta = solver.solve(jacobian, -residual, rtol=eta)
        except (np.linalg.LinAlgError, RuntimeError) as err:
            raise _Rejected(str(err)) from err
        solved = jacobian
        # The columns of the Jacobian sum to m (fluxes are antisymmetric), so an
        # exact solve keeps Σ m δ = −Σ G; restoring it after an inexact
        # (iterative) solve keeps the mass exact at every iterate.
        delta += (-residual.sum() - m @ delta) / m.sum()
        rho += delta
        if not np.all(np.isfinite(rho)):
            raise _Rejected("non-finite iterate")
        updates.append(float(np.abs(delta).max()))
        if updates[-1] <= tol * scale and _settled(rho, updates[-1], scale):
            return _nonnegative(rho, tol * scale), k, solved
    history = ", ".join(f"{u:.1e}" for u in updates[-4:])
    raise _Rejected(f"no convergence in {max_iter} Newton iterations (last updates {history})")


_ROUND_OFF = 1e-14


def _cleared(rho: Array, m: Array) -> Array:
    """``rho`` with its round-off negatives set to 0 and the mass they carried taken back
    in proportion (the mass stays exact; the change is of round-off size)."""
    if rho.min() >= 0:
        return rho
    mass = float(m @ rho)
    positive = np.maximum(rho, 0.0)
    return positive * (mass / float(m @ positive))


def _settled(rho: Array, update: float, scale: float) -> bool:
    """Converged far enough for positivity too: a density negative beyond round-off
    (at a front, where the exact discrete solution is 0) takes more iterations, which
    converge quadratically, unless the updates are at round-off themselves."""
    return bool(rho.min() >= -_ROUND_OFF * scale or update <= _ROUND_OFF * scale)


def _nonnegative(rho: Array, slack: float) -> Array:
    if rho.min() < -slack:
        raise _Rejected(f"negative density {rho.min():.3g}")
    return rho


# PI step-size control (Gustafsson 1991; Hairer–Wanner II, IV.8): exponents
# 0.7/q on the current error and 0.4/q on the previous one, a safety factor,
# growth within [0.2, 5] per step (at most 1 right after a rejection).
_SAFETY = 0.9
_PI_CURRENT, _PI_PREVIOUS = 0.7, 0.4
_GROW_MAX, _SHRINK_MIN = 5.0, 0.2


def _controlled(dt: float, ratio: float, previous: float, q: int, after_rejection: bool) -> float:
    """The next step after an accepted one of size ``dt`` with error ratio ``ratio``."""
    ratio = max(ratio, 1e-10)
    factor = _SAFETY * ratio ** (-_PI_CURRENT / q) * max(previous, 1e-10) ** (_PI_PREVIOUS / q)
    factor = min(max(factor, _SHRINK_MIN), 1.0 if after_rejection else _GROW_MAX)
    return dt * factor


def steps(
    system: GradientFlowSystem,
    rho0: Array,
    t_end: float,
    *,
    times: Sequence[float] = (),
    options: StepOptions | None = None,
    start: StepperState | None = None,
) -> Iterator[Step]:
    """Advance ``ρ`` from ``t = 0`` to ``t_end`` (module docstring), yielding every accepted step.

    Steps land exactly on each of ``times`` (and on ``t_end``); those steps have
    ``at_output_time=True``. A step is rejected and retried smaller when its
    Newton iteration fails, when its density falls below ``−newton_tol · max(1,
    max ρ)`` (anything beyond the round-off of the solve), or, under error
    control, when its error estimate exceeds the tolerance. Raises
    :class:`ConvergenceError` below ``dt_min``.

    With ``start`` (a :class:`StepperState`), stepping continues from there —
    same time, density, step size, history and error bookkeeping, so the steps
    that follow are those the uninterrupted run takes — and the initial state is
    not yielded again; ``rho0`` is then ignored.
    """
    options = options if options is not None else StepOptions()
    t_end = number("t_end", t_end, positive=True)
    marks = np.unique(np.append([number(f"times[{k}]", t) for k, t in enumerate(times)], t_end))
    if marks[0] <= 0 or marks[-1] > t_end:
        raise ValueError(f"output times must lie in (0, t_end={t_end}], got {list(times)}")
    dt, dt_max, dt_min = options.resolved(t_end)
    rtol, tol = options.rtol, options.newton_tol
    space, schedule = system.space, system.schedule
    solver = LinearSolver(choose_solver(options.linear_solver, space.n, space.dim), dim=space.dim)
    m = space.m

    past: tuple[Array, ...] = ()
    past_dt: tuple[float, ...] = ()
    global_error: tuple[Array, ...] = ()
    previous_ratio = 1.0
    if start is None:
        rho = np.array(rho0, dtype=np.float64)
        t, index, expected = 0.0, 0, space.integrate(rho)
        energy = system.free_energy(rho)
    else:
        rho = np.array(start.rho, dtype=np.float64)
        t, index, expected, energy, dt = start.t, start.index, start.expected_mass, start.free_energy, start.dt_next
        past, past_dt = tuple(np.array(r) for r in start.past), tuple(start.past_dt)
        global_error = tuple(np.array(g) for g in start.global_error)
        previous_ratio = max(start.error_ratio, 1e-10) if start.index > 0 else 1.0  # as the live loop keeps it
    risk_now = system.risk(rho)
    rejected, reasons = 0, []
    next_mark = int(np.searchsorted(marks, t, side="right"))

    def frozen(values: Array) -> Array:
        out = values.copy()
        out.flags.writeable = False
        return out

    if start is None:
        yield Step(index=0, t=0.0, dt=0.0, rho=frozen(rho), free_energy=energy, risk=risk_now,
                   mass=space.integrate(rho), expected_mass=expected, dt_next=dt, wall_mass=space.wall_mass(rho))
    while t < t_end:
        target = float(marks[next_mark])
        t_new = min(t + dt, target)
        if target - t_new < 1e-9 * dt:  # don't leave a sliver before an output time
            t_new = target
        k = t_new - t
        # the flow is autonomous in Ξ = ∫ξ: BDF2's ratios, the predictors and the error
        # constants use the steps in Ξ (for constant ξ, the steps in t times ξ0)
        rescaled = schedule.integral(t, t_new)
        past_rescaled = _rescaled_steps(schedule, t, past_dt)
        start_from, effective, guess, used = rho, None, None, "euler"
        if (options.scheme == "bdf2" and len(past) == 2 and 0 < rescaled <= 2 * past_rescaled[0]
                and not system.has_source):
            w = rescaled / past_rescaled[0]
            tilde = ((1 + w) ** 2 * rho - w**2 * past[0]) / (1 + 2 * w)
            # else this step is implicit Euler, so ρ ≥ 0 is kept; round-off negatives of an
            # empty region do not count (they would turn BDF2 off wherever ρ = 0): cleared
            if tilde.min() >= -_ROUND_OFF * max(1.0, float(np.abs(rho).max())):
                tilde = _cleared(tilde, m)
                start_from, effective, used = tilde, rescaled * (1 + w) / (1 + 2 * w), "bdf2"
                guess = np.maximum(rho + w * (rho - past[0]), 0.5 * rho)  # extrapolated; log ρ needs ρ > 0
        try:
            rho_new, iterations, jacobian = _newton(system, start_from, t, t_new, solver, tol,
                                                    options.max_newton, guess, effective)
            if used == "bdf2":  # BDF2's extrapolation amplifies round-off negatives: cleared too
                rho_new = _cleared(rho_new, m)
            new_energy = system.free_energy(rho_new)
            if used == "bdf2" and new_energy > energy + _ROUND_OFF * max(1.0, abs(energy)):
                # BDF2's energy decay is not proved: where it fails, the step is implicit Euler's
                start_from, used = rho, "euler"
                rho_new, more, jacobian = _newton(system, rho, t, t_new, solver, tol, options.max_newton, rho_new)
                iterations += more
                new_energy = system.free_energy(rho_new)
        except _Rejected as why:
            rejected += 1
            reasons.append(f"dt={k:.3g}: {why}")
            dt = 0.5 * k
            if dt < dt_min:
                raise ConvergenceError(
                    f"time step fell below dt_min={dt_min:.3g} at t={t:.6g} after {rejected} rejected tries "
                    f"(last: {'; '.join(reasons[-3:])}); try a finer mesh, a smaller dt0 or a larger max_newton"
                ) from None
            continue
        # the local error estimate (Milne's device)
        if used == "bdf2":
            predicted, order = _predict(rho, past, rescaled, past_rescaled, 2), 3
        elif past:
            predicted, order = _predict(rho, past, rescaled, past_rescaled, 1), 2
        else:  # explicit Euler from the residual at ρ_n: ρ_n − G(ρ_n; ρ_n)/m
            predicted, order = rho - system.linearise(rho, rho, t, t_new)[0] / m, 2
        error = milne_factor(rescaled, past_rescaled if used == "bdf2" or past else (), used) * (rho_new - predicted)
        error_l1 = float(m @ np.abs(error))
        risk_new = system.risk(rho_new)
        risk_local = abs(risk_new - system.risk(rho_new - error))
        risk_scale = abs(risk_new) + options.atol
        tolerance = rtol if rtol is not None else 1.0
        density_scale = tolerance * (float(m @ np.abs(rho_new)) + options.atol * space.volume)
        ratio = max(error_l1 / density_scale if density_scale > 0 else 0.0,
                    risk_local / (tolerance * risk_scale) if risk_scale > 0 else 0.0)
        if rtol is not None and ratio > 1.0:
            rejected += 1
            reasons.append(f"dt={k:.3g}: local error {ratio:.2g} x tolerance")
            dt = k * max(_SHRINK_MIN, _SAFETY * ratio ** (-1.0 / order))
            if dt < dt_min:
                raise ConvergenceError(
                    f"time step fell below dt_min={dt_min:.3g} at t={t:.6g}: the local error stays above "
                    f"rtol={rtol:g}; loosen rtol or lower dt_min"
                ) from None
            continue
        src = system.source(t_new)
        if src is not None:
            expected += k * space.integrate(src)
        # the global error, carried by the linearised step (Jacobian J = M + ∂F: δρ_{n+1} = J⁻¹ M δρ̃),
        # plus this step's local error
        if not global_error:
            carried = np.zeros_like(rho)
        elif used == "bdf2":
            carried = ((1 + w) ** 2 * global_error[0] - w**2 * global_error[1]) / (1 + 2 * w)
        else:
            carried = global_error[0]
        if np.any(carried) and jacobian is not None:
            carried = solver.solve_again(jacobian, m * carried)
        propagated = carried + error
        propagated -= (m @ propagated) / space.volume  # the errors carry no mass
        global_error = (propagated, *global_error)[:2]
        past, past_dt = (rho, *past)[:2], (k, *past_dt)[:2]
        t, rho = t_new, rho_new
        index += 1
        mark = t == target
        if mark:
            next_mark += 1
        proposal = dt
        if rtol is not None:
            dt = _controlled(k, ratio, previous_ratio, order, rejected > 0)
            if k < proposal and dt < proposal:  # a step cut short to land on a mark says little about the next
                dt = min(proposal, max(dt, k))
        elif iterations <= 4:
            dt = 1.5 * dt
        previous_ratio = max(ratio, 1e-10)
        if iterations > 10:
            dt = min(dt, 0.7 * k)
        dt = max(min(dt, dt_max), dt_min)
        previous_energy, energy = energy, new_energy
        yield Step(index=index, t=t, dt=k, rho=frozen(rho), free_energy=energy, risk=risk_new,
                   mass=space.integrate(rho), expected_mass=expected, newton_iterations=iterations,
                   rejected=rejected, at_output_time=mark, energy_increase=energy - previous_energy, dt_next=dt,
                   wall_mass=space.wall_mass(rho), past=tuple(frozen(r) for r in past), past_dt=past_dt,
                   scheme=used, local_error=error_l1, time_error=float(m @ np.abs(propagated)),
                   risk_time_error=abs(system.risk(rho + propagated) - risk_new), error_ratio=ratio,
                   global_error=tuple(frozen(g) for g in global_error))
        rejected, reasons = 0, []
