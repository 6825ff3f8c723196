"""Hypothesis strategies built from ev.energy's OpenAPI schemas, for tests/test_fuzz.py.

`SchemaStrategies` turns the spec's component schemas into strategies of JSON payloads that
validate against them; `near_valid` turns such a strategy into one of slightly broken payloads
(keys dropped, nulls, wrong types, unknown enum strings, extra fields).

hypothesis-jsonschema is not a dependency, so this is a small builder for the part of JSON
Schema the spec uses. A keyword it does not know raises NotImplementedError instead of being
ignored, so a spec change cannot silently weaken the fuzzing. Deliberate simplifications:

- `pattern` is matched in full (`re.fullmatch`, ASCII `\\d`): ids look like real ids, although
  JSON Schema patterns are unanchored.
- A `$ref` with sibling keywords uses the referenced schema alone (in this spec the siblings
  are `type` or an `anyOf` the reference already satisfies).
- `oneOf`: a value that also matches another branch (checked with jsonschema) is rejected,
  e.g. `[]` where the choice is "a list of URLs or a list of objects".
- Expandable sub-resources (a `$ref` branch of `oneOf`/`anyOf`, e.g. `trim`, `model`, `make`,
  `latest_status_log`) are expanded at most `depth` levels deep; past that only the other
  branches (a URL, null) are generated, or a required one is expanded once more.
- `dependentSchemas` is supported in the one shape the spec uses: "if P is not null, then
  Q... are required and not null".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
import copy
from datetime import UTC, date, datetime, timedelta, timezone
import functools
from pathlib import Path
import re
from typing import Any, Final

from hypothesis import (  # type: ignore[import-not-found, unused-ignore]
    HealthCheck,
    Phase,
    given,
    settings,
    strategies as st,
)
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
import yaml

from .openapi_spec import require_spec_path

type Schema = Mapping[str, Any]
type Strategy = st.SearchStrategy[Any]

API_ROOT: Final = "https://api.ev.energy/v2"
INT64: Final = (-(2**63), 2**63 - 1)

# Keywords that never constrain a value.
ANNOTATIONS: Final = frozenset(
    {
        "$comment",
        "default",
        "deprecated",
        "description",
        "example",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
KEYWORDS: Final = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "dependentSchemas",
        "enum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "nullable",
        "oneOf",
        "pattern",
        "properties",
        "required",
        "type",
    }
)
ALL_TYPES: Final = ("null", "boolean", "integer", "number", "string", "array", "object")
# Guards against a cycle of plain `$ref`s (expansions are bounded by the depth budget).
MAX_NESTING: Final = 60
MAX_STRING: Final = 40
_ANY: Final[Schema] = {}
_NOT_NULL: Final = {"not": {"type": "null"}}

_COLLECTIONS: Final = (
    "vehicles",
    "evses",
    "users",
    "tariffs",
    "vehicle_trims",
    "vehicle_models",
    "vehicle_makes",
    "evse_models",
    "charging_sub_sessions",
)


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec: dict[str, Any] = yaml.load(file, Loader=loader)  # noqa: S506 (a safe loader)
    return spec


def load_spec() -> dict[str, Any]:
    """The parsed spec, once per process; skips the test (fails under CI) without it."""
    return _load(require_spec_path())


def offsets() -> st.SearchStrategy[timezone]:
    """UTC offsets: common ones, the extremes (+14:00, -12:00) and any whole minute."""
    common = [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-12)),
    ]
    return st.sampled_from(common) | st.integers(-1439, 1439).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )


def _isoformat(value: datetime, zulu: bool, timespec: str) -> str:
    text = value.isoformat(timespec=timespec)
    return text.removesuffix("+00:00") + "Z" if zulu and text.endswith("+00:00") else text


def iso_datetimes(
    min_value: datetime = datetime(1900, 1, 1),
    max_value: datetime = datetime(2200, 1, 1),
) -> st.SearchStrategy[str]:
    """RFC 3339 date-times with an offset ("Z" or ±hh:mm), in local wall time [min, max].

    The bounds themselves come up often, with any offset: edges are where bugs live.
    """
    edges = st.builds(datetime.replace, st.sampled_from([min_value, max_value]), tzinfo=offsets())
    return st.builds(
        _isoformat,
        st.datetimes(min_value=min_value, max_value=max_value, timezones=offsets()) | edges,
        st.booleans(),
        st.sampled_from(["auto", "seconds", "milliseconds"]),
    )


_ID_PATTERN: Final = re.compile(r"([a-z_]*)\[A-Z\\d\]\{(\d+)\}")
_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def matching(pattern: str) -> st.SearchStrategy[str]:
    """Strings matching `pattern` in full; ids ("vhcl[A-Z\\d]{26}") the fast way."""
    if found := _ID_PATTERN.fullmatch(pattern):
        prefix, size = found.group(1), int(found.group(2))
        return st.text(_ID_ALPHABET, min_size=size, max_size=size).map(prefix.__add__)
    # ECMA-262 (JSON Schema) \d is ASCII-only, unlike Python's default.
    return st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True)


def uris() -> st.SearchStrategy[str]:
    """Absolute API URLs of resources, as the API gives unexpanded references."""
    return st.builds(
        "{}/{}/{}{}{}".format,
        st.just(API_ROOT),
        st.sampled_from(_COLLECTIONS),
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=4),
        st.text(_ID_ALPHABET, min_size=26, max_size=26),
        st.sampled_from(["", "/"]),
    )


def json_values(
    *, int_bounds: tuple[int | None, int | None] = (None, None), nan: bool = False
) -> Strategy:
    """Any JSON value (small): null, booleans, numbers, strings, lists and objects."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(*int_bounds)
        | st.floats(allow_nan=nan, allow_infinity=nan)
        | st.text(max_size=20)
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=10), children, max_size=3)
        ),
        max_leaves=8,
    )


