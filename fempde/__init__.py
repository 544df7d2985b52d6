"""fempde: finite elements for the mean-field PDEs of two-layer neural networks.

``import fempde`` gives what a user calls; everything else stays in its
subpackage, one concept each (their docstrings list what is inside):
:mod:`fempde.meanfield` (what the PDE and the SGD share), :mod:`fempde.fem`
(space, fluxes, kernels), :mod:`fempde.problems` (the PDEs and their
discretised systems), :mod:`fempde.solvers` (the stepper, the run loop and its
record, linear algebra), :mod:`fempde.io` (observers that write files),
:mod:`fempde.scenario` (scenario files), :mod:`fempde.cli` (the command line),
:mod:`fempde.checks` (the parameter checks).

Here: the problems (:class:`PorousMedium`, :class:`FiniteDeltaPorousMedium`,
:class:`DistributionalDynamics` with its :class:`DataLaw`, :class:`RadialDD`
on :class:`IsotropicGaussians`, Fig. 3's :class:`AnisotropicGaussians` with
its :class:`InitialLaw`, Chizat–Bach's :class:`Teacher`, :class:`SphereLaw`
and :func:`homogeneous_unit`; activations :class:`Hinges`, :func:`activation`
and units :func:`ridge_unit`, :func:`relu_unit`), the bumps ``K^δ``
(:class:`Kernel`), the time axis shared with the SGD (:class:`TimeAxis`,
:func:`temperature`), schedules (:class:`Constant`, :class:`PowerLaw`), the P1
:class:`Space`, the run (:func:`solve`, :func:`steps`, :class:`StepOptions`,
:class:`Tolerances`, :class:`Result`), its observers (:class:`ProgressBar`,
:class:`SteadyState`, :class:`CSVWriter`, :class:`VTKWriter`,
:class:`PlotWriter`, :class:`Checkpointer`), the characteristics solvers
(:func:`quantile_flow`, :func:`point_flow`) and the exact steady states
(:func:`steady_state`, :func:`gibbs_fixed_point`).

Names that were exported here before and are internals now (every
``*System``, ``Checkpoint``, ``tensor_rule``, ``quantiles_of``, ...) still
import from here, with a ``DeprecationWarning`` that names their module.
"""

import importlib
import warnings
from typing import Any

from .fem import KERNELS, MOBILITIES, Kernel, Space
from .io import Checkpointer, CSVWriter, PlotWriter, VTKWriter, load_checkpoint
from .meanfield import Constant, PowerLaw, Schedule, TimeAxis, temperature
from .problems import (
    ACTIVATIONS,
    AnisotropicGaussians,
    DataLaw,
    DistributionalDynamics,
    FiniteDeltaPorousMedium,
    Hinges,
    InitialLaw,
    IsotropicGaussians,
    PorousMedium,
    RadialDD,
    SphereLaw,
    Teacher,
    activation,
    gibbs_fixed_point,
    homogeneous_unit,
    initial_marginals,
    relu_unit,
    ridge_unit,
    steady_state,
)
from .solvers import (
    DEFAULT_RTOL,
    ConvergenceError,
    Observer,
    OutputError,
    ProgressBar,
    Result,
    RunInfo,
    SteadyState,
    Step,
    StepOptions,
    Tolerances,
    initial_density,
    point_flow,
    quantile_flow,
    solve,
    steps,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RTOL",
    "KERNELS",
    "MOBILITIES",
    "AnisotropicGaussians",
    "CSVWriter",
    "Checkpointer",
    "Constant",
    "ConvergenceError",
    "DataLaw",
    "DistributionalDynamics",
    "FiniteDeltaPorousMedium",
    "Hinges",
    "InitialLaw",
    "IsotropicGaussians",
    "Kernel",
    "Observer",
    "OutputError",
    "PlotWriter",
    "PorousMedium",
    "PowerLaw",
    "ProgressBar",
    "RadialDD",
    "Result",
    "RunInfo",
    "Schedule",
    "Space",
    "SphereLaw",
    "SteadyState",
    "Step",
    "StepOptions",
    "Teacher",
    "TimeAxis",
    "Tolerances",
    "VTKWriter",
    "activation",
    "gibbs_fixed_point",
    "homogeneous_unit",
    "initial_density",
    "initial_marginals",
    "load_checkpoint",
    "point_flow",
    "quantile_flow",
    "relu_unit",
    "ridge_unit",
    "solve",
    "steady_state",
    "steps",
    "temperature",
]
__version__ = "0.1.0"

MOVED = {
    "Certificates": "fempde.solvers.result",
    "Checkpoint": "fempde.solvers.resume",
    "DistributionalSystem": "fempde.problems.distributional",
    "EdgeFluxSystem": "fempde.problems.base",
    "FiniteDeltaSystem": "fempde.problems.finite_delta",
    "GaussianClasses": "fempde.meanfield",
    "PointFlow": "fempde.solvers.point_flow",
    "PorousMediumSystem": "fempde.problems.porous_medium",
    "QuantileFlow": "fempde.solvers.characteristics",
    "RadialSystem": "fempde.problems.radial",
    "SpaceError": "fempde.solvers.result",
    "kernel": "fempde.fem.kernels",
    "noise_scale": "fempde.meanfield",
    "quantiles_of": "fempde.solvers.characteristics",
    "tensor_rule": "fempde.solvers.point_flow",
}
"""Names once exported here, and the module each lives in now."""


def __getattr__(name: str) -> Any:
    if name in MOVED:
        warnings.warn(f"fempde.{name} is an internal now: import it from {MOVED[name]}", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module 'fempde' has no attribute {name!r}")
