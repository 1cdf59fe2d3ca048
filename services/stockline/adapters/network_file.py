"""The network file (YAML): nodes, lanes, SKU classes and policies, read once at start.

`load_network(path)` returns a `stockline.domain.network.Network` or raises
`NetworkFileError` listing every problem as `line N, <field>: <message>`, with N the line of
the YAML key (or list item) at fault. The format is documented in deploy/network/README.md.

Policy overrides name only what they change: an sku override is merged onto its class
default, an (sku, node) override onto the sku's policy. Naming one of a pair of
alternatives (safety_stock / service_level, cover_days / order_up_to_extra) drops the
inherited other; changing `kind` drops the inherited fields of the other kind.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stockline.contracts.events import CODE_PATTERN
from stockline.domain import network as domain
from stockline.domain.policy import DynamicPolicy, Policy, StaticPolicy

Loc = tuple[int | str, ...]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
ClassName = Literal["A", "B", "C"]
Units = Annotated[int, Field(ge=0, le=10**9)]
Positive = Annotated[int, Field(ge=1, le=10**6)]
LeadDays = Annotated[int, Field(ge=1, le=365)]
ServiceLevel = Annotated[float, Field(ge=0.5, lt=1)]
CoverDays = Annotated[float, Field(gt=0, le=365)]
DailyUnits = Annotated[float, Field(ge=0, le=10**6, allow_inf_nan=False)]
_ALTERNATIVES = {
    "safety_stock": "service_level",
    "service_level": "safety_stock",
    "cover_days": "order_up_to_extra",
    "order_up_to_extra": "cover_days",
}
_KIND_FIELDS = {
    "static": {"reorder_point", "order_up_to", "safety_stock"},
    "dynamic": {
        "service_level",
        "safety_stock",
        "cover_days",
        "order_up_to_extra",
        "initial_daily_demand",
    },
}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NodeEntry(_Entry):
    id: Code
    kind: Literal["dc", "mfc", "store", "3pl"]
    region: Annotated[str, Field(min_length=1, max_length=64)]
    channels: list[Code] = []


class LaneEntry(_Entry):
    from_node: Code = Field(alias="from")
    to: Code
    transit_days: Annotated[int, Field(ge=0, le=365)]
    cost_per_unit: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class StaticEntry(_Entry):
    kind: Literal["static"]
    reorder_point: Units
    order_up_to: Units
    safety_stock: Units = 0
    supplier_lead_time_days: LeadDays
    case_pack: Positive = 1
    moq: Positive = 1
    buffer: Units = 0

    @field_validator("order_up_to")
    @classmethod
    def _ordered(cls, order_up_to: int, info: ValidationInfo) -> int:
        if order_up_to < info.data.get("reorder_point", 0):
            raise ValueError("order_up_to must be >= reorder_point")
        return order_up_to


class DynamicEntry(_Entry):
    kind: Literal["dynamic"]
    service_level: ServiceLevel | None = None
    safety_stock: Units | None = None
    cover_days: CoverDays | None = None
    order_up_to_extra: Units | None = None
    supplier_lead_time_days: LeadDays
    case_pack: Positive = 1
    moq: Positive = 1
    buffer: Units = 0
    initial_daily_demand: DailyUnits = 0.0

    @model_validator(mode="after")
    def _one_of_each(self) -> DynamicEntry:
        if (self.service_level is None) == (self.safety_stock is None):
            raise ValueError("give exactly one of service_level and safety_stock")
        if (self.cover_days is None) == (self.order_up_to_extra is None):
            raise ValueError("give exactly one of cover_days and order_up_to_extra")
        return self


PolicyEntry = Annotated[StaticEntry | DynamicEntry, Field(discriminator="kind")]
_POLICY: TypeAdapter[StaticEntry | DynamicEntry] = TypeAdapter(PolicyEntry)


class NodePatch(_Entry):
    """An override: any policy field, each optional; checked again once merged."""

    kind: Literal["static", "dynamic"] | None = None
    reorder_point: Units | None = None
    order_up_to: Units | None = None
    service_level: ServiceLevel | None = None
    safety_stock: Units | None = None
    cover_days: CoverDays | None = None
    order_up_to_extra: Units | None = None
    supplier_lead_time_days: LeadDays | None = None
    case_pack: Positive | None = None
    moq: Positive | None = None
    buffer: Units | None = None
    initial_daily_demand: DailyUnits | None = None


class SkuPatch(NodePatch):
    nodes: dict[Code, NodePatch] = {}


class Defaults(_Entry):
    A: PolicyEntry
    B: PolicyEntry
    C: PolicyEntry


class PoliciesEntry(_Entry):
    defaults: Defaults
    overrides: dict[Code, SkuPatch] = {}


class ClassesEntry(_Entry):
    default: ClassName
    skus: dict[ClassName, list[Code]] = {}
    prefixes: dict[Annotated[str, Field(min_length=1, max_length=64)], ClassName] = {}


class NetworkEntry(_Entry):
    nodes: Annotated[list[NodeEntry], Field(min_length=1)]
    lanes: list[LaneEntry] = []
    classes: ClassesEntry
    policies: PoliciesEntry


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class NetworkFileError(ValueError):
    """A network file that cannot be used; `problems` lists each with its line and field."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid network file {path}:\n{listed}")


