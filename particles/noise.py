"""Gaussian noise drawn inside the compiled SGD loops, reproducibly.

Noisy SGD needs ``N × width`` standard normals a step (3.2·10⁴ for the
two-layer network at N = 800, d = 40), and drawing them with numpy, storing
them and reading them back cost many times the update itself. Here they
are computed where they are used, from a counter-based generator: normal number
``n`` of a run is a pure function of the run's 64-bit ``key`` and of ``n``, so

* the same key gives the same numbers, however the steps are cut into chunks
  and whether the run is alone or in an ensemble;
* the key is one ``uint64`` drawn from the run's :class:`numpy.random.Generator`
  (:func:`draw_key`), so the same seed gives the same run.

The bits are SplitMix64 (Steele, Lea and Flood 2014; Java's
``SplittableRandom``): output ``c`` of the stream seeded with ``key`` is
``mix(key + (c + 1) γ)``, ``γ`` the odd Weyl increment, ``mix`` Stafford's
variant-13 finaliser. A stream has period 2⁶⁴ and passes BigCrush; two runs'
streams overlap only if their keys lie within the length of a run of each
other on the Weyl cycle (probability ≈ runs² × normals per run / 2⁶⁴).

Normal pair ``p`` (normals ``2p`` and ``2p + 1``) is Box–Muller of outputs
``2p`` and ``2p + 1``: ``u₁ ∈ (0, 1]`` and ``u₂ ∈ [0, 1)`` with 53 bits each,
``r = sqrt(−2 ln u₁)``, ``(r cos 2πu₂, r sin 2πu₂)``: exactly N(0, 1)
independent pairs up to the 53-bit grid (the largest ``|z|`` is 8.57, a
tail of 10⁻¹⁷). The logarithm and the sine and cosine are fdlibm's
polynomials written out (exponent by a bit cast, the angle reduced exactly
to ``[−π/4, π/4]``), branch-free so that LLVM vectorises the loop over pairs
(numba would otherwise call the scalar libm); the normals agree with libm's
Box–Muller of the same bits to 5·10⁻¹⁵. A normal still costs more than the
four flops a weight a step of the two-layer update, so a noisy step of that
network costs several noiseless ones (``benchmarks/sgd.py`` measures both).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic
from numpy.typing import NDArray

from fempde.checks import generator, integer

__all__ = ["draw_key", "fill_normals", "normals"]

Array = NDArray[np.float64]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S52 = (np.uint64(s) for s in (30, 27, 31, 11, 52))
_ONE = np.uint64(1)
_MANTISSA = np.uint64((1 << 52) - 1)
_EXPONENT_ONE = np.uint64(1023 << 52)
_TWO_M53 = 2.0**-53
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_PI_2 = 1.5707963267948966
# fdlibm e_log.c (log(1 + f) = f − (f²/2 − s (f²/2 + R(s²))), s = f / (2 + f))
_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5, _LG6, _LG7 = 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01, \
    1.479819860511658591e-01
# fdlibm k_sin.c and k_cos.c, |x| <= π/4
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


def draw_key(rng: np.random.Generator) -> int:
    """One ``uint64`` from ``rng``: the key of a run's noise stream."""
    generator("rng", rng)
    return int(rng.integers(0, 2**64, dtype=np.uint64))


@intrinsic
def _as_float(typingctx, bits):  # type: ignore[no-untyped-def]  # numba's intrinsic protocol
    """The float64 whose bit pattern is ``bits`` (a uint64): a no-op cast LLVM vectorises."""
    if bits != types.uint64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


