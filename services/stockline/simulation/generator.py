"""Domain events of a simulated WMS/OMS, deterministic for a given seed, tag and signals.

Per simulated day (`Simulator.day`): the planners act on the signals given (closed_loop);
then hour by hour customers ask for units (a Poisson stream shaped by the model's daily and
weekly profiles; SKU by Zipf weight; region by share; channel by mix). A request is promised
at the first candidate node (nearest first, equal distances in random order) whose ATP in
the simulator's own book covers it: a walk-in sale is picked at once; for an order the
storefront first places a hold (`hold_placed`, expiring `HOLD_TTL_US` later), and when the
customer completes the checkout (`CHECKOUT_MIN_US` to `CHECKOUT_MAX_US` later) the order is
placed with the hold's reservation_id (the commit) and, 1 to 20 hours later, picked (or
cancelled: by the customer, or when shrink left too little on the shelf). An abandoned
checkout (`SimConfig.abandon_rate`) ends the hold instead: released by the storefront
(`ABANDON_RELEASED`) or left to expire. Damaged and found adjustments happen during the
day, supply arrives when due, and at 23:59 a few (node, sku) are cycle counted, sometimes
short (shrink).

Expiry is the storefront's own job here: the simulator publishes `hold_released` (reason
expired) at a left hold's expires_at, as stockline's API does for holds placed through it
in production (DESIGN.md section 6); no stockline process expires the simulator's holds.
No hold is ever extended: every checkout ends well within the TTL.

Every event applies to the book as it is emitted, with a strictly increasing occurred_at.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from stockline.contracts.signals import ReorderRecord, SignalRecord
from stockline.domain.events import (
    Adjustment,
    AdjustmentReason,
    CycleCount,
    HoldPlaced,
    HoldReleased,
    HoldReleaseReason,
    InboundExpected,
    InventoryEvent,
    LostSale,
    OrderCancelled,
    OrderPlaced,
    Pick,
    Receipt,
    TransferReceived,
)
from stockline.domain.network import Network
from stockline.domain.policy import Policy
from stockline.simulation.closed_loop import SOURCE, Arrival, Ids, Reactor
from stockline.simulation.kpi import Tally
from stockline.simulation.model import (
    CHANNEL_MIX,
    DAY_US,
    HOUR_US,
    Clock,
    DemandModel,
    SkuSpec,
    build_catalogue,
)
from stockline.simulation.planner import InternalPlanner
from stockline.simulation.stock import Key, StockBook

OPENING_AT_US: Final = 6 * HOUR_US
"""Opening pipeline ASNs arrive at 06:00 of their day."""
COUNT_AT_US: Final = DAY_US - 60_000_000
"""Cycle counts happen at 23:59, after the day's moves."""
HOLD_TTL_US: Final = 15 * 60_000_000
"""How long the storefront's hold lasts unless committed or released: 15 minutes, the API's
default ttl_seconds (DESIGN.md section 6)."""
CHECKOUT_MIN_US: Final = 10_000_000
CHECKOUT_MAX_US: Final = 5 * 60_000_000
"""A checkout ends (the order placed, or the hold released) 10 s to 5 min after the hold,
uniformly: always within the TTL, so no hold needs extending."""
ABANDON_RELEASED: Final = 0.5
"""Share of abandoned checkouts whose hold the storefront releases when the customer
leaves; the others are left to expire."""


@dataclass(frozen=True)
class SimConfig:
    """The knobs of a run; with the same config (seed and tag included) and the same signals,
    `Simulator` emits the same events."""

    seed: int = 7
    tag: str = "sim"
    n_skus: int = 40
    zipf_exponent: float = 1.1
    daily_requests: float = 800.0
    cancel_rate: float = 0.05
    abandon_rate: float = 0.04
    """Share of order holds whose checkout the customer abandons (no order follows)."""
    counts_per_day: int = 8
    shrink_rate: float = 0.3
    adjustments_per_day: float = 6.0
    warmup_days: int = 0
    """Days the KPIs leave out of their headline figures (the opening settling)."""


