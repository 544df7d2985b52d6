"""The compiled Gaussian noise of the SGD loops: its law, its independence, its
reproducibility, and its bits against an independent transcription."""

import math

import numpy as np
import pytest
from scipy import stats

from particles.noise import draw_key, fill_normals, normals

COUNT = 1_000_000


@pytest.fixture(scope="module")
def sample():
    return normals(0x243F6A8885A308D3, 0, COUNT)


def test_moments_are_those_of_a_standard_normal(sample):
    """Mean 0, variance 1, third moment 0, fourth 3, each within 4 standard errors
    (the standard errors of a N(0, 1) sample: sqrt(E z^2k − (E z^k)²) / sqrt(n))."""
    n = len(sample)
    for power, exact, spread in ((1, 0.0, 1.0), (2, 1.0, math.sqrt(2.0)), (3, 0.0, math.sqrt(15.0)),
                                 (4, 3.0, math.sqrt(96.0))):
        assert np.mean(sample**power) == pytest.approx(exact, abs=4 * spread / math.sqrt(n))


def test_distribution_passes_kolmogorov_smirnov_and_the_tails(sample):
    assert stats.kstest(sample, "norm").pvalue > 1e-3
    for cut in (2.0, 3.0, 4.0):  # the tails, where a bad logarithm would show
        p = 2 * stats.norm.sf(cut)
        frequency = np.mean(np.abs(sample) > cut)
        assert frequency == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / len(sample)))


def test_pairs_and_neighbours_are_uncorrelated(sample):
    """Box–Muller's two normals share a radius: they and their squares must still
    be uncorrelated, as must neighbouring pairs (correlations within 4/sqrt(n))."""
    even, odd = sample[0::2], sample[1::2]
    bound = 4 / math.sqrt(len(even))
    for a, b in ((even, odd), (even**2, odd**2), (sample[:-2], sample[2:]), (sample[:-1] ** 2, sample[1:] ** 2)):
        assert abs(np.corrcoef(a, b)[0, 1]) < bound


def test_same_key_same_numbers_any_window_and_keys_differ(rng):
    key = draw_key(rng)
    long = normals(key, 0, 1001)
    np.testing.assert_array_equal(normals(key, 0, 1001), long)
    for start, count in ((0, 1), (1, 1), (7, 100), (8, 99), (999, 2)):  # odd and even ends of a pair
        np.testing.assert_array_equal(normals(key, start, count), long[start:start + count])
    other = normals(key ^ 1, 0, 1001)
    assert not np.any(other == long)  # no shared value: the streams are not shifted copies here
    assert abs(np.corrcoef(other, long)[0, 1]) < 4 / math.sqrt(1001)
    seed = np.random.default_rng(5)
    assert draw_key(seed) == draw_key(np.random.default_rng(5)) != draw_key(seed)


def _reference(key: int, count: int) -> np.ndarray:
    """SplitMix64 and Box–Muller written out with Python integers and libm."""
    mask, gamma = 2**64 - 1, 0x9E3779B97F4A7C15

    def mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    out = []
    for p in range(count // 2):
        b1, b2 = mix((key + (2 * p + 1) * gamma) & mask), mix((key + (2 * p + 2) * gamma) & mask)
        radius = math.sqrt(-2 * math.log(((b1 >> 11) + 1) * 2.0**-53))
        angle = 2 * math.pi * (b2 >> 11) * 2.0**-53
        out += [radius * math.cos(angle), radius * math.sin(angle)]
    return np.array(out)


def test_bits_and_polynomials_against_an_independent_transcription():
    """The compiled logarithm, sine and cosine agree with libm to 5e-15 (they are
    fdlibm's polynomials; the angle reduction is exact)."""
    for key in (0, 1, 2**64 - 1, 0x0123456789ABCDEF):
        np.testing.assert_allclose(normals(key, 0, 4000), _reference(key, 4000), rtol=0, atol=5e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": -1}, r"key must be an integer in \[0, 2\*\*64\) .*got -1"),
        ({"key": True}, r"key must be an integer .*got True"),
        ({"start": -2}, "start must be an integer >= 0, got -2"),
        ({"count": 1.5}, "count must be an integer >= 0, got 1.5"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"key": 1, "start": 0, "count": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        normals(**arguments)


def test_fill_normals_refuses_a_2d_out_and_a_negative_start():
    """A 2-D ``out`` would repeat one number along each row: refused, as is a start
    before normal 0; the flat view of a block gets normals 0 ... 5 in order."""
    block = np.empty((2, 3))
    with pytest.raises(ValueError, match="out must be 1-D: pass block.reshape"):
        fill_normals(np.uint64(7), np.int64(0), block)
    with pytest.raises(ValueError, match="start must be >= 0"):
        fill_normals(np.uint64(7), np.int64(-1), np.empty(3))
    fill_normals(np.uint64(7), np.int64(0), block.reshape(-1))
    np.testing.assert_array_equal(block, normals(7, 0, 6).reshape(2, 3))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        draw_key(5)  # type: ignore[arg-type]


def test_the_device_transcription_gives_the_compiled_normals():
    """particles.kernels.tensors.counter_normals (what an ensemble on a device draws,
    in 64-bit signed integers) run on numpy arrays: the compiled stream to 3e-15
    (the sine and cosine are libm's, not the compiled polynomials)."""
    from particles.kernels.tensors import counter_normals

    for key in (0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF):
        signed = np.array([key], dtype=np.uint64).astype(np.int64)
        index = np.arange(7, 4008, dtype=np.int64)
        drawn = counter_normals(signed[:, None], index[None, :], lambda v: v.astype(np.float64), np)[0]
        np.testing.assert_allclose(drawn, normals(key, 7, 4001), rtol=0, atol=3e-15)
