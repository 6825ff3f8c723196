"""Metadata checks in the spirit of hassfest and HACS: manifest, hacs.json, strings and icons."""

from __future__ import annotations

import ast
from collections.abc import Iterator
import importlib
import inspect
import json
from pathlib import Path
import re
from string import Formatter
from typing import Any, get_args, get_type_hints
from urllib.parse import urlparse

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant import const as ha_const
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.entity import EntityDescription
from homeassistant.loader import Manifest
from homeassistant.util.yaml import load_yaml_dict
from packaging.version import Version
import pytest

from custom_components.ev_energy import PLATFORMS, application_credentials
from custom_components.ev_energy.config_flow import OPTIONS_SCHEMA, EvEnergyFlowHandler

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / "ev_energy"
KEY_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
ICON_RE = re.compile(r"^mdi:[a-z0-9-]+$")
CODEOWNER_RE = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9_.-]+)?$")
# hassfest's SUPPORTED_IOT_CLASSES and the version strategies its verify_version accepts.
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
VERSION_STRATEGIES = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}
EXCEPTIONS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "UpdateFailed",
    "ConfigEntryAuthFailed",
    "ConfigEntryNotReady",
    "ConfigEntryError",
}
READ_ONLY_PLATFORMS = {Platform.SENSOR, Platform.BINARY_SENSOR, Platform.CALENDAR}
PLATFORM_MODULES = sorted(p for p in Platform if (COMPONENT / f"{p}.py").is_file())
# Abort reasons that config-flow helpers raise without naming them in our code.
IMPLIED_ABORTS = {
    "_abort_if_unique_id_configured": {"already_configured"},
    "async_set_unique_id": {"already_in_progress"},
    "async_update_reload_and_abort": {"reauth_successful", "reconfigure_successful"},
}


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} must hold a JSON object"
    return data


