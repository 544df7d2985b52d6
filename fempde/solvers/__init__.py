"""Time stepping, the run loop and its record, and the linear algebra under them.

The stepper, one concept per module:

* :mod:`.stepping` — :class:`Stepper` and :func:`steps`, the generator of immutable steps;
* :mod:`.options` — :class:`StepOptions`, how it steps;
* :mod:`.step` — the records it yields (:class:`Step`) and goes on from (:class:`StepperState`);
* :mod:`.schemes` — implicit Euler and BDF2 (:data:`SCHEMES`), attempting a step;
* :mod:`.newton` — Newton with inexact linear solves;
* :mod:`.milne` — the local error estimate (Milne's device);
* :mod:`.propagation` — the global time error, carried by the linearised scheme;
* :mod:`.control` — the next step size (PI controller);
* :mod:`.landing` — steps that land on output times;
* :mod:`.system` — what the solvers need from a problem (protocols: the solvers
  import nothing from :mod:`fempde.problems`).

The run:

* :mod:`.run` — :func:`solve`: the start (space, system, ρ0, a resume's state),
  the loop, the spatial estimate;
* :mod:`.initial` — ρ0 as nodal values (:func:`initial_density`), the system it starts on;
* :mod:`.loop` — the run loop: stepper, record, observers;
* :mod:`.record` — the run's one record: history, certificates (:class:`Tolerances`);
* :mod:`.result` — :class:`Result`, :class:`Certificates`, :class:`SpaceError`;
* :mod:`.resume` — checkpoints and what a resumed run keeps;
* :mod:`.observers` — the :class:`Observer` base, progress bar, steady-state stop;
* :mod:`.accuracy` — the spatial error estimate from a second mesh about twice as fine.

Beside them: :mod:`.characteristics` — the noiseless radial flow solved exactly by
its characteristics (:func:`quantile_flow`); :mod:`.point_flow` — the noiseless
reduced DD in several variables by weighted characteristics (:func:`point_flow`);
:mod:`.linalg`, :mod:`.pattern_lu`, :mod:`.multigrid` — the direct LU on the
Jacobians' fixed pattern (SuperLU where it needs pivoting) or compiled AMG inside
flexible GMRES.
"""

from .accuracy import space_error
from .characteristics import QuantileFlow, quantile_flow, quantiles_of
from .linalg import LINEAR_SOLVERS, LinearSolver, MatrixFreeJacobian, choose_solver
from .loop import OutputError
from .observers import Observer, ProgressBar, RunInfo, SteadyState
from .options import DEFAULT_RTOL, StepOptions
from .point_flow import PointField, PointFlow, check_points, point_flow, tensor_rule
from .record import HISTORY_COLUMNS, RunRecord, Tolerances
from .result import Certificates, Result, SpaceError
from .resume import Checkpoint, ResumePoint, load_checkpoint, save_checkpoint
from .run import initial_density, solve, start_state
from .schemes import SCHEMES
from .step import Step, StepperState
from .stepping import ConvergenceError, Stepper, steps
from .system import GradientFlowSystem, Problem

__all__ = [
    "DEFAULT_RTOL", "HISTORY_COLUMNS", "LINEAR_SOLVERS", "SCHEMES", "Certificates", "Checkpoint", "ConvergenceError",
    "GradientFlowSystem", "LinearSolver", "MatrixFreeJacobian", "Observer", "OutputError", "PointField", "PointFlow",
    "Problem", "ProgressBar", "QuantileFlow", "Result", "ResumePoint", "RunInfo", "RunRecord", "SpaceError",
    "SteadyState", "Step", "StepOptions", "Stepper", "StepperState", "Tolerances", "check_points", "choose_solver",
    "initial_density", "load_checkpoint", "point_flow", "quantile_flow", "quantiles_of", "save_checkpoint",
    "solve", "space_error", "start_state", "steps", "tensor_rule",
]
