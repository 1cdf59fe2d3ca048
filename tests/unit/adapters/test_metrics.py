"""Metrics.observe: a batch's histograms as if each observation had been made alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from stockline.adapters.metrics import Metrics, observe_all
from stockline.service_layer.process_batch import BatchReport

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)
amounts = st.lists(
    st.one_of(
        st.sampled_from([*BUCKETS, 0.0, -1.0, 86400.5, 1e9]),
        st.floats(min_value=-10, max_value=1e6, allow_nan=False),
    ),
    max_size=50,
)


def samples(histogram: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in histogram.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def histogram() -> Histogram:
    return Histogram("h_seconds", "h", buckets=BUCKETS, registry=CollectorRegistry())


@given(st.lists(amounts, max_size=4))
def test_observe_all_counts_what_observe_counts(batches: list[list[float]]) -> None:
    one_by_one, together = histogram(), histogram()
    for batch in batches:
        for amount in batch:
            one_by_one.observe(amount)
        observe_all(together, batch)
    expected, got = samples(one_by_one), samples(together)
    sum_key = ("h_seconds_sum", ())
    assert got.pop(sum_key) == pytest.approx(expected.pop(sum_key), rel=1e-12, abs=1e-9)
    assert got == expected


def test_observe_all_falls_back_to_observe_without_prometheus_internals() -> None:
    class Plain:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, amount: float) -> None:
            self.seen.append(amount)

    plain = Plain()
    observe_all(plain, [0.5, 2.0])  # type: ignore[arg-type]
    assert plain.seen == [0.5, 2.0]


def test_a_batch_report_counts_each_event_in_the_histograms() -> None:
    metrics = Metrics()
    report = BatchReport(records=3, event_ages_s=[0.2, 0.2, 7.0], atp_freshness_s=[0.3])
    metrics.observe(report)
    value = metrics.registry.get_sample_value
    assert value("stockline_event_age_seconds_count") == 3
    assert value("stockline_event_age_seconds_bucket", {"le": "0.25"}) == 2
    assert value("stockline_event_age_seconds_bucket", {"le": "5.0"}) == 2
    assert value("stockline_event_age_seconds_bucket", {"le": "10.0"}) == 3
    assert value("stockline_event_age_seconds_sum") == pytest.approx(7.4)
    assert value("stockline_atp_freshness_seconds_count") == 1