@intrinsic
def _as_bits(typingctx, value):  # type: ignore[no-untyped-def]
    """The bit pattern (uint64) of the float64 ``value``."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@numba.njit(inline="always", error_model="numpy")
def _mix(z: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(inline="always", error_model="numpy")
def _log_unit(m: np.uint64) -> float:  # pragma: no cover - compiled
    """``ln(m 2⁻⁵³)`` for an integer ``1 <= m <= 2⁵³``."""
    # exact: m has at most 53 bits (mypy reads numba's intrinsic as its typing function)
    bits: np.uint64 = _as_bits(np.float64(np.int64(m)))  # type: ignore[call-arg]
    e = np.int64(bits >> _S52) - 1023 - 53
    x = _as_float((bits & _MANTISSA) | _EXPONENT_ONE)  # in [1, 2)
    high = x > _SQRT2
    x = 0.5 * x if high else x  # in (√2/2, √2]
    e = e + 1 if high else e
    f = x - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    half_f2 = 0.5 * f * f
    k = np.float64(e)
    return k * _LN2_HI - ((half_f2 - (s * (half_f2 + r) + k * _LN2_LO)) - f)


@numba.njit(inline="always", error_model="numpy")
def _pair(key: np.uint64, p: np.int64) -> tuple[float, float]:  # pragma: no cover - compiled
    """Normals ``2p`` and ``2p + 1`` of the stream ``key``."""
    c = np.uint64(p) + np.uint64(p)
    b1 = _mix(key + (c + _ONE) * _GAMMA)
    b2 = _mix(key + (c + _ONE + _ONE) * _GAMMA)
    radius = np.sqrt(-2.0 * _log_unit((b1 >> _S11) + _ONE))
    quarters = 4.0 * _TWO_M53 * np.float64(np.int64(b2 >> _S11))  # 4 u₂ in [0, 4), exact
    turn = np.floor(quarters + 0.5)
    x = (quarters - turn) * _PI_2  # 2π u₂ − turn·π/2, in [−π/4, π/4]
    z = x * x
    sine = x + x * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    cosine = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    q = np.int64(turn)  # rotate (cos x, sin x) by q quarter turns; single selects (nested ones stop LLVM's vectoriser)
    odd, half = (q & 1) == 1, (q & 2) == 2
    c1 = -sine if odd else cosine
    s1 = cosine if odd else sine
    c1 = -c1 if half else c1
    s1 = -s1 if half else s1
    return radius * c1, radius * s1


@numba.njit(cache=True, error_model="numpy")  # no ZeroDivisionError branch: the loop vectorises
def fill_normals(key: np.uint64, start: np.int64, out: Array) -> None:  # pragma: no cover - compiled
    """``out[i]`` = normal number ``start + i`` of the stream ``key``; ``out`` 1-D
    (a block of rows: pass ``block.reshape(-1)``, contiguous), ``start >= 0``."""
    if out.ndim != 1:  # a 2-D out would get one number per row, repeated along it
        raise ValueError("fill_normals: out must be 1-D: pass block.reshape(-1) of a contiguous block")
    if start < 0:
        raise ValueError("fill_normals: start must be >= 0 (the normals of a stream are numbered from 0)")
    n = out.shape[0]
    if n == 0:
        return
    i = 0
    if start % 2 == 1:  # the odd half of the first pair
        out[0] = _pair(key, start // 2)[1]
        i = 1
    pairs = (n - i) // 2
    first = (start + i) // 2
    for p in range(pairs):  # the vectorised loop
        z0, z1 = _pair(key, first + p)
        out[i + 2 * p] = z0
        out[i + 2 * p + 1] = z1
    if i + 2 * pairs < n:  # the even half of the last pair
        out[n - 1] = _pair(key, first + pairs)[0]


def normals(key: int, start: int, count: int) -> Array:
    """Normals ``start, ..., start + count − 1`` of the stream ``key``: what the
    compiled loops add, for tests and replays."""
    start, count = integer("start", start, minimum=0), integer("count", count, minimum=0)
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < 2**64:
        raise ValueError(f"key must be an integer in [0, 2**64) (draw one with draw_key(rng)), got {key!r}")
    out = np.empty(count)
    fill_normals(np.uint64(key), np.int64(start), out)
    return out
