"""The pieces of the bench's baselines and namespace that need no broker."""

from __future__ import annotations

from stockline.bench.latency import LatencyProbe, atp_source, sku_of_node_key, sku_of_sku_key
from stockline.bench.naive import signed_qty
from stockline.bench.worker import BenchWorld
from stockline.settings import Settings


def test_the_naive_consumer_signs_quantities_by_event_type() -> None:
    assert signed_qty({"event_type": "receipt", "qty": 5}) == 5
    assert signed_qty({"event_type": "pick", "qty": 5}) == -5
    assert signed_qty({"event_type": "adjustment", "delta": -3}) == -3
    assert signed_qty({"event_type": "cycle_count", "counted_qty": 40}) == 40
    assert signed_qty({"event_type": "order_cancelled"}) == 0


def test_every_topic_of_a_run_carries_its_id() -> None:
    world = BenchWorld(Settings())
    s = world.settings
    prefix = f"bench-{world.run}."
    topics = [*s.input_topics, *s.output_topics, world.naive_topic]
    assert all(t.startswith(prefix) for t in topics), topics
    assert s.key_prefix == s.consumer_group == f"bench-{world.run}"
    assert world.naive_group != s.consumer_group  # the baseline reads from the beginning


def test_the_probe_reads_the_node_topic_and_either_key_form() -> None:
    settings = Settings(atp_nodes_topic="x.inventory.atp.nodes")
    assert atp_source(settings) == ("x.inventory.atp.nodes", sku_of_node_key)
    assert sku_of_sku_key(b"SKU-1") == "SKU-1"
    assert sku_of_node_key(b"SKU-1/DC-EAST") == "SKU-1"


def test_events_sent_in_the_warm_up_are_resolved_but_not_counted() -> None:
    probe = LatencyProbe(Settings(), measure_from_us=3_000)
    probe.sent("SKU-1", 1_000)
    probe.sent("SKU-1", 4_000)
    probe._resolve("SKU-1", as_of_us=5_000, received_us=9_000)
    assert probe.latencies_ms() == [5.0]
    assert probe._outstanding == 0
