"""The networks of the source papers, as :class:`~fempde.model.MeanFieldModel` instances.

* :func:`jmm_rbf` — Javanmard–Mondelli–Montanari (2020): RBF bumps on a convex domain;
* :func:`mmn_isotropic` — Mei–Montanari–Nguyen (2018), Figs. 1, 2, 4: ``σ(⟨w, x⟩)`` on isotropic classes;
* :func:`mmn_anisotropic` — their Fig. 3: ``a ReLU(⟨w, x⟩ + b)`` on anisotropic classes;
* :func:`chizat_bach` — Chizat–Bach (2018): 2-homogeneous students of a ReLU teacher;
* :func:`lazy_network` — Chizat–Bach's lazy regime / Du et al.: ``a σ(⟨w, x⟩)`` on a training set,
  lazy (1/√N) or mean-field (1/N).

Each keeps the closed forms its paper has: the limit solvers and the population
risks recognise them (the radial and four-variable reductions, the arc-cosine
kernel of the teacher, the porous-medium PDE with its sparse convolution).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from skfem import Mesh

from ..checks import number
from ..fem.kernels import BoxWalls, check_boundary
from ..meanfield import Constant, PowerLaw, Schedule, temperature
from ..problems.homogeneous import SphereLaw, Teacher
from .data import FiniteData, TeacherData, UniformData, gaussian_classes
from .declaration import MeanFieldModel
from .initial import Gaussian, MeshDensity
from .units import TRAINED, Bump, Homogeneous, Ridge

__all__ = ["chizat_bach", "jmm_rbf", "lazy_network", "mmn_anisotropic", "mmn_isotropic"]


def jmm_rbf(mesh: Mesh, target: Any, delta: float, *, tau: float = 0.0, kernel: str = "triweight",
            rho0: Any = "uniform", schedule: Schedule | None = None, label_noise: float = 0.0,
            boundary: str = "restricted") -> MeanFieldModel:
    """Bumps ``K^δ(x − w)`` on ``x ~ Unif(Ω)``, ``y = f(x)`` (+ label noise), centres in Ω
    (reflected at its walls), started from the density ``rho0``, diffusion ``τ``: the
    limit is ``∂_t ρ = 2ξ[∇·(ρ∇Ψ^δ) + τΔρ]``, and as δ → 0 the porous-medium equation.
    ``boundary``: the bumps ``"restricted"`` to Ω (the paper's network) or ``"reflected"``
    at its walls (a box only; the one whose δ → 0 limit holds at τ = 0: README, "Walls at finite δ")."""
    tau = number("tau", tau, minimum=0)
    beta = math.inf if tau == 0 else 1.0 / tau
    temperature(beta)
    walls = BoxWalls.from_mesh(mesh) if check_boundary(boundary) == "reflected" else None
    unit = Bump(kernel, int(mesh.p.shape[0]), delta, boundary, walls)
    return MeanFieldModel(unit, UniformData(mesh, target, label_noise),
                          MeshDensity(mesh, rho0), beta=beta, schedule=schedule or Constant(), domain=mesh,
                          name="rbf")


def mmn_isotropic(delta: float, d: int, *, activation: Any = "piecewise-linear", kappa: float = 0.8,
                  lam: float = 0.0, beta: float = math.inf, schedule: Schedule | None = None) -> MeanFieldModel:
    """``σ(⟨w, x⟩)`` on the classes ``x | y ~ N(0, (1 + yΔ)² I_d)``, ``w_i(0) ~ N(0, κ²/d I_d)``:
    the law of ``‖w‖`` follows the radial PDE (:class:`fempde.RadialDD`)."""
    return MeanFieldModel(Ridge(activation, d), gaussian_classes(delta, d),
                          Gaussian(np.zeros(d), kappa / math.sqrt(d)), lam=lam, beta=beta,
                          schedule=schedule or Constant(), symmetry="radial", name="mmn-isotropic")


def mmn_anisotropic(delta: float, d: int, s0: int, *, kappa: float = 0.8, output: float = 1.0,
                    offset: float = 1.0, schedule: Schedule | None = None) -> MeanFieldModel:
    """Fig. 3: ``a ReLU(⟨w, x⟩ + b)`` with ``a, b`` trained, classes differing on the first ``s0``
    coordinates, ``w(0) ~ N(0, κ²/d I)``, ``a(0) = output``, ``b(0) = offset``, ``ξ(t) = t^{−1/4}``
    by default: the law of ``(a, b, ‖P_V w‖, ‖P_V⊥ w‖)`` follows the reduced flow
    (:class:`fempde.AnisotropicGaussians`)."""
    sd = np.concatenate([np.full(d, kappa / math.sqrt(d)), [0.0, 0.0]])
    mean = np.concatenate([np.zeros(d), [output, offset]])
    return MeanFieldModel(Ridge("relu", d, output=TRAINED, bias=TRAINED), gaussian_classes(delta, d, s0),
                          Gaussian(mean, sd), schedule=schedule or PowerLaw(xi0=1.0, alpha=0.25),
                          symmetry="anisotropic", name="mmn-anisotropic")


def chizat_bach(teacher: Teacher | None = None, start: SphereLaw | None = None, *,
                domain: Mesh | None = None) -> MeanFieldModel:
    """Students ``a ReLU(⟨b, x⟩)`` of a ReLU teacher (default :meth:`fempde.Teacher.default`),
    ``x ~ N(0, I_2)``, started from a Gaussian shell (default ``SphereLaw(0.5, 0.2)``),
    noiseless: the limit is a Wasserstein gradient flow in R³ that concentrates on rays
    (the point flow resolves it; a θ-mesh ``domain`` allows the finite elements too)."""
    return MeanFieldModel(Homogeneous(2), TeacherData(teacher or Teacher.default()),
                          start or SphereLaw(0.5, 0.2), domain=domain, name="chizat-bach")


def lazy_network(training: FiniteData, *, activation: Any = "tanh", w_scale: float = 4.0,
                 regime: str = "lazy") -> MeanFieldModel:
    """``a σ(⟨w, x⟩)`` with ``a`` and ``w`` trained on a fixed training set, ``a(0) ~ N(0, 1)``,
    ``w(0) ~ N(0, w_scale² I)``; ``regime = "lazy"`` (``ŷ = (1/√N) Σ``: the kernel flow) or
    ``"mean-field"`` (``ŷ = (1/N) Σ``)."""
    d = training.input_dim
    return MeanFieldModel(Ridge(activation, d, output=TRAINED), training,
                          Gaussian(np.zeros(d + 1), np.concatenate([np.full(d, w_scale), [1.0]])),
                          scaling=regime, name=f"{regime}-network")
