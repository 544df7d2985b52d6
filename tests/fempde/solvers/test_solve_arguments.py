"""Bad arguments to solve and steps: refused with the exception of their kind, naming the parameter.

The assertions are on what matters — the type of the exception, the name and
the value of the parameter refused (:class:`fempde.checks.ParameterError`), a
few words that must stay in the message — not on the wording.
"""

import math
import re

import numpy as np
import pytest

import fempde
import meshes
from fempde.checks import ParameterError

PROBLEM = fempde.PorousMedium(target=lambda x: 1.0 - x[0] ** 2, tau=0.01)


@pytest.fixture(scope="module")
def space():
    return fempde.Space(meshes.interval(-1, 1, h=0.1))


@pytest.mark.parametrize(
    ("rho0", "words"),
    [
        (lambda x: x[0], ("rho0", "negative", "10 nodes")),
        (lambda x: 2.0 + 0 * x[0], ("rho0", "mass 4")),
        (lambda x: np.where(x[0] > 0.5, np.nan, 0.5), ("rho0", "not finite", "5 of 21 nodes")),
        ("gaussian", ("rho0", "'gaussian'")),
        (0.0, ("rho0", "zero mass")),
    ],
)
def test_bad_initial_density(space, rho0, words):
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, rho0, 1.0)
    assert all(word in str(refused.value) for word in words)


def test_nearly_normalised_density_is_rescaled_exactly(space):
    values = fempde.initial_density(space, lambda x: 0.5 * (1 + 0.01 * x[0] ** 2))
    assert space.integrate(values) == pytest.approx(1.0, abs=1e-15)


def test_nan_in_the_target_is_found_at_the_nodes(space):
    problem = fempde.PorousMedium(target=lambda x: np.where(x[0] < 0, np.nan, 1.0))
    with pytest.raises(ValueError) as refused:
        fempde.solve(problem, space, "uniform", 1.0)
    assert "target" in str(refused.value) and "10 of 21 nodes" in str(refused.value)


@pytest.mark.parametrize(
    ("kwargs", "name", "value"),
    [
        ({"t_end": 0.0}, "t_end", 0.0),
        ({"t_end": -1.0}, "t_end", -1.0),
        ({"t_end": "0.1"}, "t_end", "0.1"),
        ({"t_end": True}, "t_end", True),
        ({"t_end": 1.0, "times": ["0.05"]}, "times[0]", "0.05"),
        ({"t_end": 1.0, "times": [0.5, float("nan")]}, "times[1]", math.nan),
    ],
)
def test_bad_times_are_named(space, kwargs, name, value):
    with pytest.raises(ParameterError) as refused:
        fempde.solve(PROBLEM, space, "uniform", **kwargs)
    assert refused.value.name == name
    assert refused.value.value == value or (math.isnan(value) and math.isnan(refused.value.value))


def test_output_times_beyond_t_end_are_refused(space):
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 1.0, times=[0.5, 2.0])
    assert "t_end=1.0" in str(refused.value) and "2.0" in str(refused.value)


@pytest.mark.parametrize(
    ("options", "name", "value"),
    [
        ({"rtol": 0.0}, "rtol", 0.0),
        ({"rtol": 1.5}, "rtol", 1.5),
        ({"rtol": True}, "rtol", True),
        ({"atol": -1.0}, "atol", -1.0),
        ({"dt0": math.inf}, "dt0", math.inf),
        ({"newton_tol": "small"}, "newton_tol", "small"),
        ({"max_newton": 2.5}, "max_newton", 2.5),
        ({"scheme": "rk4"}, "scheme", "rk4"),
        ({"linear_solver": "cholesky"}, "linear_solver", "cholesky"),
    ],
)
def test_step_options_name_the_bad_field(options, name, value):
    with pytest.raises(ParameterError) as refused:
        fempde.StepOptions(**options)
    assert (refused.value.name, refused.value.value) == (name, value)


def test_step_options_accept_numpy_numbers():
    options = fempde.StepOptions(rtol=np.float32(1e-5), max_newton=np.int64(10))
    assert options.resolved(1.0) == (1e-4, 0.1, 1e-12)


def test_unordered_step_bounds_are_refused(space):
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 1.0, options=fempde.StepOptions(dt0=2.0))
    assert "dt_min <= dt0 <= dt_max" in str(refused.value)


