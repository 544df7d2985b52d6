"""Time stepping, the run loop and its record, and the linear algebra under them.

* :mod:`.stepping` — implicit Euler / BDF2 + Newton with error-controlled steps
  (:func:`steps`, :class:`StepOptions`, the immutable :class:`Step`);
* :mod:`.record` — the run's one record: history, certificates
  (:class:`Tolerances`), :class:`Result`, what a resume keeps;
* :mod:`.resume` — checkpoints and what a resumed run keeps;
* :mod:`.observers` — the :class:`Observer` base, progress bar, steady-state stop;
* :mod:`.run` — :func:`solve`, the loop that ties them together;
* :mod:`.accuracy` — the spatial error estimate from a refined mesh;
* :mod:`.characteristics` — the noiseless radial flow solved exactly by its
  characteristics (:func:`quantile_flow`);
* :mod:`.point_flow` — the noiseless reduced DD in several variables by weighted
  characteristics (:func:`point_flow`);
* :mod:`.linalg`, :mod:`.pattern_lu`, :mod:`.multigrid` — the direct LU on the Jacobians'
  fixed pattern (SuperLU where it needs pivoting) or compiled AMG inside flexible GMRES.
"""

from .accuracy import SpaceError
from .characteristics import QuantileFlow, quantile_flow, quantiles_of
from .linalg import LinearSolver, MatrixFreeJacobian, choose_solver
from .observers import Observer, ProgressBar, RunInfo, SteadyState
from .point_flow import PointField, PointFlow, check_points, point_flow, tensor_rule
from .record import HISTORY_COLUMNS, Certificates, Result, RunRecord, Tolerances
from .resume import Checkpoint, ResumePoint, load_checkpoint, save_checkpoint
from .run import OutputError, Problem, initial_density, solve
from .stepping import DEFAULT_RTOL, SCHEMES, ConvergenceError, Step, StepOptions, StepperState, steps

__all__ = [
    "Certificates", "Checkpoint", "ConvergenceError", "DEFAULT_RTOL", "HISTORY_COLUMNS", "LinearSolver",
    "MatrixFreeJacobian", "Observer", "OutputError", "PointField", "PointFlow", "Problem", "ProgressBar",
    "QuantileFlow", "Result", "ResumePoint", "RunInfo", "RunRecord", "SCHEMES", "SpaceError", "SteadyState", "Step",
    "StepOptions", "StepperState", "Tolerances", "check_points", "choose_solver", "initial_density", "load_checkpoint",
    "point_flow", "quantile_flow", "quantiles_of", "save_checkpoint", "solve", "steps", "tensor_rule"
]