def load_network(path: str | Path) -> domain.Network:
    """Read, validate and build the network; NetworkFileError (a ValueError) when the file
    is not valid YAML, breaks a rule, or names a node that does not exist. OSError when the
    file cannot be read."""
    name = str(path)
    data, root = _read_yaml(Path(path).read_text(encoding="utf-8"), name)
    try:
        entry = NetworkEntry.model_validate(data)
    except ValidationError as error:
        raise NetworkFileError(name, _from_pydantic(root, (), error)) from None
    _raise_any(name, root, _reference_problems(entry))
    classes = _classes(entry.classes)
    policies, problems = _policies(entry.policies, classes, root)
    if problems:
        raise NetworkFileError(name, problems)
    return domain.Network(
        nodes=tuple(_node(n) for n in entry.nodes),
        lanes=tuple(_lane(lane) for lane in entry.lanes),
        classes=classes,
        policies=policies,
    )


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in seen and key.value != "<<":
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key.value!r}", key.start_mark
                )
            seen.add(key.value)
        return super().construct_mapping(node, deep)


def _read_yaml(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (which keeps every line)."""
    loader = _LineLoader(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root else None), root
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise NetworkFileError(name, [Problem(line, "(yaml)", str(error.problem))]) from None
    finally:
        loader.dispose()


def _locate(root: yaml.Node | None, loc: Loc) -> tuple[int, str]:
    """The line and dotted field name of `loc`; parts absent from the YAML (union tags, a
    missing field) are skipped, except a missing last part, which names the field."""
    line, node, names = 1, root, list[int | str]()
    for i, part in enumerate(loc):
        found = _child(node, part)
        if found is not None:
            line, node = found
            names.append(part)
        elif i == len(loc) - 1 and part not in ("[key]", *_KIND_FIELDS):
            names.append(part)
    return line, _dotted(names)


def _child(node: yaml.Node | None, part: int | str) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item.start_mark.line + 1, item
    return None


def _dotted(names: list[int | str]) -> str:
    text = "".join(f"[{n}]" if isinstance(n, int) else f".{n}" for n in names)
    return text.lstrip(".") or "(document)"


def _from_pydantic(root: yaml.Node | None, prefix: Loc, error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        loc = prefix + tuple(detail["loc"])
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("kind",)
        kind = next((part for part in loc if part in _KIND_FIELDS), None)
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden" and kind is not None:
            message = f"not a field of a {kind} policy"
        problems.append(Problem(*_locate(root, loc), message))
    return problems


def _raise_any(name: str, root: yaml.Node | None, found: Iterator[tuple[Loc, str]]) -> None:
    problems = [Problem(*_locate(root, loc), message) for loc, message in found]
    if problems:
        raise NetworkFileError(name, problems)


def _reference_problems(entry: NetworkEntry) -> Iterator[tuple[Loc, str]]:
    first: dict[str, int] = {}
    for i, node in enumerate(entry.nodes):
        if node.id in first:
            yield (
                ("nodes", i, "id"),
                f"duplicate node id {node.id!r} (also nodes[{first[node.id]}])",
            )
        first.setdefault(node.id, i)
    yield from _lane_problems(entry.lanes, first.keys())
    for sku, patch in entry.policies.overrides.items():
        for node_id in patch.nodes:
            if node_id not in first:
                yield ("policies", "overrides", sku, "nodes", node_id), f"unknown node {node_id!r}"
    yield from _class_problems(entry.classes)


def _lane_problems(lanes: list[LaneEntry], known: Collection[str]) -> Iterator[tuple[Loc, str]]:
    seen: set[tuple[str, str]] = set()
    for i, lane in enumerate(lanes):
        for key, node_id in (("from", lane.from_node), ("to", lane.to)):
            if node_id not in known:
                yield ("lanes", i, key), f"unknown node {node_id!r}"
        if lane.from_node == lane.to:
            yield ("lanes", i, "to"), "a lane must join two different nodes"
        if (lane.from_node, lane.to) in seen:
            yield ("lanes", i), f"a second lane {lane.from_node} -> {lane.to}"
        seen.add((lane.from_node, lane.to))


def _class_problems(classes: ClassesEntry) -> Iterator[tuple[Loc, str]]:
    seen: dict[str, str] = {}
    for name, skus in classes.skus.items():
        for i, sku in enumerate(skus):
            if sku in seen:
                yield ("classes", "skus", name, i), f"{sku!r} is already listed in {seen[sku]}"
            seen.setdefault(sku, name)


def _classes(entry: ClassesEntry) -> domain.SkuClasses:
    explicit = {sku: domain.SkuClass(name) for name, skus in entry.skus.items() for sku in skus}
    prefixes = {prefix: domain.SkuClass(name) for prefix, name in entry.prefixes.items()}
    return domain.SkuClasses(domain.SkuClass(entry.default), explicit, prefixes)


def _policies(
    entry: PoliciesEntry, classes: domain.SkuClasses, root: yaml.Node | None
) -> tuple[domain.Policies, list[Problem]]:
    defaults = {domain.SkuClass(c): getattr(entry.defaults, c) for c in ("A", "B", "C")}
    by_sku: dict[str, StaticEntry | DynamicEntry] = {}
    by_sku_node: dict[tuple[str, str], StaticEntry | DynamicEntry] = {}
    problems: list[Problem] = []
    for sku, patch in entry.overrides.items():
        loc: Loc = ("policies", "overrides", sku)
        sku_entry = _merged(defaults[classes.class_of(sku)], patch, root, loc, problems)
        by_sku[sku] = sku_entry
        for node_id, node_patch in patch.nodes.items():
            node_loc = (*loc, "nodes", node_id)
            by_sku_node[sku, node_id] = _merged(sku_entry, node_patch, root, node_loc, problems)
    policies = domain.Policies(
        defaults={c: _policy(e) for c, e in defaults.items()},
        by_sku={k: _policy(e) for k, e in by_sku.items()},
        by_sku_node={k: _policy(e) for k, e in by_sku_node.items()},
    )
    return policies, problems


def _merged(
    base: StaticEntry | DynamicEntry,
    patch: NodePatch,
    root: yaml.Node | None,
    loc: Loc,
    problems: list[Problem],
) -> StaticEntry | DynamicEntry:
    """`patch` over `base` (rules in the module docstring); `base` again, with the problems
    recorded, when the merged policy breaks a rule."""
    try:
        return _POLICY.validate_python(_merge(base.model_dump(), patch))
    except ValidationError as error:
        problems.extend(_from_pydantic(root, loc, error))
        return base


def _merge(base: dict[str, Any], patch: NodePatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True, exclude={"nodes"})
    merged = {k: v for k, v in base.items() if v is not None}
    if changes.get("kind", base["kind"]) != base["kind"]:
        merged = {k: v for k, v in merged.items() if k not in _KIND_FIELDS[base["kind"]]}
    for name in changes:
        merged.pop(_ALTERNATIVES.get(name, ""), None)
    merged.update(changes)
    return merged


def _policy(entry: StaticEntry | DynamicEntry) -> Policy:
    fields = entry.model_dump(exclude={"kind"})
    return StaticPolicy(**fields) if entry.kind == "static" else DynamicPolicy(**fields)


def _node(entry: NodeEntry) -> domain.Node:
    kind = domain.NodeKind(entry.kind)
    return domain.Node(entry.id, kind, entry.region, frozenset(entry.channels))


def _lane(entry: LaneEntry) -> domain.Lane:
    return domain.Lane(entry.from_node, entry.to, entry.transit_days, entry.cost_per_unit)
