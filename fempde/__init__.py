"""fempde: finite elements for the mean-field PDEs of two-layer neural networks.

Subpackages, one concept each (their docstrings list what is inside):
:mod:`fempde.meanfield` (what the PDE and the SGD share), :mod:`fempde.fem`
(space, fluxes, kernels), :mod:`fempde.problems` (the PDEs), :mod:`fempde.solvers`
(stepping, the run loop and its record, linear algebra), :mod:`fempde.io`
(observers that write files), :mod:`fempde.cli` (commands, scenarios). The
names below are re-exported from them.

Problems (:class:`PorousMedium`, :class:`FiniteDeltaPorousMedium`,
:class:`DistributionalDynamics`, :class:`RadialDD`, Fig. 3's reduced
:class:`AnisotropicGaussians`, Chizat–Bach's :class:`Teacher` and
:func:`homogeneous_unit`; activations :class:`Hinges` and units
:func:`ridge_unit`, :func:`relu_unit`), the characteristics solvers
(:func:`quantile_flow`, :func:`point_flow`), the
bumps ``K^δ`` (:class:`Kernel`), the time axis shared with the SGD
(:class:`TimeAxis`), schedules (:class:`Constant`,
:class:`PowerLaw`), the P1 :class:`Space`, the run loop :func:`solve` and its
observers (:class:`ProgressBar`, :class:`SteadyState`, :class:`CSVWriter`,
:class:`VTKWriter`, :class:`PlotWriter`), and exact steady states.
"""

from .fem import KERNELS, MOBILITIES, Kernel, Space, kernel
from .io import Checkpoint, Checkpointer, CSVWriter, PlotWriter, VTKWriter, load_checkpoint
from .meanfield import Constant, GaussianClasses, PowerLaw, Schedule, TimeAxis, noise_scale, temperature
from .problems import (
    ACTIVATIONS,
    AnisotropicGaussians,
    DataLaw,
    DistributionalDynamics,
    DistributionalSystem,
    EdgeFluxSystem,
    FiniteDeltaPorousMedium,
    FiniteDeltaSystem,
    Hinges,
    InitialLaw,
    IsotropicGaussians,
    PorousMedium,
    PorousMediumSystem,
    RadialDD,
    RadialSystem,
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
    Certificates,
    ConvergenceError,
    Observer,
    OutputError,
    PointFlow,
    ProgressBar,
    QuantileFlow,
    Result,
    RunInfo,
    SpaceError,
    SteadyState,
    Step,
    StepOptions,
    Tolerances,
    initial_density,
    point_flow,
    quantile_flow,
    quantiles_of,
    solve,
    steps,
    tensor_rule,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RTOL",
    "KERNELS",
    "MOBILITIES",
    "AnisotropicGaussians",
    "CSVWriter",
    "Certificates",
    "Checkpoint",
    "Checkpointer",
    "Constant",
    "ConvergenceError",
    "DataLaw",
    "DistributionalDynamics",
    "DistributionalSystem",
    "EdgeFluxSystem",
    "FiniteDeltaPorousMedium",
    "FiniteDeltaSystem",
    "GaussianClasses",
    "Hinges",
    "InitialLaw",
    "IsotropicGaussians",
    "Kernel",
    "Observer",
    "OutputError",
    "PlotWriter",
    "PointFlow",
    "PorousMedium",
    "PorousMediumSystem",
    "PowerLaw",
    "ProgressBar",
    "QuantileFlow",
    "RadialDD",
    "RadialSystem",
    "Result",
    "RunInfo",
    "Schedule",
    "Space",
    "SpaceError",
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
    "kernel",
    "load_checkpoint",
    "noise_scale",
    "point_flow",
    "quantile_flow",
    "quantiles_of",
    "relu_unit",
    "ridge_unit",
    "solve",
    "steady_state",
    "steps",
    "temperature",
    "tensor_rule",
]
__version__ = "0.1.0"
