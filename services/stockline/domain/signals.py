"""Reorder and rebalance signals (DESIGN.md section 5); pure decisions, no I/O.

One signal per crossing: a (node, sku) is *armed* until its position falls to or below its
reorder_point; that crossing fires one signal (a rebalance when a donor qualifies, else a
reorder) and disarms it; it re-arms only when position rises above reorder_point again.
The caller keeps `armed` per (node, sku), starting True, and stores what a decision returns.

`signal_id` is a UUID5 of the kind, node, sku and the SKU `version` the position was read
at, which names the crossing: deciding again on the same state (a replay) gives the same
id, so publish before storing `armed` and let consumers drop a repeated id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

from stockline.domain.network import Lane, Network
from stockline.domain.policy import Levels, Policy

REORDER_REASON: Final = "position_at_or_below_reorder_point"
REBALANCE_REASON: Final = "donor_above_order_up_to"
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:stockline:signals")


@dataclass(frozen=True, slots=True)
class ReorderSignal:
    """A supplier order suggestion for `inventory.signals.reorder`."""

    signal_id: str
    node_id: str
    sku: str
    position: int
    reorder_point: int
    order_up_to: int
    suggested_qty: int
    reason: str
    as_of: str

    def payload(self) -> dict[str, object]:
        """The message value: exactly DESIGN.md's fields."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RebalanceSignal:
    """A transfer suggestion for `inventory.signals.rebalance`."""

    signal_id: str
    sku: str
    from_node: str
    to_node: str
    qty: int
    lane_days: int
    lane_cost: float
    reason: str
    as_of: str

    def payload(self) -> dict[str, object]:
        """The message value: exactly DESIGN.md's fields."""
        return asdict(self)


Signal = ReorderSignal | RebalanceSignal


def signal_id(kind: str, node_id: str, sku: str, version: int) -> str:
    """The deterministic id of the `kind` signal of the crossing seen at `version`."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\x1f{node_id}\x1f{sku}\x1f{version}"))


def suggested_qty(position: int, levels: Levels, policy: Policy) -> int:
    """What to order: order_up_to - position rounded UP to the case pack, then raised to the
    MOQ rounded UP to the case pack: max(⌈gap/cp⌉·cp, ⌈moq/cp⌉·cp), gap floored at 0.
    Always a positive multiple of the case pack."""
    gap = max(0, levels.order_up_to - position)
    return max(round_up(gap, policy.case_pack), round_up(policy.moq, policy.case_pack))


def reorder_decision(
    position: int,
    levels: Levels,
    policy: Policy,
    armed: bool,
    *,
    node_id: str,
    sku: str,
    version: int,
    as_of: str,
) -> tuple[ReorderSignal | None, bool]:
    """(the signal of this crossing or None, armed after).

    Fires only when armed and position ≤ reorder_point; re-arms when position >
    reorder_point. `as_of` is the RFC 3339 time the position was read at.
    """
    at_or_below = position <= levels.reorder_point
    if not (armed and at_or_below):
        return None, not at_or_below
    signal = ReorderSignal(
        signal_id=signal_id("reorder", node_id, sku, version),
        node_id=node_id,
        sku=sku,
        position=position,
        reorder_point=levels.reorder_point,
        order_up_to=levels.order_up_to,
        suggested_qty=suggested_qty(position, levels, policy),
        reason=REORDER_REASON,
        as_of=as_of,
    )
    return signal, False


def spare(position: int, levels: Levels) -> int:
    """Units a node can give: position - max(order_up_to, reorder_point), at least 0.
    Giving at most this never takes it below its own reorder_point."""
    return max(0, position - max(levels.order_up_to, levels.reorder_point))


def rebalance_decision(
    sku: str,
    short_node: str,
    positions_by_node: Mapping[str, int],
    levels_by_node: Mapping[str, Levels],
    network: Network,
    supplier_lead_time_days: float,
    *,
    version: int,
    as_of: str,
) -> RebalanceSignal | None:
    """A transfer to `short_node` from the best donor, or None when no donor qualifies.

    need = order_up_to - position of `short_node` (None when ≤ 0). A donor is another node
    with levels, spare units (see `spare`), and a direct lane to `short_node` whose
    transit_days < supplier_lead_time_days; qty = min(spare, need) rounded DOWN to the
    short node's case pack must be > 0. The donor with the most spare wins; ties go to the
    cheaper lane, then the faster, then the smaller node id. Only direct lanes count.
    """
    need = levels_by_node[short_node].order_up_to - positions_by_node[short_node]
    case_pack = network.policy_for(sku, short_node).case_pack
    offers: list[tuple[int, int, Lane]] = []
    for donor, position in positions_by_node.items():
        lane = _lane(network, donor, short_node, supplier_lead_time_days)
        if lane is None or donor not in levels_by_node:
            continue
        units = spare(position, levels_by_node[donor])
        qty = round_down(min(units, need), case_pack)
        if qty > 0:
            offers.append((units, qty, lane))
    if not offers:
        return None
    _, qty, lane = min(offers, key=_preference)
    return RebalanceSignal(
        signal_id=signal_id("rebalance", short_node, sku, version),
        sku=sku,
        from_node=lane.from_node,
        to_node=short_node,
        qty=qty,
        lane_days=lane.transit_days,
        lane_cost=lane.cost_per_unit,
        reason=REBALANCE_REASON,
        as_of=as_of,
    )


def decide(
    sku: str,
    node_id: str,
    positions_by_node: Mapping[str, int],
    levels_by_node: Mapping[str, Levels],
    network: Network,
    armed: bool,
    *,
    version: int,
    as_of: str,
) -> tuple[Signal | None, bool]:
    """The signal of `node_id`'s crossing, if any, and its armed state after.

    A crossing is a rebalance when a donor qualifies (see `rebalance_decision`, with the
    node's supplier lead time), else a reorder; either way exactly one signal per crossing.
    """
    policy = network.policy_for(sku, node_id)
    position, levels = positions_by_node[node_id], levels_by_node[node_id]
    reorder, armed_after = reorder_decision(
        position, levels, policy, armed, node_id=node_id, sku=sku, version=version, as_of=as_of
    )
    if reorder is None:
        return None, armed_after
    lead_time = policy.supplier_lead_time_days
    rebalance = rebalance_decision(
        sku,
        node_id,
        positions_by_node,
        levels_by_node,
        network,
        lead_time,
        version=version,
        as_of=as_of,
    )
    return rebalance or reorder, armed_after


def round_up(qty: int, case_pack: int) -> int:
    """The smallest multiple of case_pack ≥ qty."""
    return -(-qty // case_pack) * case_pack


def round_down(qty: int, case_pack: int) -> int:
    """The largest multiple of case_pack ≤ qty (0 for qty < case_pack)."""
    return max(0, qty // case_pack * case_pack)


def _preference(offer: tuple[int, int, Lane]) -> tuple[int, float, int, str]:
    units, _, lane = offer
    return -units, lane.cost_per_unit, lane.transit_days, lane.from_node


def _lane(network: Network, donor: str, short_node: str, lead_time_days: float) -> Lane | None:
    lane = network.lane(donor, short_node)
    return lane if lane is not None and lane.transit_days < lead_time_days else None
