"""The pure interval arithmetic: examples, and properties over random state rows (hypothesis)."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from apps.analytics import intervals as iv
from apps.analytics.intervals import DOWN, UP, Change, Span

T = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


def test_changes_are_clipped_to_the_window_and_unknown_before_the_first() -> None:
    spans = iv.spans([Change(at(-30), DOWN), Change(at(30), UP)], initial=None, start=at(0), end=at(60))
    assert spans == [Span(at(0), at(30), DOWN), Span(at(30), at(60), UP)]
    assert iv.spans([Change(at(30), UP)], initial=None, start=at(0), end=at(60))[0].state == iv.UNKNOWN


def test_time_after_now_is_unknown() -> None:
    spans = iv.spans([], initial=Change(at(-5), UP), start=at(0), end=at(60), until=at(45))
    assert iv.total(spans) == iv.Totals(up=45 * 60, excluded=15 * 60)


def test_maintenance_laid_over_a_down_span_is_excluded_and_counted() -> None:
    laid = iv.overlay([Span(at(0), at(60), DOWN)], [(at(10), at(20)), (at(50), at(90))], iv.MAINTENANCE)
    totals = iv.total(laid)
    assert (totals.down, totals.maintenance, totals.excluded) == (40 * 60, 20 * 60, 20 * 60)
    assert iv.uptime_percentage(totals.up, totals.down) == 0.0
    assert iv.uptime_percentage(0, 0) is None


def test_day_buckets_are_aligned_to_utc_midnight_and_clipped() -> None:
    edges = iv.bucket_edges(at(60 * 20), at(60 * 50), iv.DAY)
    assert edges == [at(60 * 20), at(60 * 24), at(60 * 48), at(60 * 50)]


changes = st.lists(
    st.tuples(st.integers(min_value=-100, max_value=1000), st.sampled_from([UP, DOWN, iv.DISABLED])),
    max_size=30,
).map(lambda rows: [Change(at(m), state) for m, state in sorted(rows, key=lambda r: r[0])])
holes = st.lists(st.tuples(st.integers(0, 900), st.integers(1, 200)), max_size=5).map(
    lambda rows: iv.union((at(s), at(s + length)) for s, length in rows)
)


@given(changes, holes, st.integers(1, 900), st.sampled_from([iv.HOUR, iv.DAY]))
def test_every_second_of_the_window_is_counted_once_in_any_buckets(
    rows: list[Change], maintenance: list[tuple[dt.datetime, dt.datetime]], length: int, size: dt.timedelta
) -> None:
    start, end = at(7), at(7 + length)
    spans = iv.overlay(iv.spans(rows, initial=None, start=start, end=end), maintenance, iv.MAINTENANCE)
    whole = iv.total(spans)
    buckets = iv.totals_by_bucket(spans, iv.bucket_edges(start, end, size))
    summed = iv.Totals()
    for bucket in buckets:
        summed.add(bucket)

    assert abs(whole.up + whole.down + whole.excluded - (end - start).total_seconds()) < 1e-6
    assert abs(summed.up - whole.up) < 1e-6
    assert abs(summed.down - whole.down) < 1e-6
    assert abs(summed.maintenance - whole.maintenance) < 1e-6
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


@given(changes, holes)
def test_downtime_periods_add_up_to_the_down_time_and_never_overlap(
    rows: list[Change], maintenance: list[tuple[dt.datetime, dt.datetime]]
) -> None:
    spans = iv.spans(rows, initial=None, start=at(0), end=at(1000))
    periods = iv.downtime_periods(spans, maintenance=maintenance)

    assert abs(sum(p.seconds for p in periods) - iv.total(spans).down) < 1e-6
    assert all(a.end < b.start for a, b in itertools.pairwise(periods))
