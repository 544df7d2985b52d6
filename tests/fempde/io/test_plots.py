"""history.png shows a negative min ρ apart from zero and says in its title whether
the certificates held; the cross-check's convergence plot labels each N once."""

import numpy as np

from fempde.io.plots import history_figure, history_title, label_values
from fempde.solvers.record import HISTORY_COLUMNS
from fempde.solvers.result import Certificates


def _history(min_rho: np.ndarray) -> dict[str, np.ndarray]:
    n = len(min_rho)
    history = {name: np.linspace(1.0, 2.0, n) for name in HISTORY_COLUMNS}
    history["t"] = np.linspace(0.0, 1.0, n)
    history["min_rho"] = min_rho
    history["mass_drift"] = np.zeros(n)
    return history


def _failed() -> Certificates:
    return Certificates(max_mass_drift=3e-16, min_rho=-4.09e-12, max_energy_increase=0.0,
                        energy_checked=True, failed=("negative",))


def test_a_negative_min_rho_is_drawn_away_from_zero() -> None:
    min_rho = np.array([0.5, 1e-3, 0.0, -4.09e-12, 0.0])
    fig = history_figure(_history(min_rho), certificates=_failed())
    ax = next(a for a in fig.axes if a.get_title().startswith("min"))
    assert ax.get_yscale() == "symlog"
    fig.canvas.draw()
    to_pixels = ax.transData.transform
    zero, negative = to_pixels([(0.5, 0.0), (0.5, -4.09e-12)])[:, 1]
    height = ax.bbox.height
    assert zero - negative > 0.1 * height  # four decades of the log part below zero, not a pixel
    low, high = ax.get_ylim()
    assert low < -4.09e-12 and high >= 0.5
    boxes = sorted((label.get_window_extent() for label in ax.get_yticklabels() if label.get_text()),
                   key=lambda box: box.y0)
    assert len(boxes) >= 4 and all(a.y1 <= b.y0 for a, b in zip(boxes, boxes[1:], strict=False))  # no overlap


def test_the_title_says_whether_the_certificates_held() -> None:
    failed = history_title(_failed(), "disk, 1262 nodes")
    assert failed.splitlines() == ["CERTIFICATES FAILED: negative (mass drift 3.0e-16, min ρ -4.1e-12, "
                                   "max free-energy increase 0.0e+00)", "disk, 1262 nodes"]
    held = Certificates(max_mass_drift=1e-15, min_rho=0.0, max_energy_increase=-1.0, energy_checked=False,
                        failed=())
    assert history_title(held) == "certificates hold (mass drift 1.0e-15, min ρ 0)"
    fig = history_figure(_history(np.zeros(3)), "disk", certificates=held)
    assert fig._suptitle.get_text() == "certificates hold (mass drift 1.0e-15, min ρ 0)\ndisk"


def test_sizes_on_a_log_axis_are_labelled_once_each() -> None:
    import matplotlib.pyplot as plt

    n = np.array([250, 500, 1000, 2000, 4000])
    fig, ax = plt.subplots(figsize=(6.5, 4.8), constrained_layout=True)
    ax.loglog(n, 0.1 * (n / 250.0) ** -0.5, "o-")
    label_values(ax.xaxis, n, "{:.0f}")
    fig.canvas.draw()
    assert [label.get_text() for label in ax.get_xticklabels()] == ["250", "500", "1000", "2000", "4000"]
    assert [label.get_text() for label in ax.get_xticklabels(minor=True) if label.get_text()] == []
    boxes = [label.get_window_extent() for label in ax.get_xticklabels()]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))  # no two labels overlap
    plt.close(fig)
