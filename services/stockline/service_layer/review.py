"""The daily review without events (DESIGN.md section 5): every (node, sku) with a policy
is reviewed at least once per review day, even when no event touched it.

`DailyReview.review(skus, day, as_of)` reads each SKU's snapshot from the store, plans it on
`day` (or its event clock's day when that is later), publishes the signals and then stores
the review marks, as a batch does. Reviewing again on the same day emits only what the
day's earlier signals do not cover, so a repeated sweep (a crash, a second worker briefly
owning a partition during a rebalance) emits nothing twice. The caller must not review a
SKU while a batch is planning it (the worker runs both under one lock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from stockline.service_layer.planning import Planner, SkuPlan
from stockline.service_layer.ports import LedgerStore, Publisher
from stockline.service_layer.process_batch import publish_signals


@dataclass
class DailyReview:
    store: LedgerStore
    publisher: Publisher
    planner: Planner

    async def review(self, skus: Iterable[str], day: int, as_of: str) -> Counter[tuple[str, str]]:
        """Review `skus` on review `day`; returns the signals published by (kind, reason)."""
        plans: list[SkuPlan] = []
        for sku in skus:
            snapshot = await self.store.snapshot(sku)
            if snapshot is None:
                continue
            plan = self.planner.plan(snapshot, as_of, review_day=day)
            if plan.levels:
                plans.append(plan)
        counts = await publish_signals(self.publisher, plans)
        marks = [plan.plan_marks() for plan in plans]
        if marks:
            await self.store.record_progress({}, (), marks)
        return counts