@pytest.mark.parametrize("keyword", ["rtol", "dt_max", "scheme"])
def test_step_options_as_keywords_are_a_type_error_that_says_how(space, keyword):
    with pytest.raises(TypeError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 1.0, **{keyword: 1e-3})
    assert f"options=fempde.StepOptions({keyword}=0.001)" in str(refused.value)


def test_an_unknown_keyword_is_a_type_error(space):
    with pytest.raises(TypeError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 1.0, tolerance=1e-3)
    assert "'tolerance'" in str(refused.value)


@pytest.mark.parametrize(("tolerances", "name", "value"), [
    ({"mass": 0.0}, "Tolerances.mass", 0.0),
    ({"energy": math.inf}, "Tolerances.energy", math.inf),
    ({"mass": True}, "Tolerances.mass", True),
])
def test_bad_certificate_tolerances_are_named(tolerances, name, value):
    with pytest.raises(ParameterError) as refused:
        fempde.Tolerances(**tolerances)
    assert (refused.value.name, refused.value.value) == (name, value)


def test_certificate_tolerances_accept_numpy_floats():
    assert fempde.Tolerances(mass=np.float32(1e-10)).mass == np.float32(1e-10)


@pytest.mark.parametrize("tol", [0.0, -1.0, math.inf, True, "1e-9"])
def test_bad_steady_state_tolerance_is_refused(tol):
    with pytest.raises(ParameterError) as refused:
        fempde.SteadyState(tol)
    assert refused.value.value == tol


def test_an_upwind_flux_with_viscosity_is_refused_not_ignored(space):
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 0.01, flux="upwind")
    assert "'upwind'" in str(refused.value) and "tau = 0.01" in str(refused.value)
    viscous = fempde.solve(PROBLEM, space, "uniform", 0.01, flux="limited")  # the default is always allowed
    inviscid = fempde.solve(fempde.PorousMedium(target=1.0), space, "uniform", 0.01, flux="upwind")
    assert viscous.system.flux == "limited" and inviscid.system.flux == "upwind"


def test_newton_failure_raises_after_output_is_finished(tmp_path):
    class Hopeless(fempde.PorousMedium):
        def discretise(self, space, **options):
            system = super().discretise(space, **options)
            system.linearise = lambda rho, *args, **options: (np.full(space.n, np.nan), None)
            return system

    table = fempde.CSVWriter(tmp_path / "h.csv")
    with pytest.raises(fempde.ConvergenceError) as failed:
        fempde.solve(Hopeless(target=1.0), meshes.interval(h=0.1), "uniform", 1.0, [table])
    assert "dt_min" in str(failed.value)
    assert (tmp_path / "h.csv").read_text().count("\n") == 2  # header and the initial state


def test_newton_failure_reports_time_step_and_updates():
    options = fempde.StepOptions(max_newton=1, dt_min=1e-4)
    with pytest.raises(fempde.ConvergenceError) as failed:
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 1.0, options=options)
    message = str(failed.value)
    assert "t=0 " in message and "rejected tries" in message and "no convergence in 1 Newton iterations" in message


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"options": {"rtol": 1e-6}}, "options"),
    ({"observers": [1]}, "observers[0]"),
    ({"times": "0.005"}, "times"),
    ({"times": {0.005: 1}}, "times"),
    ({"problem": None}, "problem"),
    ({"mesh": "mesh"}, "mesh"),
    ({"tolerances": 1e-12}, "tolerances"),
])
def test_solve_names_arguments_of_the_wrong_kind(kwargs, name):
    args = {"problem": PROBLEM, "mesh": meshes.interval(h=0.1), "rho0": "uniform", "t_end": 0.01, **kwargs}
    with pytest.raises(TypeError) as refused:
        fempde.solve(**args)
    assert str(refused.value).startswith(f"{name} must be")


