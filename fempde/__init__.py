"""fempde: finite elements for the mean-field PDEs of two-layer neural networks.

Problems (:class:`PorousMedium`), schedules (:class:`Constant`,
:class:`PowerLaw`), the P1 :class:`Space`, the run loop :func:`solve` and its
observers (:class:`ProgressBar`, :class:`SteadyState`, :class:`CSVWriter`,
:class:`VTKWriter`, :class:`PlotWriter`), and exact steady states.
"""

from .observers import CSVWriter, Observer, ProgressBar, RunInfo, SteadyState
from .plots import PlotWriter
from .porous_medium import PorousMedium, PorousMediumSystem
from .schedule import Constant, PowerLaw, Schedule
from .solve import Certificates, Result, initial_density, solve
from .space import Space
from .steady import steady_state
from .stepping import ConvergenceError, Step, steps
from .vtk import VTKWriter

__all__ = [
    "CSVWriter",
    "Certificates",
    "Constant",
    "ConvergenceError",
    "Observer",
    "PlotWriter",
    "PorousMedium",
    "PorousMediumSystem",
    "PowerLaw",
    "ProgressBar",
    "Result",
    "RunInfo",
    "Schedule",
    "Space",
    "SteadyState",
    "Step",
    "VTKWriter",
    "initial_density",
    "solve",
    "steady_state",
    "steps",
]
__version__ = "0.1.0"
