"""Reorder and rebalance signals (DESIGN.md section 5): the daily review; pure, no I/O.

A review looks at every planned node of one SKU on one review day. A node is *short* while
`position ≤ reorder_point`; its uncovered need is `order_up_to - position - covered`, where
`covered` is what the same day's earlier signals for it already brought in (suggested or
transferred units). A short node with uncovered need is first offered a transfer from the
donor with the most spare units (see `spare`), then reordered from the supplier for what
the transfer did not cover, so the day's signals bring its position to order_up_to.
Spare promised within a review, or earlier the same day (`given`), is not offered again.

The caller keeps a `ReviewMark` per (node, sku) (what the day's signals covered and gave)
and stores what `review` returns after publishing the signals. A new review day starts
from nothing: a node still short the next day is signalled again, so a crossing whose
signals were not acted on is never left behind.

`signal_id` is a UUID5 of the kind, node (the short node for a rebalance), sku, review
day and the units the day's signals had covered before it: reviewing the same state again
(a replay) gives the same ids, so publish before storing the marks and let consumers drop
a repeated id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from stockline.domain.ledger import NodeStock
from stockline.domain.network import Lane, Network
from stockline.domain.policy import Levels, Policy

REORDER_REASON: Final = "position_at_or_below_reorder_point"
REBALANCE_REASON: Final = "donor_above_order_up_to"
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:stockline:signals")


@dataclass(frozen=True, slots=True)
class ReorderSignal:
    """A supplier order suggestion for `inventory.signals.reorder`; the message is
    `stockline.contracts.signals.ReorderRecord`, field for field."""

    signal_id: str
    node_id: str
    sku: str
    position: int
    reorder_point: int
    order_up_to: int
    suggested_qty: int
    reason: str
    as_of: str


@dataclass(frozen=True, slots=True)
class RebalanceSignal:
    """A transfer suggestion for `inventory.signals.rebalance`; the message is
    `stockline.contracts.signals.RebalanceRecord`, field for field."""

    signal_id: str
    sku: str
    from_node: str
    to_node: str
    qty: int
    lane_days: int
    lane_cost: float
    reason: str
    as_of: str


Signal = ReorderSignal | RebalanceSignal


@dataclass(frozen=True, slots=True)
class ReviewMark:
    """What the signals of review day `day` did at one (node, sku): `covered` units they
    brought to it (reorders and transfers in), `given` units rebalances took from it."""

    day: int
    covered: int = 0
    given: int = 0

    def on(self, day: int) -> ReviewMark:
        """This mark as seen on review day `day`: a mark of an earlier day counts nothing."""
        return self if self.day == day else ReviewMark(day)


@dataclass(frozen=True, slots=True)
class Review:
    """The signals of one review of one SKU, and the marks that changed (to store)."""

    signals: tuple[Signal, ...] = ()
    marks: Mapping[str, ReviewMark] = field(default_factory=dict)


def signal_id(kind: str, node_id: str, sku: str, day: int, covered_before: int = 0) -> str:
    """The deterministic id of a `kind` signal for `node_id` on review `day`, after the
    day's signals had covered `covered_before` units of it."""
    name = f"{kind}\x1f{node_id}\x1f{sku}\x1f{day}\x1f{covered_before}"
    return str(uuid.uuid5(_NAMESPACE, name))


def suggested_qty(position: int, levels: Levels, policy: Policy) -> int:
    """What to order to bring `position` to order_up_to: see `order_qty`."""
    return order_qty(levels.order_up_to - position, policy)


def order_qty(units: int, policy: Policy) -> int:
    """A supplier order for `units`: rounded UP to the case pack, then raised to the MOQ
    rounded UP to the case pack: max(⌈units/cp⌉·cp, ⌈moq/cp⌉·cp), units floored at 0.
    Always a positive multiple of the case pack."""
    gap = max(0, units)
    return max(round_up(gap, policy.case_pack), round_up(policy.moq, policy.case_pack))


def spare(stock: NodeStock, levels: Levels) -> int:
    """Units a donor can ship: at most its shippable stock (on_hand - reserved - held), and
    never so many that its position falls below its order_up_to (nor its reorder_point)."""
    shippable = stock.on_hand - stock.reserved - stock.held
    above = stock.position() - max(levels.order_up_to, levels.reorder_point)
    return max(0, min(shippable, above))