# -- checkpoints: every field checked before a run continues from one ------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a short run interrupted at step 5, and the run's setting."""
    class StopAt(fempde.Observer):
        def observe(self, step):
            if step.index == 5:
                raise KeyboardInterrupt

    path = tmp_path_factory.mktemp("checkpoint") / "ck.npz"
    space = fempde.Space(meshes.interval(-1, 1, h=0.2))
    fempde.solve(PROBLEM, space, "uniform", 0.5, [fempde.Checkpointer(path, every=0), StopAt()])
    with np.load(path) as data:
        return path, space, dict(data)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"t": 5.0}, "t"),
        ({"t": np.nan}, "t"),
        ({"t": -1.0}, "t"),
        ({"dt_next": np.nan}, "dt_next"),
        ({"dt_next": np.inf}, "dt_next"),
        ({"index": -7}, "index"),
        ({"index": 3}, "index"),
        ({"past_dt": np.array([np.nan, 1e-4])}, "past_dt"),
        ({"expected_mass": np.nan}, "expected_mass"),
        ({"rho": "triple"}, "rho"),
        ({"rho": "nudge"}, "rho"),
        ({"max_energy_increase": np.nan}, "max_energy_increase"),
        ({"free_energy": np.inf}, "free_energy"),
        ({"history": "nan"}, "history"),
        ({"t": np.zeros((2, 3))}, "t"),
        ({"__format__": np.array("2")}, "format"),
        ({"failed": np.zeros((2, 3))}, "failed"),
    ],
    ids=["t-beyond", "t-nan", "t-negative", "dt-nan", "dt-inf", "index-negative", "index-history", "past-dt",
         "expected-mass", "mass-3", "mass-1e-8", "energy-increase-nan", "energy-inf", "history-nan", "t-array",
         "format-string", "failed-array"],
)
def test_resume_refuses_a_tampered_checkpoint(tmp_path, checkpoint, change, field):
    path, space, data = checkpoint
    data = dict(data)
    for key, value in change.items():
        if key == "rho":
            data["rho"] = data["rho"] * (3.0 if value == "triple" else 1 + 1e-8)
        elif key == "history":
            data["history"] = data["history"].copy()
            data["history"][1, 3] = np.nan
        else:
            data[key] = np.asarray(value)
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **data)
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 0.5, resume=tampered)
    message = str(refused.value)
    assert message.startswith(f"checkpoint {tampered}") and re.search(rf"\b{field}\b", message)


def test_untampered_checkpoint_resumes(checkpoint):
    path, space, _ = checkpoint
    result = fempde.solve(PROBLEM, space, "uniform", 0.5, resume=path)
    assert result.t == 0.5 and result.certificates.ok


def test_a_checkpoint_read_beforehand_is_a_start_state(checkpoint):
    path, space, _ = checkpoint
    from_path = fempde.solve(PROBLEM, space, "uniform", 0.5, resume=path)
    from_state = fempde.solve(PROBLEM, space, "uniform", 0.5, resume=fempde.load_checkpoint(path))
    np.testing.assert_array_equal(from_state.rho, from_path.rho)
    np.testing.assert_array_equal(from_state.history["t"], from_path.history["t"])


def test_a_start_state_of_another_mesh_is_refused(checkpoint):
    path, _, _ = checkpoint
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, meshes.interval(-1, 1, h=0.1), "uniform", 0.5, resume=fempde.load_checkpoint(path))
    assert "11 nodal values" in str(refused.value) and "21" in str(refused.value)


def test_resume_and_the_spatial_estimate_do_not_combine(checkpoint):
    path, space, _ = checkpoint
    with pytest.raises(ValueError) as refused:
        fempde.solve(PROBLEM, space, "uniform", 0.5, resume=path, estimate_space_error=True)
    assert "estimate_space_error" in str(refused.value) and "resume" in str(refused.value)


def test_ctrl_c_while_the_last_files_are_written_is_raised_after_them(tmp_path):
    import os
    import signal

    finished = []

    class CtrlCInFinish:  # Ctrl-C lands while the observers write their last files
        def start(self, info):
            pass

        def observe(self, step):
            return False

        def finish(self, result):
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(result.t)  # not reached if the Ctrl-C were raised at once

    writer = fempde.CSVWriter(tmp_path / "history.csv")
    before = signal.getsignal(signal.SIGINT)  # whatever it is (the suite's earlier tests may have set one)
    with pytest.raises(KeyboardInterrupt):
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.2, [CtrlCInFinish(), writer], times=[0.1])
    assert finished == [0.2]
    assert (tmp_path / "history.csv").read_text().splitlines()[-1].split(",")[1] == "0.2"  # written to the end
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
