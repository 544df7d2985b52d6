"""The chunk plan every SGD path shares: chunks that end on the recording steps."""

import copy

import numpy as np
import pytest

from fempde.meanfield import TimeAxis
from particles.plan import DATA_BLOCK, BlockDraws, Chunk, chunk_plan, record_steps


def _draw(m, rng):
    return rng.standard_normal((m, 2)), rng.integers(0, 10, m)


def test_chunks_end_on_every_recording_step():
    marks = record_steps(TimeAxis(1e-4), [0.0, 0.05, 0.1, 0.2])
    assert marks.tolist() == [0, 500, 1000, 2000]
    plan = list(chunk_plan(marks, 300))
    assert plan == [Chunk(0, 0, True), Chunk(0, 300, False), Chunk(300, 200, True), Chunk(500, 300, False),
                    Chunk(800, 200, True), Chunk(1000, 300, False), Chunk(1300, 300, False),
                    Chunk(1600, 300, False), Chunk(1900, 100, True)]
    # contiguous, and as many records as marks
    assert all(a.start + a.steps == b.start for a, b in zip(plan, plan[1:], strict=False))
    assert sum(c.record for c in plan) == len(marks)


def test_a_resumed_plan_is_the_tail_of_the_whole_one():
    marks = [0, 500, 1000, 2000]
    whole = chunk_plan(marks, 300)
    assert list(chunk_plan(marks[2:], 300, start=800)) == whole[4:]
    assert list(chunk_plan([], 300, start=2000)) == []


def test_bad_plans_are_named():
    with pytest.raises(ValueError, match=r"record times must be one or more finite times >= 0, got \[-0.1\]"):
        record_steps(TimeAxis(1e-2), [-0.1])
    with pytest.raises(ValueError, match="one or more finite times"):
        record_steps(TimeAxis(1e-2), [])
    with pytest.raises(ValueError, match="chunk must be >= 1 steps, got 0"):
        chunk_plan([10], 0)
    with pytest.raises(ValueError, match=r"must increase from step 5, got \[3, 10\]"):
        chunk_plan([3, 10], 4, start=5)
    with pytest.raises(ValueError, match="must increase"):
        chunk_plan([0, 10, 10], 4)


def test_block_draws_do_not_depend_on_the_cut_and_resume(rng):
    """Step k's row is row k % DATA_BLOCK of block k // DATA_BLOCK, drawn in
    order: any cut into takes gives the same rows, and a run restarted at step
    1500 from resume_state() continues them."""
    seed = rng.spawn(1)[0]
    whole = BlockDraws(_draw, copy.deepcopy(seed)).take(0, 3000)
    direct = copy.deepcopy(seed)
    blocks = [_draw(DATA_BLOCK, direct) for _ in range(3)]
    np.testing.assert_array_equal(whole[0], np.concatenate([b[0] for b in blocks])[:3000])
    cut = BlockDraws(_draw, copy.deepcopy(seed))
    pieces = [cut.take(a, b - a) for a, b in ((0, 1), (1, 1024), (1024, 1500))]
    generator = copy.deepcopy(seed)
    generator.bit_generator.state = cut.resume_state()
    pieces.append(BlockDraws(_draw, generator, start=1500).take(1500, 1500))
    for column in range(2):
        np.testing.assert_array_equal(np.concatenate([p[column] for p in pieces]), whole[column])
    with pytest.raises(ValueError, match="next step 1500, got start 1400, count 10"):
        cut.take(1400, 10)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, got int"):
        BlockDraws(_draw, 3)  # type: ignore[arg-type]


def test_a_plan_of_a_trillion_steps_is_built_at_once():
    """The plan holds a number per recording step, never its chunks: 2.4e8 chunks cost
    what two do, and any of them is at hand."""
    import tracemalloc

    tracemalloc.start()
    plan = chunk_plan([0, 10**12], 4096)
    first, last = plan[1], plan[-1]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(plan) == 1 + -(-10**12 // 4096) == 244_140_626
    assert first == Chunk(0, 4096, False) and last == Chunk(10**12 - 4096, 4096, True)
    assert peak < 100_000  # bytes


def test_a_chunk_by_index_is_the_chunk_in_order(rng):
    for _ in range(20):
        marks = np.unique(rng.integers(0, 5000, rng.integers(1, 8)))
        start = int(rng.integers(0, marks[0] + 1))
        plan = chunk_plan(marks, int(rng.integers(1, 700)), start=start)
        chunks = list(plan)
        assert [plan[k] for k in range(len(plan))] == chunks and plan[-1] == chunks[-1]
        assert sum(c.steps for c in chunks) == marks[-1] - start and sum(c.record for c in chunks) == len(marks)
    with pytest.raises(IndexError, match="chunk 9 of a plan of 9"):
        chunk_plan([0, 2400], 300)[9]


def test_sgd_of_ten_billion_steps_takes_its_first_step_in_constant_memory(rng, monkeypatch):
    """The RBF network (jmm_rbf) on the engine over 1e10 steps: from the call to its first compiled chunk, a few MB (the
    plan of 2.4e6 chunks was built first, some 250 MB, before the plan was lazy)."""
    import tracemalloc

    import meshes
    import particles
    from fempde.fem.kernels import Kernel
    from particles.kernels import bump as bump_kernel

    domain = particles.ConvexDomain.from_mesh(meshes.interval(h=0.1))
    kernel = Kernel("triweight", 1, 0.2)

    def target(x):
        return 1 - x[0] ** 2

    from fempde.model import jmm_rbf

    model = jmm_rbf(domain.mesh, target, kernel.delta, kernel=kernel.name)
    particles.sgd(model, domain.sample(10, rng), TimeAxis(1e-4), [0.01], rng=rng)  # compiled
    compiled, peaks = bump_kernel._sgd_chunk, []

    def first_chunk(*args, **kwargs):
        peaks.append(tracemalloc.get_traced_memory()[1])
        raise KeyboardInterrupt

    monkeypatch.setattr(bump_kernel, "_sgd_chunk", first_chunk)
    tracemalloc.start()
    with pytest.raises(KeyboardInterrupt):
        particles.sgd(model, domain.sample(10, rng), TimeAxis(1e-10), [1.0], rng=rng)
    tracemalloc.stop()
    monkeypatch.setattr(bump_kernel, "_sgd_chunk", compiled)
    assert len(peaks) == 1 and peaks[0] < 20e6


@pytest.mark.parametrize("times, message", [
    ([0.0, 0.011, 0.012], "0.011 is not on the SGD grid of epsilon = 0.01"),
    ([0.0, 0.015], "0.015 is not on the SGD grid"),
    ([0.0, -0.004], "finite times >= 0"),
    ([0.0, float("nan")], "finite times >= 0"),
    ([0.0, float("inf")], "finite times >= 0"),
    ([0.0, 1e300], "more than 2\\^62 steps"),
    ([0.02, 0.01], "must increase"),
])
def test_record_times_off_the_grid_are_refused_not_moved(times, message):
    """A time that SGD cannot record at (off its grid, repeated, non-finite) is refused by name,
    never rounded to a neighbour: a run records one state per time asked for, at that time."""
    with pytest.raises(ValueError, match=message):
        record_steps(TimeAxis(0.01), times)
    assert record_steps(TimeAxis(0.01), [0.0, 0.03, 0.1, 0.30000000000000004]).tolist() == [0, 3, 10, 30]