def strings() -> dict[str, Any]:
    return load(COMPONENT / "translations" / "en.json")


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(node, dict):
        yield path, node
        return
    for key, value in node.items():
        yield from leaves(value, f"{path}.{key}" if path else key)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field}


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def literals(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def calls(source: str) -> Iterator[tuple[ast.Call, dict[str, ast.expr]]]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            yield node, {kw.arg: kw.value for kw in node.keywords if kw.arg}


def test_manifest() -> None:
    manifest = load(COMPONENT / "manifest.json")
    assert manifest.get("domain") == COMPONENT.name, "domain must equal the directory name"
    assert isinstance(manifest.get("name"), str), "name is required"
    assert manifest["name"], "name must not be empty"
    owners = manifest.get("codeowners")
    assert isinstance(owners, list), "codeowners must be a list"
    assert owners, "codeowners must not be empty"
    assert all(CODEOWNER_RE.fullmatch(o) for o in owners), f"bad codeowners: {owners}"
    for key in ("documentation", "issue_tracker"):
        url = urlparse(str(manifest.get(key)))
        assert (url.scheme, bool(url.netloc)) == ("https", True), f"{key}: not an https URL"
    assert manifest.get("iot_class") in IOT_CLASSES, f"bad iot_class {manifest.get('iot_class')}"
    allowed_types = get_args(get_type_hints(Manifest)["integration_type"])
    assert manifest.get("integration_type") in allowed_types, "integration_type not allowed"
    assert manifest.get("config_flow") is True, "config_flow must be true"
    assert "application_credentials" in manifest.get("dependencies", []), "OAuth dependency"
    for key in ("requirements", "loggers"):
        value = manifest.get(key)
        assert isinstance(value, list), f"{key} must be a list"
        assert all(isinstance(v, str) for v in value), f"{key} must list strings"
    assert manifest["loggers"], "loggers must name the integration's loggers"
    version = manifest.get("version")
    assert isinstance(version, str), "custom integrations need a version"
    AwesomeVersion(version, ensure_strategy=VERSION_STRATEGIES)  # raises as in hassfest
    Version(version)
    rest = sorted(set(manifest) - {"domain", "name"})
    assert list(manifest) == ["domain", "name", *rest], "keys: domain, name, then sorted"


def test_hacs_json() -> None:
    hacs = load(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS, f"keys HACS does not know: {set(hacs) - HACS_KEYS}"
    assert isinstance(hacs.get("name"), str), "name is required"
    assert hacs["name"], "name must not be empty"
    minimum = Version(str(hacs.get("homeassistant")))
    assert minimum <= Version(ha_const.__version__), (
        f"hacs.json claims {minimum} but the tests run against {ha_const.__version__}"
    )


def test_translation_strings_and_keys() -> None:
    en = strings()
    for path, value in leaves(en):
        assert isinstance(value, str), f"{path}: must be a string"
        assert value.strip(), f"{path}: must not be empty"
        assert "[%key:" not in value, f"{path}: write the string out, no [%key:...%] reference"
    keys = [f"device.{key}" for key in en.get("device", {})]
    keys += [f"exceptions.{key}" for key in en.get("exceptions", {})]
    for platform, entities in en.get("entity", {}).items():
        assert platform in set(Platform), f"entity.{platform}: not a platform"
        for key, entry in entities.items():
            keys += [f"entity.{platform}.{key}"]
            keys += [f"entity.{platform}.{key}.state.{s}" for s in entry.get("state", {})]
    for key in keys:
        assert KEY_RE.fullmatch(key.rsplit(".", 1)[1]), f"{key}: invalid translation key"
    for key, entry in en.get("exceptions", {}).items():
        assert "message" in entry, f"exceptions.{key} needs a message"


def code_translation_refs() -> list[tuple[str, str, ast.Call]]:
    refs = []
    for file in sorted(COMPONENT.rglob("*.py")):
        for call, kwargs in calls(file.read_text(encoding="utf-8")):
            if "translation_key" not in kwargs:
                continue
            name, where = call_name(call), f"{file.relative_to(COMPONENT)}:{call.lineno}"
            for key in literals(kwargs["translation_key"]):
                if name in EXCEPTIONS:
                    assert "translation_domain" in kwargs, f"{where}: no translation_domain"
                    refs.append((where, f"exceptions.{key}.message", call))
                elif name == "DeviceInfo":
                    refs.append((where, f"device.{key}.name", call))
                elif name in {"async_create_issue", "_set_issue"}:
                    refs.append((where, f"issues.{key}.title", call))
                    refs.append((where, f"issues.{key}.description", call))
                elif name.endswith("Description") and file.stem in PLATFORM_MODULES:
                    refs.append((where, f"entity.{file.stem}.{key}.name", call))
                else:
                    pytest.fail(f"{where}: which section does {name}(translation_key) use?")
    return refs


def test_code_translation_keys_exist() -> None:
    en, refs = strings(), code_translation_refs()
    sections = {path.split(".")[0] for _, path, _ in refs}
    assert sections == {"device", "entity", "exceptions", "issues"}, f"the scan found {sections}"
    for where, path, call in refs:
        text = lookup(en, path)
        assert isinstance(text, str), f"{where}: {path} is missing from en.json"
        given = {kw.arg: kw.value for kw in call.keywords}.get("translation_placeholders")
        if path.startswith("exceptions.") and (given is None or isinstance(given, ast.Dict)):
            names = set() if given is None else {k for n in given.keys if n for k in literals(n)}
            assert placeholders(text) == names, f"{where}: {path} placeholders != {names}"


def _flow_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse((COMPONENT / "config_flow.py").read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def flow_refs(flow_class: str) -> tuple[set[str], set[str], set[str]]:
    """Abort reasons, step ids and errors used inside one flow class of config_flow.py."""
    aborts: set[str] = set()
    steps: set[str] = set()
    errors: set[str] = set()
    for call, kwargs in calls(ast.unparse(_flow_classes()[flow_class])):
        aborts |= literals(kwargs["reason"]) if "reason" in kwargs else set()
        aborts |= IMPLIED_ABORTS.get(call_name(call), set())
        steps |= literals(kwargs["step_id"]) if "step_id" in kwargs else set()
        if isinstance(given := kwargs.get("errors"), ast.Dict):
            errors |= {v for value in given.values for v in literals(value)}
    return aborts, steps, errors


def test_config_flow_strings() -> None:
    config = strings()["config"]
    aborts, steps, errors = flow_refs(EvEnergyFlowHandler.__name__)
    assert aborts, "the scan found no abort reason in the config flow"
    base = inspect.getsource(config_entry_oauth2_flow)
    # Reasons HA lists here are translated by the "homeassistant" integration, not by us.
    shared: frozenset[str] = getattr(config_entry_oauth2_flow, "_SHARED_ABORT_REASONS", frozenset())
    aborts |= {r for _, kw in calls(base) if "reason" in kw for r in literals(kw["reason"])}
    aborts -= shared
    for section, used in (("abort", aborts), ("step", steps), ("error", errors)):
        missing = sorted(used - set(config.get(section, {})))
        assert not missing, f"config.{section} lacks {missing}"
    for step in config.get("step", {}):
        assert hasattr(EvEnergyFlowHandler, f"async_step_{step}"), f"config.step.{step}: no step"


def test_options_flow_strings() -> None:
    options_flow = type(EvEnergyFlowHandler.async_get_options_flow(None))  # type: ignore[arg-type]
    options = strings().get("options", {})
    aborts, steps, errors = flow_refs(options_flow.__name__)
    assert steps, "the options flow shows no form"
    for section, used in (("abort", aborts), ("step", steps), ("error", errors)):
        missing = sorted(used - set(options.get(section, {})))
        assert not missing, f"options.{section} lacks {missing}"
    for step, entry in options.get("step", {}).items():
        assert hasattr(options_flow, f"async_step_{step}"), f"options.step.{step}: no step"
        schema_keys = {str(key) for key in OPTIONS_SCHEMA.schema}
        assert set(entry.get("data", {})) == schema_keys, f"options.step.{step}.data"
        assert set(entry.get("data_description", {})) == schema_keys


def is_description(value: object) -> bool:
    """Tell entity descriptions apart, including HA's frozen-dataclass compat classes.

    A plain `BinarySensorEntityDescription(...)` is not an instance of
    `homeassistant.helpers.entity.EntityDescription` (the compat layer builds a twin), so
    match the class name along the MRO.
    """
    return any(cls.__name__ == EntityDescription.__name__ for cls in type(value).__mro__)


@pytest.mark.parametrize("platform", PLATFORM_MODULES)
def test_entity_descriptions_translated(platform: Platform) -> None:
    module = importlib.import_module(f"custom_components.ev_energy.{platform}")
    groups = [
        value
        for value in vars(module).values()
        if isinstance(value, tuple) and value
        if all(is_description(d) for d in value)
    ] + [(value,) for value in vars(module).values() if is_description(value)]
    assert groups, f"{platform}.py has no tuple of entity descriptions"
    section: dict[str, Any] = strings().get("entity", {}).get(platform, {})
    used: set[str] = set()
    for group in groups:
        names = [d.translation_key or d.device_class for d in group]
        assert len(names) == len(set(names)), f"{platform}: entities of a group share a name"
        for desc in group:
            assert desc.translation_key or desc.device_class, f"{desc.key}: entity has no name"
            if desc.translation_key is None:
                continue
            used.add(desc.translation_key)
            entry = section.get(desc.translation_key, {})
            assert "name" in entry, f"entity.{platform}.{desc.translation_key}.name is missing"
            if desc.device_class == SensorDeviceClass.ENUM:
                options, states = set(getattr(desc, "options", None) or ()), entry.get("state", {})
                assert options, f"{desc.key}: an enum sensor needs options"
                assert options == set(states), f"{desc.key}: states {set(states) ^ options}"
    assert set(section) <= used, f"dead entity.{platform} strings: {set(section) - used}"


async def test_application_credentials_placeholders(hass: HomeAssistant) -> None:
    description = strings()["application_credentials"]["description"]
    provided = await application_credentials.async_get_description_placeholders(hass)
    assert placeholders(description) == set(provided), "description placeholders not provided"
    assert all(provided.values()), "every placeholder needs a value"


def test_icons() -> None:
    icons, en = load(COMPONENT / "icons.json"), strings()
    for path, value in leaves(icons):
        assert ICON_RE.fullmatch(str(value)), f"{path}: bad icon {value!r}"
    for platform, entities in icons.get("entity", {}).items():
        for key, entry in entities.items():
            translated = lookup(en, f"entity.{platform}.{key}")
            assert isinstance(translated, dict), f"icon for unknown entity.{platform}.{key}"
            for state in entry.get("state", {}):
                known = state in translated.get("state", {}) or state in {"on", "off"}
                assert known, f"icon for unknown state entity.{platform}.{key}.{state}"


def test_services() -> None:
    icons, en, file = load(COMPONENT / "icons.json"), strings(), COMPONENT / "services.yaml"
    if not file.is_file():
        assert "services" not in en, "en.json translates services but there is no services.yaml"
        assert "services" not in icons, "icons.json has service icons but no services.yaml"
        return
    services = load_yaml_dict(file)
    assert set(en.get("services", {})) <= set(services), "en.json translates unknown services"
    for service, spec in services.items():
        entry = lookup(en, f"services.{service}") or {}
        assert entry.get("name"), f"services.{service}.name is missing"
        assert entry.get("description"), f"services.{service}.description is missing"
        assert service in icons.get("services", {}), f"services.{service}: no icon"
        for field in (spec or {}).get("fields", {}):
            text = entry.get("fields", {}).get(field, {})
            assert text.get("name"), f"services.{service}.fields.{field}.name is missing"
            assert text.get("description"), f"services.{service}.fields.{field}.description"


def test_platform_modules_match_forwarded_platforms() -> None:
    assert set(PLATFORMS) == set(PLATFORM_MODULES), "PLATFORMS and platform modules differ"


@pytest.mark.parametrize("platform", PLATFORM_MODULES)
def test_parallel_updates(platform: Platform) -> None:
    module = importlib.import_module(f"custom_components.ev_energy.{platform}")
    value = getattr(module, "PARALLEL_UPDATES", None)
    assert isinstance(value, int), f"{platform}.py must set PARALLEL_UPDATES"
    if platform in READ_ONLY_PLATFORMS:
        assert value == 0, f"{platform} only reads the coordinator: PARALLEL_UPDATES = 0"
    else:
        assert value >= 1, f"{platform} writes to the API: PARALLEL_UPDATES >= 1"
