"""fempde: finite elements for the mean-field PDEs of two-layer neural networks.

Problems (:class:`PorousMedium`, :class:`FiniteDeltaPorousMedium`,
:class:`DistributionalDynamics`, :class:`RadialDD`; activations
:class:`Hinges` and units :func:`ridge_unit`, :func:`relu_unit`), the
bumps ``K^δ`` (:class:`Kernel`), the time axis shared with the SGD
(:class:`TimeAxis`), schedules (:class:`Constant`,
:class:`PowerLaw`), the P1 :class:`Space`, the run loop :func:`solve` and its
observers (:class:`ProgressBar`, :class:`SteadyState`, :class:`CSVWriter`,
:class:`VTKWriter`, :class:`PlotWriter`), and exact steady states.
"""

from .checkpoint import Checkpoint, Checkpointer, load_checkpoint
from .distributional import DataLaw, DistributionalDynamics, DistributionalSystem, gibbs_fixed_point
from .finite_delta import FiniteDeltaPorousMedium, FiniteDeltaSystem
from .kernels import KERNELS, Kernel, kernel
from .meanfield import TimeAxis, noise_scale
from .observers import CSVWriter, Observer, ProgressBar, RunInfo, SteadyState
from .plots import PlotWriter
from .porous_medium import PorousMedium, PorousMediumSystem
from .quantiles import QuantileFlow, quantile_flow, quantiles_of
from .radial import IsotropicGaussians, RadialDD, RadialSystem
from .schedule import Constant, PowerLaw, Schedule
from .solve import Certificates, OutputError, Result, initial_density, solve
from .space import Space
from .steady import steady_state
from .stepping import ConvergenceError, Step, steps
from .units import ACTIVATIONS, Hinges, activation, relu_unit, ridge_unit
from .vtk import VTKWriter

__all__ = [
    "ACTIVATIONS",
    "IsotropicGaussians",
    "KERNELS",
    "CSVWriter",
    "Certificates",
    "Checkpoint",
    "Checkpointer",
    "Constant",
    "ConvergenceError",
    "DataLaw",
    "DistributionalDynamics",
    "DistributionalSystem",
    "FiniteDeltaPorousMedium",
    "FiniteDeltaSystem",
    "Hinges",
    "Kernel",
    "Observer",
    "OutputError",
    "PlotWriter",
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
    "SteadyState",
    "Step",
    "TimeAxis",
    "VTKWriter",
    "activation",
    "gibbs_fixed_point",
    "initial_density",
    "kernel",
    "load_checkpoint",
    "noise_scale",
    "quantile_flow",
    "quantiles_of",
    "relu_unit",
    "ridge_unit",
    "solve",
    "steady_state",
    "steps",
]
__version__ = "0.1.0"