def _dependent_rules(dependents: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Read `dependentSchemas` of the shape "if P is not null, Q... are required, not null"."""
    rules: dict[str, tuple[str, ...]] = {}
    for trigger, rule in dependents.items():
        then = rule.get("then", {})
        required = tuple(then.get("required", ()))
        if (
            set(rule) != {"if", "then"}
            or rule["if"] != {"properties": {trigger: _NOT_NULL}}
            or set(then) - {"required", "properties"}
            or set(then.get("properties", {})) - set(required)
            or any(value != _NOT_NULL for value in then.get("properties", {}).values())
        ):
            raise NotImplementedError(f"unsupported dependentSchemas rule for {trigger}: {rule}")
        rules[trigger] = required
    return rules


def _tighter(bound: int | None, limit: int | None, pick: Callable[[int, int], int]) -> int | None:
    if bound is None or limit is None:
        return limit if bound is None else bound
    return pick(bound, limit)


class SchemaStrategies:
    """Strategies of JSON payloads valid against the spec's component schemas."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        datetimes: st.SearchStrategy[str] | None = None,
        int_bounds: tuple[int | None, int | None] = (None, None),
        max_items: int = 3,
    ) -> None:
        """Build from `spec`; date-times, integer range and list sizes can be narrowed."""
        self._spec = spec
        self._datetimes = datetimes if datetimes is not None else iso_datetimes()
        self._int_bounds = int_bounds
        self._max_items = max_items
        self._overrides: dict[int, Strategy] = {}
        # Keyed by id() of schema objects that live as long as the spec (or self._merged).
        self._memo: dict[tuple[int, int, bool], Strategy | None] = {}
        self._merged: dict[int, dict[str, Any]] = {}
        self._validators: dict[int, Validator] = {}

    def resolve(self, pointer: str) -> Schema:
        """Return the schema a local JSON pointer ("#/components/schemas/Vehicle") names."""
        if not pointer.startswith("#/"):
            raise NotImplementedError(f"only local references are supported, not {pointer}")
        node: Any = self._spec
        for part in pointer[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if not isinstance(node, Mapping):
            raise TypeError(f"{pointer} is not a schema")
        return node

    def override(self, pointer: str, strategy: Strategy) -> None:
        """Generate the schema at `pointer` (e.g. one property) from `strategy` instead."""
        self._overrides[id(self.resolve(pointer))] = strategy
        self._memo.clear()

    def payloads(self, name: str, *, depth: int = 2) -> Strategy:
        """Payloads of component schema `name`, expanding sub-resources `depth` levels deep."""
        strategy = self._build(self.resolve(f"#/components/schemas/{name}"), depth)
        if strategy is None:
            raise NotImplementedError(f"{name} cannot be generated")
        return strategy

    def _build(
        self, schema: Schema, budget: int, *, nullable: bool = True, nesting: int = 0
    ) -> Strategy | None:
        """Return a strategy for `schema`, or None if none fits the expansion budget."""
        if nesting > MAX_NESTING:
            raise NotImplementedError("schemas nest too deeply (a $ref cycle?)")
        if (override := self._overrides.get(id(schema))) is not None:
            return override if nullable else override.filter(lambda value: value is not None)
        key = (id(schema), budget, nullable)
        if key not in self._memo:
            self._memo[key] = self._build_uncached(schema, budget, nullable, nesting)
        return self._memo[key]

    def _build_uncached(
        self, schema: Schema, budget: int, nullable: bool, nesting: int
    ) -> Strategy | None:
        if unknown := set(schema) - KEYWORDS - ANNOTATIONS - {k for k in schema if k[:2] == "x-"}:
            raise NotImplementedError(f"unsupported JSON Schema keywords {sorted(unknown)}")
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            return self._build(target, budget, nullable=nullable, nesting=nesting + 1)
        if "allOf" in schema:
            merged = self._merge(schema)
            return self._build(merged, budget, nullable=nullable, nesting=nesting + 1)
        if "oneOf" in schema or "anyOf" in schema:
            return self._choice(schema, budget, nullable, nesting)
        if "const" in schema:
            return st.just(schema["const"]) if nullable or schema["const"] is not None else None
        if "enum" in schema:
            values = [value for value in schema["enum"] if nullable or value is not None]
            return st.sampled_from(values) if values else None
        declared = schema.get("type", ALL_TYPES)
        types = [declared] if isinstance(declared, str) else list(declared)
        if schema.get("nullable") is True:
            types.append("null")
        options = [
            strategy
            for kind in dict.fromkeys(types)
            if nullable or kind != "null"
            if (strategy := self._typed(kind, schema, budget, nesting)) is not None
        ]
        return st.one_of(options) if options else None

    def _choice(self, schema: Schema, budget: int, nullable: bool, nesting: int) -> Strategy | None:
        branches: list[Schema] = schema.get("oneOf", []) + schema.get("anyOf", [])
        options: list[tuple[Schema, Strategy]] = []
        for branch in branches:
            # A referenced branch is an expanded sub-resource: it spends one level of budget.
            expansion = "$ref" in branch
            if expansion and budget <= 0:
                continue
            strategy = self._build(
                branch, budget - expansion, nullable=nullable, nesting=nesting + 1
            )
            if strategy is not None:
                options.append((branch, strategy))
        if "oneOf" in schema:
            # Exactly one branch may match (e.g. [] is both a list of URLs and of objects).
            options = [
                (branch, strategy.filter(functools.partial(self._only_match, branch, branches)))
                for branch, strategy in options
            ]
        return st.one_of([strategy for _, strategy in options]) if options else None

    def _only_match(self, branch: Schema, branches: list[Schema], value: Any) -> bool:
        return not any(
            self._validator(other).is_valid(value) for other in branches if other is not branch
        )

    def _validator(self, schema: Schema) -> Validator:
        if (validator := self._validators.get(id(schema))) is None:
            root = {**schema, "components": self._spec.get("components", {})}
            validator = self._validators[id(schema)] = Draft202012Validator(root)
        return validator

    def _typed(self, kind: str, schema: Schema, budget: int, nesting: int) -> Strategy | None:
        if kind == "array":
            items = self._build(schema.get("items", _ANY), budget, nesting=nesting + 1)
            min_size = schema.get("minItems", 0)
            if items is None:
                return st.just([]) if min_size == 0 else None
            max_size = max(min(schema.get("maxItems", self._max_items), self._max_items), min_size)
            return st.lists(items, min_size=min_size, max_size=max_size)
        if kind == "object":
            return self._object(schema, budget, nesting)
        return self._scalar(kind, schema)

    def _scalar(self, kind: str, schema: Schema) -> Strategy:
        if kind == "string":
            return self._string(schema)
        low, high = self._int_bounds
        integers = st.integers(
            min_value=_tighter(schema.get("minimum"), low, max),
            max_value=_tighter(schema.get("maximum"), high, min),
        )
        floats = st.floats(
            min_value=schema.get("minimum"),
            max_value=schema.get("maximum"),
            allow_nan=False,
            allow_infinity=False,
        )
        scalars = {
            "null": st.none(),
            "boolean": st.booleans(),
            "integer": integers,
            "number": integers | floats,
        }
        if kind not in scalars:
            raise NotImplementedError(f"unsupported type {kind}")
        return scalars[kind]

    def _string(self, schema: Schema) -> Strategy:
        if (pattern := schema.get("pattern")) is not None:
            return matching(pattern)
        formats: dict[str, Strategy] = {
            "date-time": self._datetimes,
            "date": st.dates().map(date.isoformat),
            "uri": uris(),
            "email": st.emails(),
            "uuid": st.uuids().map(str),
            "decimal": st.decimals(-(10**6), 10**6, places=4).map(str),
        }
        fmt = schema.get("format")
        if fmt in formats:
            return formats[fmt]
        if fmt not in {None, "html"}:
            raise NotImplementedError(f"unsupported string format {fmt}")
        max_size = min(schema.get("maxLength", MAX_STRING), MAX_STRING)
        return st.text(min_size=min(schema.get("minLength", 0), max_size), max_size=max_size)

    def _object(self, schema: Schema, budget: int, nesting: int) -> Strategy:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not properties and not required:
            if additional is False:
                return st.just({})
            values = (
                json_values(int_bounds=self._int_bounds)
                if additional is True
                else self._build(additional, budget, nesting=nesting + 1)
            )
            if values is None:
                return st.just({})
            return st.dictionaries(st.text(max_size=12), values, max_size=3)
        fixed: dict[str, Strategy] = {}
        for name in required:
            sub = properties.get(name, _ANY)
            # A required sub-resource is expanded even past the budget (once more).
            strategy = self._build(sub, budget, nesting=nesting + 1)
            if strategy is None:
                strategy = self._build(sub, budget + 1, nesting=nesting + 1)
            if strategy is None:
                raise NotImplementedError(f"required property {name} cannot be generated")
            fixed[name] = strategy
        optional = {
            name: strategy
            for name, sub in properties.items()
            if name not in fixed
            if (strategy := self._build(sub, budget, nesting=nesting + 1)) is not None
        }
        result: Strategy = st.fixed_dictionaries(fixed, optional=optional)
        if isinstance(additional, Mapping):
            extra = self._build(additional, budget, nesting=nesting + 1)
            if extra is not None:
                names = st.text(max_size=12).filter(lambda name: name not in properties)
                result = st.builds(
                    lambda known, more: {**more, **known},
                    result,
                    st.dictionaries(names, extra, max_size=2),
                )
        if dependents := schema.get("dependentSchemas"):
            rules = _dependent_rules(dependents)
            result = result.flatmap(
                functools.partial(
                    self._complete,
                    rules=rules,
                    properties=properties,
                    budget=budget,
                    nesting=nesting,
                )
            )
        low, high = schema.get("minProperties", 0), schema.get("maxProperties")
        if low or high is not None:
            result = result.filter(
                lambda value: low <= len(value) and (high is None or len(value) <= high)
            )
        return result

    def _complete(
        self,
        value: dict[str, Any],
        *,
        rules: Mapping[str, tuple[str, ...]],
        properties: Mapping[str, Schema],
        budget: int,
        nesting: int,
    ) -> Strategy:
        """Add the non-null properties that the present ones make required."""
        needed: set[str] = set()
        pending = [name for name in rules if value.get(name) is not None]
        while pending:
            for name in rules.get(pending.pop(), ()):
                if name not in needed:
                    needed.add(name)
                    pending.append(name)
        missing: dict[str, Strategy] = {}
        for name in sorted(needed):
            if value.get(name) is None:
                sub = properties.get(name, _ANY)
                strategy = self._build(sub, budget, nullable=False, nesting=nesting + 1)
                if strategy is None:
                    raise NotImplementedError(f"{name} cannot be generated without null")
                missing[name] = strategy
        return st.fixed_dictionaries(missing).map(lambda extra: {**value, **extra})

    def _flatten(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.resolve(schema["$ref"])
        return self._merge(schema) if "allOf" in schema else schema

    def _merge(self, schema: Schema) -> Schema:
        """Merge `allOf` parts: properties and required lists combine, other keywords agree."""
        if (cached := self._merged.get(id(schema))) is not None:
            return cached
        merged: dict[str, Any] = {
            key: value for key, value in schema.items() if key != "allOf" and key not in ANNOTATIONS
        }
        for part in schema["allOf"]:
            for key, value in self._flatten(part).items():
                if key in ANNOTATIONS or key[:2] == "x-":
                    continue
                if key == "properties":
                    known = merged.setdefault("properties", {})
                    for name, sub in value.items():
                        if name in known and known[name] is not sub:
                            raise NotImplementedError(f"allOf parts both define {name}")
                        known[name] = sub
                elif key == "required":
                    required = merged.setdefault("required", [])
                    required.extend(name for name in value if name not in required)
                elif key in merged and merged[key] != value:
                    raise NotImplementedError(f"allOf parts disagree on {key}")
                else:
                    merged[key] = value
        self._merged[id(schema)] = merged
        return merged


# --- Near-valid payloads -------------------------------------------------------------------

UNKNOWN_STRINGS: Final = st.sampled_from(
    ["", " ", "UNKNOWN", "unknown", "FUTURE_VALUE", "null", "None", "0", "true", "ACTIVE "]
) | st.text(max_size=16)
MUTATIONS: Final = ("drop", "null", "retype", "unknown_string", "extra")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _kind(value: Any) -> str:
    for kind, types in (
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("str", str),
        ("list", list),
        ("dict", dict),
    ):
        if isinstance(value, types):
            return kind
    return "null"


def _other_type(
    current: Any, values: Strategy, int_bounds: tuple[int | None, int | None]
) -> Strategy:
    """A value of another JSON type than `current` (often `current` converted)."""
    kinds: dict[str, Strategy] = {
        "bool": st.booleans(),
        # Mostly truthy: a 0 where a list belongs hides more bugs than it finds.
        "int": st.sampled_from([1, -1, 7, 2**31, 2**53 + 1]) | st.integers(*int_bounds),
        "float": st.sampled_from([0.5, -1.5, 1e300]) | st.floats(),
        "str": st.just(str(current)) | st.text(max_size=16),
        "list": st.just([current]) | st.lists(values, max_size=2),
        "dict": st.just({"value": current})
        | st.dictionaries(st.text(max_size=8), values, max_size=2),
    }
    kind = _kind(current)
    return st.one_of([strategy for name, strategy in kinds.items() if name != kind])


def _mutate(
    draw: st.DrawFn,
    payloads: Strategy,
    values: Strategy,
    int_bounds: tuple[int | None, int | None],
    max_mutations: int,
) -> Any:
    payload = copy.deepcopy(draw(payloads))
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = list(_paths(payload))
        # Break the payload as a whole (e.g. null instead of an object) only now and then.
        if len(paths) > 1 and draw(st.sampled_from([True] * 9 + [False])):
            paths = paths[1:]
        path = draw(st.sampled_from(paths))
        current = _get(payload, path)
        operation = draw(st.sampled_from(MUTATIONS))
        if operation == "drop" and path:
            parent = _get(payload, path[:-1])
            del parent[path[-1]]
            continue
        if operation == "extra" and isinstance(current, dict):
            name = draw(st.sampled_from(["new_field", "links", "id_v3"]) | st.text(max_size=12))
            current[name] = draw(values)
            continue
        if operation == "unknown_string":
            new = draw(UNKNOWN_STRINGS)
        elif operation == "retype":
            new = draw(_other_type(current, values, int_bounds))
        else:
            new = None
        if path:
            _get(payload, path[:-1])[path[-1]] = new
        else:
            payload = new
    return payload


_mutated = st.composite(_mutate)


def near_valid(
    payloads: Strategy,
    *,
    int_bounds: tuple[int | None, int | None] = (None, None),
    max_mutations: int = 4,
) -> Strategy:
    """Valid payloads with 1..max_mutations breakages anywhere in them (rarely the whole)."""
    values = json_values(int_bounds=int_bounds, nan=True)
    return _mutated(payloads, values, int_bounds, max_mutations)


# --- Running hypothesis ---------------------------------------------------------------------


def _settings(examples: int, *, generate_only: bool = False) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate] if generate_only else list(Phase),
        suppress_health_check=list(HealthCheck),
    )


def check_property[T](
    strategy: st.SearchStrategy[T], check: Callable[[T], None], *, examples: int
) -> None:
    """Run `check` on `examples` payloads; a failure is shrunk and reported by hypothesis.

    Deterministic (derandomized, no example database). The call form instead of decorators
    keeps the test functions plainly typed, even where hypothesis is not installed.
    """
    _settings(examples)(given(strategy)(check))()


def draw_examples[T](strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """Draw `count` payloads up front, deterministically, for tests that cannot use @given.

    phcc's async tests (the `hass` fixture, one event loop per test) cannot be wrapped by
    @given, so such a test draws its examples here and feeds them to Home Assistant one by
    one. Nothing is shrunk: a failing example is reported whole, with its index.
    """
    examples: list[T] = []

    def collect(example: T) -> None:
        examples.append(example)

    _settings(count, generate_only=True)(given(strategy)(collect))()
    return examples
