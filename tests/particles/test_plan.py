"""The chunk plan every SGD path shares: chunks that end on the recording steps."""

import pytest

from fempde.meanfield import TimeAxis
from particles.plan import Chunk, chunk_plan, record_steps


def test_chunks_end_on_every_recording_step():
    marks = record_steps(TimeAxis(1e-4), [0.2, 0.0, 0.05, 0.1, 0.05])  # sorted, once each
    assert marks.tolist() == [0, 500, 1000, 2000]
    plan = chunk_plan(marks, 300)
    assert plan == [Chunk(0, 0, True), Chunk(0, 300, False), Chunk(300, 200, True), Chunk(500, 300, False),
                    Chunk(800, 200, True), Chunk(1000, 300, False), Chunk(1300, 300, False),
                    Chunk(1600, 300, False), Chunk(1900, 100, True)]
    # contiguous, and as many records as marks
    assert all(a.start + a.steps == b.start for a, b in zip(plan, plan[1:], strict=False))
    assert sum(c.record for c in plan) == len(marks)


def test_a_resumed_plan_is_the_tail_of_the_whole_one():
    marks = [0, 500, 1000, 2000]
    whole = chunk_plan(marks, 300)
    assert chunk_plan(marks[2:], 300, start=800) == whole[4:]
    assert chunk_plan([], 300, start=2000) == []


def test_bad_plans_are_named():
    with pytest.raises(ValueError, match=r"record times must be one or more times >= 0, got \[-0.1\]"):
        record_steps(TimeAxis(1e-2), [-0.1])
    with pytest.raises(ValueError, match="one or more times"):
        record_steps(TimeAxis(1e-2), [])
    with pytest.raises(ValueError, match="chunk must be >= 1 steps, got 0"):
        chunk_plan([10], 0)
    with pytest.raises(ValueError, match=r"must increase from step 5, got \[3, 10\]"):
        chunk_plan([3, 10], 4, start=5)
    with pytest.raises(ValueError, match="must increase"):
        chunk_plan([0, 10, 10], 4)
