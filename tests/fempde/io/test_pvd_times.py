"""ParaView time values are written without float noise and read back as the times they came from."""

import numpy as np
import pytest

from fempde.io.vtk import PVDSeries, read_pvd, time_text
from fempde.solvers.resume import ResumePoint


@pytest.mark.parametrize(("t", "text"), [
    (0.6000000000000001, "0.6"),
    (0.1 + 0.2, "0.3"),
    (0.0, "0"),
    (3e-7, "3e-07"),
    (2.5, "2.5"),
    (1 / 3, "0.333333333333"),
    (0.123456789012345, "0.1234567890123"),
])
def test_time_text_drops_the_noise_and_keeps_the_digits(t: float, text: str) -> None:
    assert time_text(t) == text
    assert abs(float(text) - t) <= 1e-12 * abs(t)


def test_the_pvd_time_attribute_is_the_short_decimal(tmp_path) -> None:
    series = PVDSeries(tmp_path, "cloud")
    times = np.linspace(0.0, 1.2, 5)  # 0.6000000000000001 and 0.8999999999999999 among them
    for t in times:
        series.write_points(float(t), np.zeros((2, 3)))
    text = (tmp_path / "cloud.pvd").read_text()
    assert [line.split('timestep="')[1].split('"')[0] for line in text.splitlines() if "DataSet" in line] == \
        ["0", "0.3", "0.6", "0.9", "1.2"]
    assert [t for t, _ in read_pvd(tmp_path / "cloud.pvd")] == [0.0, 0.3, 0.6, 0.9, 1.2]


def test_a_resumed_series_takes_its_frames_back_at_their_exact_times(tmp_path) -> None:
    series = PVDSeries(tmp_path, "rho")
    times = [float(t) for t in np.linspace(0.0, 1.2, 5)]
    for t in times:
        series.write_points(t, np.zeros((2, 3)))
    again = PVDSeries(tmp_path, "rho")
    resumed_at = ResumePoint(index=7, t=times[2])  # 0.6000000000000001, an output time: its frame stays
    again.restore(resumed_at, tuple(times[1:]))
    assert [t for t, _ in again.entries] == times[:3]
    assert [name for _, name in again.entries] == ["rho_00000.vtu", "rho_00001.vtu", "rho_00002.vtu"]