def review(
    sku: str,
    stock_by_node: Mapping[str, NodeStock],
    levels_by_node: Mapping[str, Levels],
    network: Network,
    marks: Mapping[str, ReviewMark],
    *,
    day: int,
    as_of: str,
) -> Review:
    """Review every node of `levels_by_node` on review `day` (short nodes in node-id order).

    Per short node with uncovered need (module docstring): a rebalance from the best donor
    (`_best_offer`: a direct lane faster than the short node's supplier lead time; the most
    spare, then the cheaper lane, the faster, the smaller node id) of
    min(⌈need/cp⌉·cp, ⌊spare/cp⌋·cp) units (cp: the short node's case pack), then a reorder
    of `order_qty(need - transferred)` when anything is left. `as_of` is the RFC 3339 time
    the positions were read at.
    """
    today = {n: marks.get(n, ReviewMark(day)).on(day) for n in levels_by_node}
    left = {
        n: max(0, spare(stock_by_node[n], lv) - today[n].given) for n, lv in levels_by_node.items()
    }
    signals: list[Signal] = []
    changed: set[str] = set()
    for node_id in sorted(levels_by_node):
        position, levels = stock_by_node[node_id].position(), levels_by_node[node_id]
        mark = today[node_id]
        need = levels.order_up_to - position - mark.covered
        if position > levels.reorder_point or need <= 0:
            continue
        policy = network.policy_for(sku, node_id)
        offer = _best_offer(network, sku, node_id, need, left, policy)
        moved = 0
        if offer is not None:
            lane, moved = offer
            donor = lane.from_node
            left[donor] -= moved
            today[donor] = _add(today[donor], given=moved)
            changed.add(donor)
            signals.append(_rebalance(sku, node_id, lane, moved, day, mark.covered, as_of))
        ordered = 0
        if need - moved > 0:
            ordered = order_qty(need - moved, policy)
            reorder = ReorderSignal(
                signal_id=signal_id("reorder", node_id, sku, day, mark.covered),
                node_id=node_id,
                sku=sku,
                position=position,
                reorder_point=levels.reorder_point,
                order_up_to=levels.order_up_to,
                suggested_qty=ordered,
                reason=REORDER_REASON,
                as_of=as_of,
            )
            signals.append(reorder)
        today[node_id] = _add(today[node_id], covered=moved + ordered)
        changed.add(node_id)
    return Review(tuple(signals), {n: today[n] for n in sorted(changed)})


def round_up(qty: int, case_pack: int) -> int:
    """The smallest multiple of case_pack ≥ qty."""
    return -(-qty // case_pack) * case_pack


def round_down(qty: int, case_pack: int) -> int:
    """The largest multiple of case_pack ≤ qty (0 for qty < case_pack)."""
    return max(0, qty // case_pack * case_pack)


def _best_offer(
    network: Network,
    sku: str,
    short_node: str,
    need: int,
    left: Mapping[str, int],
    policy: Policy,
) -> tuple[Lane, int] | None:
    """The preferred donor's lane and the units it moves, or None when none qualifies."""
    offers: list[tuple[int, Lane, int]] = []
    for donor, units in left.items():
        lane = network.lane(donor, short_node)
        if units <= 0 or lane is None or lane.transit_days >= policy.supplier_lead_time_days:
            continue
        qty = min(round_up(need, policy.case_pack), round_down(units, policy.case_pack))
        if qty > 0:
            offers.append((units, lane, qty))
    if not offers:
        return None
    _, lane, qty = min(offers, key=_preference)
    return lane, qty


def _preference(offer: tuple[int, Lane, int]) -> tuple[int, float, int, str]:
    units, lane, _ = offer
    return -units, lane.cost_per_unit, lane.transit_days, lane.from_node


def _rebalance(
    sku: str, short_node: str, lane: Lane, qty: int, day: int, covered: int, as_of: str
) -> RebalanceSignal:
    return RebalanceSignal(
        signal_id=signal_id("rebalance", short_node, sku, day, covered),
        sku=sku,
        from_node=lane.from_node,
        to_node=short_node,
        qty=qty,
        lane_days=lane.transit_days,
        lane_cost=lane.cost_per_unit,
        reason=REBALANCE_REASON,
        as_of=as_of,
    )


def _add(mark: ReviewMark, *, covered: int = 0, given: int = 0) -> ReviewMark:
    return ReviewMark(mark.day, mark.covered + covered, mark.given + given)
