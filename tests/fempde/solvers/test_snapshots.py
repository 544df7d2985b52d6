"""``Result.snapshots`` finds a kept time to 1e-9 of the time scale and names the nearest otherwise."""

import numpy as np
import pytest

import fempde
import meshes
from fempde.solvers.result import TIME_TOLERANCE, Snapshots


def test_a_linspace_time_is_found_by_its_decimal() -> None:
    times = np.linspace(0, 1, 11)
    assert times[3] != 0.3  # 0.30000000000000004: the case this is for
    kept = Snapshots({float(t): np.full(2, t) for t in times})
    assert kept[0.3] is kept[float(times[3])]
    assert kept[0.7][0] == times[7]
    assert kept[np.float64(1.0)][0] == 1.0


def test_the_tolerance_is_relative_to_the_time_scale() -> None:
    kept = Snapshots({0.0: np.zeros(1), 500.0: np.ones(1), 1000.0: np.full(1, 2.0)})
    assert kept[500.0 + 0.9 * TIME_TOLERANCE * 1000.0][0] == 1.0
    with pytest.raises(KeyError):
        kept[500.0 + 1.1 * TIME_TOLERANCE * 1000.0]
    small = Snapshots({0.0: np.zeros(1), 1e-3: np.ones(1)})  # the scale is at least 1
    assert small[1e-3 + 0.5e-9][0] == 1.0


def test_a_missing_time_names_the_nearest_kept_times() -> None:
    kept = Snapshots({float(t): np.zeros(1) for t in np.linspace(0, 1, 11)})
    with pytest.raises(KeyError) as caught:
        kept[0.33]
    message = str(caught.value)
    assert "t = 0.33" in message
    assert "0.2, 0.3, 0.4" in message
    assert kept.nearest(0.33, 3) == pytest.approx([0.2, 0.3, 0.4])
    with pytest.raises(KeyError, match="none"):
        Snapshots()[0.5]


def test_a_run_keeps_its_output_times_for_lookup() -> None:
    problem = fempde.PorousMedium(target=lambda x: 1.5 * x[0] * (1 - x[0]) + 0.75, tau=0.05)
    times = np.linspace(0, 0.5, 6)[1:]
    result = fempde.solve(problem, meshes.interval(0, 1, h=0.1), "uniform", 0.5, times=times)
    assert isinstance(result.snapshots, Snapshots)
    assert sorted(result.snapshots) == pytest.approx([0.0, *times], abs=0)
    np.testing.assert_array_equal(result.snapshots[0.3], result.snapshots[float(times[2])])
    np.testing.assert_array_equal(result.snapshots[0.5], result.rho)
