"""What the PDE and the SGD must agree on, defined once for both.

* :mod:`.schedule` — step-size schedules ξ(t) (:class:`Constant`,
  :class:`PowerLaw`) and their exact integrals;
* :mod:`.axis` — the time axis ``t = kε`` with steps ``s_k = ∫ξ``
  (:class:`TimeAxis`), the drift factor :data:`DRIFT`, the noise
  :func:`noise_scale` derived from the PDE, the temperature ``τ = 1/β``
  (:func:`temperature`) and the checks of ``λ, β`` (:func:`check_lam_beta`);
* :mod:`.data` — the two-Gaussian data law of Mei–Montanari–Nguyen
  (:class:`GaussianClasses`), used by the PDE's quadrature, the radial model
  and the SGD.
"""

from .axis import DRIFT, TimeAxis, check_lam_beta, noise_scale, temperature
from .data import GaussianClasses, check_class_gap
from .schedule import Constant, PowerLaw, Schedule

__all__ = [
    "DRIFT", "Constant", "GaussianClasses", "PowerLaw", "Schedule", "TimeAxis", "check_class_gap",
    "check_lam_beta", "noise_scale", "temperature",
]
