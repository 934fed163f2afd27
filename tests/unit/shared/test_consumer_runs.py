"""How the consumer cuts a poll into transactions by weight (`in_runs`, pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.consumer import in_runs


@given(st.lists(st.integers(min_value=1, max_value=20), max_size=40), st.integers(1, 30))
def test_runs_keep_the_order_and_stay_within_the_limit(weights: list[int], limit: int) -> None:
    items = list(enumerate(weights))
    runs = list(in_runs(items, lambda item: item[1], limit))
    assert [item for run in runs for item in run] == items  # all, once, in order
    for k, run in enumerate(runs):
        assert run, "no empty run"
        assert len(run) == 1 or sum(w for _, w in run) <= limit
        if k + 1 < len(runs):  # a run ends only where the next item would not fit
            assert sum(w for _, w in run) + runs[k + 1][0][1] > limit


def test_an_item_is_weighed_once_its_run_is_being_made() -> None:
    # The consumer handles a run before the next is made: a weight that depends on
    # what the handler did (matching's index of a road show) is read after it.
    weighed: list[int] = []

    def weight(item: int) -> int:
        weighed.append(item)
        return 2

    runs = in_runs([0, 1, 2, 3, 4], weight, 4)
    assert next(runs) == [0, 1] and weighed == [0, 1, 2]
    assert next(runs) == [2, 3] and weighed == [0, 1, 2, 3, 4]
    assert list(runs) == [[4]]