@dataclass(frozen=True, slots=True)
class Request:
    region: str
    channel: str
    spec: SkuSpec
    qty: int


@dataclass(frozen=True, slots=True)
class Fulfil:
    order_id: str
    key: Key
    qty: int
    cancel: bool


@dataclass(frozen=True, slots=True)
class Checkout:
    """How an order's hold ends: committed by the order (`end` None), or abandoned and
    released or expired (`end` the reason)."""

    order_id: str
    key: Key
    qty: int
    end: HoldReleaseReason | None


def reservation_of(order_id: str) -> str:
    """The reservation id of an order's hold: derived from the order id, so deterministic."""
    return f"RSV-{order_id}"


Action = Request | Fulfil | Arrival | Checkout | Key


@dataclass(frozen=True, slots=True)
class ActedReorder:
    """A reorder signal acted on at the start of simulated `day`, with the position its
    (node, sku) had in the simulator's book before that day's reactions."""

    day: int
    signal: ReorderRecord
    book_position: int


@dataclass
class Simulator:
    """The WMS/OMS stand-in. Call `opening()` once, then `day(0, signals)`, `day(1, ...)`,
    ... in order; `book` is its own stock, `tally` what the KPIs are computed from.
    Not thread-safe; one simulator per run."""

    network: Network
    config: SimConfig
    clock: Clock
    rng: random.Random = field(init=False)
    demand: DemandModel = field(init=False)
    planner: InternalPlanner = field(init=False)
    book: StockBook = field(default_factory=StockBook)
    tally: Tally = field(default_factory=Tally)
    reorders: list[ActedReorder] = field(default_factory=list)
    """Every reorder given to `reactions`, in the order given (a run's check on its loop)."""
    _agenda: list[tuple[int, int, Action]] = field(default_factory=list)
    _seq: int = 0
    _last_us: int = -1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)
        catalogue = build_catalogue(
            self.network, self.config.n_skus, self.config.zipf_exponent, self.config.tag
        )
        self.demand = DemandModel(self.network, tuple(catalogue), self.config.daily_requests)
        self.planner = InternalPlanner(self.demand)
        self.ids = Ids(self.config.tag)
        self.reactor = Reactor(self.network, self.ids)
        self.keys = [(n.node_id, s.sku) for s in catalogue for n in self.network.nodes]
        self._kind = {n.node_id: n.kind.value for n in self.network.nodes}
        self._regions = list(self.demand.region_share.items())
        self.tally.warmup_days = self.config.warmup_days
        for spec in catalogue:
            for node_id, lv in self.planner.levels_of(spec).items():
                self.book.safety_stock[(node_id, spec.sku)] = lv.safety_stock
                self.book.buffer[(node_id, spec.sku)] = self._policy(spec, node_id).buffer

    def opening(self) -> list[InventoryEvent]:
        """The network as if it had run on its policy for a while, at simulated time 0: per
        (node, sku) a receipt of opening stock and an open pipeline of ASNs (see
        `opening_plan`), each ASN's receipt scheduled for its arrival day."""
        events = []
        for spec in self.demand.catalogue:
            for node in self.network.nodes:
                on_hand, pipeline = self.opening_plan(node.node_id, spec)
                key = (node.node_id, spec.sku)
                if on_hand > 0:
                    receipt = Receipt(self.ids.next("sim"), 0, SOURCE, *key, on_hand)
                    events.append(self._emit(receipt))
                for at_us, qty in pipeline:
                    events.append(self._emit(self._open_asn(key, qty, at_us)))
        return events

    def opening_plan(self, node_id: str, spec: SkuSpec) -> tuple[int, list[tuple[int, int]]]:
        """(opening on_hand, [(arrival time, qty) of each open ASN]) of a (node, sku).

        Position starts halfway between reorder point and order-up-to (levels from the
        expected demand m), as it averages under the policy. The pipeline holds what
        arrives over one supplier lead time L (m·L units, at most that position), in ASNs
        of about one order each (order-up-to - reorder point, at least a case pack and the
        MOQ), spread evenly over the L days; on_hand is the rest of the position."""
        levels = self.planner.levels_of(spec)[node_id]
        policy = self._policy(spec, node_id)
        lead = policy.supplier_lead_time_days
        position = math.ceil((levels.reorder_point + levels.order_up_to) / 2)
        total = min(round(self.demand.expected_daily(node_id, spec) * lead), position)
        order = max(levels.order_up_to - levels.reorder_point, policy.case_pack, policy.moq)
        count = min(lead, max(1, round(total / order))) if total > 0 else 0
        pipeline = []
        for i in range(count):
            qty = total * (i + 1) // count - total * i // count
            day = min(lead, max(1, round((i + 0.5) * lead / count)))
            pipeline.append((day * DAY_US + OPENING_AT_US, qty))
        return position - total, [(at, qty) for at, qty in pipeline if qty > 0]

    def _open_asn(self, key: Key, qty: int, at_us: int) -> InboundExpected:
        asn_id = self.ids.next("ASN")
        receipt = Receipt(self.ids.next("sim"), at_us, SOURCE, *key, qty, asn_id)
        self._schedule(at_us, Arrival(at_us, receipt))
        return InboundExpected(self.ids.next("sim"), 0, SOURCE, *key, qty, asn_id)

    def _policy(self, spec: SkuSpec, node_id: str) -> Policy:
        return self.network.policy_for(spec.sku, node_id)

    def day(
        self, day: int, signals: Sequence[tuple[str, SignalRecord]] = ()
    ) -> Iterator[InventoryEvent]:
        """The events of simulated `day` (0-based): `reactions(day, signals)`, then
        `trading(day)`. Closes the day's KPI picture when exhausted."""
        yield from self.reactions(day, signals)
        yield from self.trading(day)

    def reactions(
        self, day: int, signals: Sequence[tuple[str, SignalRecord]] = ()
    ) -> list[InventoryEvent]:
        """The planners' acts on `signals` (kind, record) at the start of simulated `day`:
        the ASNs placed and the transfers shipped. A closed loop against workers publishes
        these and waits until they are applied before it publishes `trading(day)`, so no
        review of the day sees its demand without its supply."""
        start = day * DAY_US
        for _, signal in signals:
            if isinstance(signal, ReorderRecord):
                position = self.book.position((signal.node_id, signal.sku))
                self.reorders.append(ActedReorder(day, signal, position))
        events: list[InventoryEvent] = []
        for kind, signal in sorted(signals, key=lambda s: (s[0], s[1].signal_id)):
            events.extend(self._react(kind, signal, start))
        return events

    def trading(self, day: int) -> Iterator[InventoryEvent]:
        """The rest of simulated `day`: customers, adjustments and supply due hour by hour,
        then the cycle counts. Closes the day's KPI picture when exhausted."""
        for hour in range(24):
            yield from self._hour(day, hour)
        yield from self._counts(day * DAY_US + COUNT_AT_US)
        self._close_day()

    def _react(self, kind: str, signal: SignalRecord, now_us: int) -> Iterator[InventoryEvent]:
        reaction = self.reactor.react(signal, now_us, self.book)
        if reaction is None:
            self.tally.signals_ignored += 1
            return
        self.tally.asns += kind == "reorder"
        self.tally.transfers += kind == "rebalance"
        yield self._emit(reaction.now)
        self._schedule(reaction.later.at_us, reaction.later)

    def _hour(self, day: int, hour: int) -> Iterator[InventoryEvent]:
        """The hour's requests and adjustments, drawn first, then everything due in the
        hour in time order, including what the hour itself schedules (a checkout)."""
        t0 = day * DAY_US + hour * HOUR_US
        for at in self._arrivals(t0, self.demand.rate_per_hour(day, hour)):
            self._schedule(at, self._request())
        for at in self._arrivals(t0, self.config.adjustments_per_day / 24):
            self._schedule(at, self.rng.choice(self.keys))
        while self._agenda and self._agenda[0][0] < t0 + HOUR_US:
            at, _, action = heapq.heappop(self._agenda)
            yield from self._run(at, action)

    def _arrivals(self, t0: int, rate: float) -> list[int]:
        """Times of a Poisson stream of `rate` per hour within the hour starting at t0."""
        times, t = [], self.rng.expovariate(rate) if rate > 0 else 1.0
        while t < 1.0:
            times.append(t0 + int(t * HOUR_US))
            t += self.rng.expovariate(rate)
        return times

    def _request(self) -> Request:
        region = self.rng.choices([r for r, _ in self._regions], [w for _, w in self._regions])[0]
        channel = self.rng.choices([c for c, _ in CHANNEL_MIX], [w for _, w in CHANNEL_MIX])[0]
        spec = self.rng.choices(self.demand.catalogue, [s.weight for s in self.demand.catalogue])[0]
        mean_extra = self.demand.mean_units(spec.sku_class) - 1
        # ⌊Exp(rate)⌋ is geometric with mean 1 / (e^rate - 1): this rate gives mean_extra
        rate = math.log1p(1 / mean_extra) if mean_extra > 0 else 0.0
        extra = int(self.rng.expovariate(rate)) if mean_extra > 0 else 0
        return Request(region, channel, spec, 1 + extra)

    def _run(self, at: int, action: Action) -> Iterator[InventoryEvent]:
        if isinstance(action, Request):
            yield from self._promise(at, action)
        elif isinstance(action, Checkout):
            yield self._checkout(at, action)
        elif isinstance(action, Fulfil):
            yield self._fulfil(at, action)
        elif isinstance(action, Arrival):
            yield self._arrive(action)
        else:
            yield from self._adjust(at, action)

    def _promise(self, at: int, request: Request) -> Iterator[InventoryEvent]:
        route = self.demand.route(request.region, request.channel)
        order = sorted(
            range(len(route.node_ids)), key=lambda i: (route.distances[i], self.rng.random())
        )
        sku, qty = request.spec.sku, request.qty
        for i in order:
            node_id = route.node_ids[i]
            if self.book.atp((node_id, sku)) >= qty:
                self.tally.request(qty, True, route.distances[i])
                yield self._place(at, request, node_id)
                return
        self.tally.request(qty, False)
        if order:  # the node it would have been served from records the refused demand
            self.tally.lost_sales += 1
            first = route.node_ids[order[0]]
            yield self._emit(LostSale(self.ids.next("sim"), at, SOURCE, first, sku, qty))

    def _place(self, at: int, request: Request, node_id: str) -> InventoryEvent:
        sku, qty = request.spec.sku, request.qty
        if request.channel == "walk-in":
            self.tally.shipped_units[self._kind[node_id]] += qty
            return self._emit(Pick(self.ids.next("sim"), at, SOURCE, node_id, sku, qty))
        return self._hold(at, (node_id, sku), qty)

    def _hold(self, at: int, key: Key, qty: int) -> InventoryEvent:
        """The storefront's hold for an order, its checkout's end scheduled: the commit or
        release at the end of the checkout, or the expiry at expires_at."""
        order_id, expires = self.ids.next("SO"), at + HOLD_TTL_US
        end = None
        if self.rng.random() < self.config.abandon_rate:
            released = self.rng.random() < ABANDON_RELEASED
            end = HoldReleaseReason.RELEASED if released else HoldReleaseReason.EXPIRED
        ends = at + CHECKOUT_MIN_US + int(self.rng.random() * (CHECKOUT_MAX_US - CHECKOUT_MIN_US))
        checkout = Checkout(order_id, key, qty, end)
        self._schedule(expires if end is HoldReleaseReason.EXPIRED else ends, checkout)
        self.tally.holds_placed += 1
        rid = reservation_of(order_id)
        return self._emit(HoldPlaced(self.ids.next("sim"), at, SOURCE, *key, qty, rid, expires))

    def _checkout(self, at: int, checkout: Checkout) -> InventoryEvent:
        """The end of a hold: the order placed with its reservation_id (the commit), its
        pick or cancellation scheduled 1 to 20 hours later; or the hold released."""
        (node_id, sku), eid = checkout.key, self.ids.next("sim")
        rid = reservation_of(checkout.order_id)
        if checkout.end is not None:
            if checkout.end is HoldReleaseReason.EXPIRED:
                self.tally.holds_expired += 1
            else:
                self.tally.holds_released += 1
            return self._emit(HoldReleased(eid, at, SOURCE, node_id, sku, rid, checkout.end))
        self.tally.holds_committed += 1
        due = at + HOUR_US + int(self.rng.random() * 19 * HOUR_US)
        cancel = self.rng.random() < self.config.cancel_rate
        self._schedule(due, Fulfil(checkout.order_id, checkout.key, checkout.qty, cancel))
        qty, order_id = checkout.qty, checkout.order_id
        return self._emit(OrderPlaced(eid, at, SOURCE, node_id, sku, qty, order_id, rid))

    def _fulfil(self, at: int, line: Fulfil) -> InventoryEvent:
        (node_id, sku), eid = line.key, self.ids.next("sim")
        if line.cancel or self.book.on_hand[line.key] < line.qty:
            return self._emit(OrderCancelled(eid, at, SOURCE, node_id, sku, line.order_id))
        self.tally.shipped_units[self._kind[node_id]] += line.qty
        return self._emit(Pick(eid, at, SOURCE, node_id, sku, line.qty, line.order_id))

    def _arrive(self, arrival: Arrival) -> InventoryEvent:
        event = arrival.event
        self.tally.asns_received += isinstance(event, Receipt)
        if isinstance(event, TransferReceived):
            lane = self.network.lane(event.from_node, event.node_id)
            self.tally.transfer_received(lane.transit_days if lane is not None else 0)
        return self._emit(event)

    def _adjust(self, at: int, key: Key) -> Iterator[InventoryEvent]:
        if self.rng.random() < 0.7:
            if self.book.free(key) < 1:
                return
            delta, reason = -1, AdjustmentReason.DAMAGED
        else:
            delta, reason = 1, AdjustmentReason.FOUND
        yield self._emit(Adjustment(self.ids.next("sim"), at, SOURCE, *key, delta, reason))

    def _counts(self, at: int) -> Iterator[InventoryEvent]:
        if not self.clock.counts_allowed(at):
            return
        for key in self.rng.sample(self.keys, min(self.config.counts_per_day, len(self.keys))):
            shrink = self.rng.randint(1, 3) if self.rng.random() < self.config.shrink_rate else 0
            counted = max(0, self.book.on_hand[key] - shrink)
            yield self._emit(CycleCount(self.ids.next("sim"), at, SOURCE, *key, counted))

    def _close_day(self) -> None:
        on_hand: dict[str, int] = dict.fromkeys(sorted(set(self._kind.values())), 0)
        for key in self.keys:
            on_hand[self._kind[key[0]]] += max(0, self.book.on_hand[key])
        self.tally.close_day([self.book.atp(k) for k in self.keys], on_hand)

    def _schedule(self, at: int, item: Action) -> None:
        heapq.heappush(self._agenda, (at, self._next_seq(), item))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _emit(self, event: InventoryEvent) -> InventoryEvent:
        """Stamp `event` (its occurred_us, and a hold's expires_us, are simulated time) and
        apply it to the book. expires_us moves by the offset occurred_us moved by, so it is
        the stamp of the simulated expiry whenever the clock maps time by an offset."""
        self._last_us = max(event.occurred_us, self._last_us + 1)
        occurred = self.clock.stamp(self._last_us)
        if isinstance(event, HoldPlaced):
            expires = event.expires_us + occurred - self._last_us
            stamped: InventoryEvent = replace(event, occurred_us=occurred, expires_us=expires)
        else:
            stamped = replace(event, occurred_us=occurred)
        self.book.apply(stamped)
        return stamped
