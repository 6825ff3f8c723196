"""Metadata checks in the spirit of hassfest and HACS: manifest, hacs.json, strings and icons."""

from __future__ import annotations

import ast
from collections.abc import Iterator
import importlib
import inspect
import json
import os
from pathlib import Path
import re
import shutil
from string import Formatter
import subprocess
import tomllib
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
from PIL import Image, ImageChops
import pytest
import yaml

from custom_components.ev_energy import PLATFORMS, application_credentials
from custom_components.ev_energy.api import ScheduleType
from custom_components.ev_energy.config_flow import (
    OPTIONS_SCHEMA,
    PUSH_SCHEMA,
    EvEnergyFlowHandler,
)

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
READ_ONLY_PLATFORMS = {Platform.SENSOR, Platform.BINARY_SENSOR, Platform.CALENDAR, Platform.EVENT}
PLATFORM_MODULES = sorted(p for p in Platform if (COMPONENT / f"{p}.py").is_file())
# Abort reasons that config-flow helpers raise without naming them in our code.
IMPLIED_ABORTS = {
    "_abort_if_unique_id_configured": {"already_configured"},
    "async_set_unique_id": {"already_in_progress"},
    "async_update_and_abort": {"reauth_successful", "reconfigure_successful"},
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


def _issue_text_paths(key: str, kwargs: dict[str, ast.expr]) -> list[str]:
    """Where an issue's explanation is: a fixable one's in its fix flow's steps (hassfest
    refuses a `description` beside a `fix_flow`), any other one's in its description."""
    fixable = kwargs.get("is_fixable")
    if not (isinstance(fixable, ast.Constant) and fixable.value is True):
        return [f"issues.{key}.description"]
    steps = lookup(strings(), f"issues.{key}.fix_flow.step")
    if not isinstance(steps, dict) or not steps:
        return [f"issues.{key}.fix_flow.step"]
    assert lookup(strings(), f"issues.{key}.description") is None, (
        f"issues.{key}: a fixable issue explains itself in its fix flow, not a description"
    )
    return [f"issues.{key}.fix_flow.step.{step}.description" for step in steps]


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
                    refs += [(where, path, call) for path in _issue_text_paths(key, kwargs)]
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
    # Each form's fields; the menu step has none.
    schemas = {"init": {}, "settings": OPTIONS_SCHEMA.schema, "push": PUSH_SCHEMA.schema}
    for step, entry in options.get("step", {}).items():
        assert hasattr(options_flow, f"async_step_{step}"), f"options.step.{step}: no step"
        schema_keys = {str(key) for key in schemas[step]}
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


def test_every_schedule_type_has_a_name() -> None:
    """The calendar names a slot's schedule type from the Schedule type attribute's states."""
    attribute = lookup(strings(), "entity.binary_sensor.charging_planned.state_attributes.type")
    assert set(attribute["state"]) == {kind.value.lower() for kind in ScheduleType}


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


def test_license_matches_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == "MIT", "pyproject names another license"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n"), "LICENSE is not the MIT license"
    assert re.search(r"^Copyright \(c\) \d{4} \S", text, re.MULTILINE), "LICENSE names no holder"


BRAND = COMPONENT / "brand"
# name -> (width, height); the home-assistant/brands image rules, as HA 2026.3+ serves them.
BRAND_IMAGES = {
    "icon.png": (256, 256),
    "icon@2x.png": (512, 512),
    "logo.png": (606, 256),
    "logo@2x.png": (1212, 512),
    "dark_logo.png": (606, 256),
    "dark_logo@2x.png": (1212, 512),
}


def test_brand_images_follow_the_brands_rules() -> None:
    assert {p.name for p in BRAND.iterdir()} == set(BRAND_IMAGES), "brand/ holds other files"
    for name, size in BRAND_IMAGES.items():
        with Image.open(BRAND / name) as image:
            assert image.format == "PNG", f"{name}: not a PNG"
            assert image.size == size, f"{name}: {image.size}, expected {size}"
            assert image.mode == "RGBA", f"{name}: no alpha channel"
            alpha = image.getchannel("A")
            assert alpha.getpixel((0, 0)) == 0, f"{name}: the background is not transparent"
            assert alpha.getbbox() == (0, 0, *size), f"{name}: not trimmed to its content"
        width, height = size
        if "icon" in name:
            assert width == height == (512 if "@2x" in name else 256), f"{name}: icon size"
        else:
            assert width > height == (512 if "@2x" in name else 256), f"{name}: logo size"
    for name, (width, height) in BRAND_IMAGES.items():
        if "@2x" in name:
            assert BRAND_IMAGES[name.replace("@2x", "")] == (width // 2, height // 2), name
        if name.startswith("dark_"):
            assert name.removeprefix("dark_") in BRAND_IMAGES, f"{name} has no light twin"


def test_brand_images_match_their_sources(tmp_path: Path) -> None:
    """The committed PNGs are what scripts/brand renders from docs/brand/*.svg today."""
    if shutil.which(os.environ.get("RSVG_CONVERT", "rsvg-convert")) is None:
        pytest.skip("rsvg-convert is not installed (apt-get install librsvg2-bin)")
    script = [shutil.which("bash") or "/bin/bash", str(ROOT / "scripts/brand"), str(tmp_path)]
    subprocess.run(script, check=True, capture_output=True)  # noqa: S603  # our own script
    for name in BRAND_IMAGES:
        with Image.open(BRAND / name) as committed, Image.open(tmp_path / name) as fresh:
            # Another librsvg version may anti-alias edges slightly differently.
            diff = ImageChops.difference(committed, fresh).convert("L")
            mean = sum(i * n for i, n in enumerate(diff.histogram())) / (diff.width * diff.height)
            assert mean < 1.0, f"{name} differs from docs/brand: run scripts/brand"


def quality_scale() -> dict[str, str]:
    rules = load_yaml_dict(COMPONENT / "quality_scale.yaml")["rules"]
    statuses = {}
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value.get("status")
        assert status in {"done", "todo", "exempt"}, f"{rule}: unknown status {status!r}"
        if status != "done":
            assert isinstance(value, dict), f"{rule}: say why it is {status}"
            assert value.get("comment"), f"{rule}: say why it is {status}"
        statuses[rule] = status
    return statuses


def bare_config_entry_annotations() -> list[str]:
    """Annotations naming the untyped ConfigEntry (the typed alias is EvEnergyConfigEntry)."""
    found = []
    for file in sorted(COMPONENT.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotation = node.returns
            elif isinstance(node, ast.arg | ast.AnnAssign):
                annotation = node.annotation
            else:
                continue
            if annotation is not None and re.search(r"\bConfigEntry\b", ast.unparse(annotation)):
                found.append(f"{file.relative_to(COMPONENT)}:{node.lineno}")
    return found


def test_quality_scale_says_what_is_true() -> None:
    rules = quality_scale()
    if rules.get("brands") == "done":
        assert (BRAND / "icon.png").is_file(), "brands: done, but there is no brand/icon.png"
    for rule, platform in (("docs-triggers", "trigger"), ("docs-conditions", "condition")):
        assert rule in rules, f"{rule} (a Bronze rule) is missing"
        if rules[rule] == "exempt":
            assert not (COMPONENT / f"{platform}.py").exists(), f"{rule}: {platform}.py exists"
    if rules.get("strict-typing") == "done":
        assert not bare_config_entry_annotations(), "strict-typing: use EvEnergyConfigEntry"
    if rules.get("dependency-transparency") == "done":
        assert load(COMPONENT / "manifest.json")["requirements"], "the client is not on PyPI"


def workflow_steps() -> dict[str, list[dict[str, Any]]]:
    """Each job of .github/workflows/*.yml (as file:job) with its steps."""
    jobs = {}
    for file in sorted((ROOT / ".github/workflows").glob("*.yml")):
        workflow = yaml.safe_load(file.read_text(encoding="utf-8"))
        # YAML 1.1 reads the bare key `on` as True.
        assert workflow.get("on", workflow.get(True)), f"{file.name}: no triggers"
        for name, job in workflow["jobs"].items():
            assert job["runs-on"] == "ubuntu-latest", f"{file.name}:{name}: runs-on"
            assert all("uses" in step or "run" in step for step in job["steps"]), file.name
            jobs[f"{file.stem}:{name}"] = job["steps"]
    return jobs


def test_github_workflows() -> None:
    steps = [step for job in workflow_steps().values() for step in job]
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert "home-assistant/actions/hassfest" in uses, "no hassfest job"
    assert uses["hacs/action"]["with"]["category"] == "integration", "HACS validation"
    runs = [line.strip() for step in steps for line in step.get("run", "").splitlines()]
    assert "./scripts/test" in runs, "no job runs the test command"
    assert "3.14" in str(uses["actions/setup-python"]["with"]["python-version"])


def test_devcontainer() -> None:
    config = load(ROOT / ".devcontainer.json")
    assert re.search(r"python:3\.14\b", config["image"]), "the image is not Python 3.14"
    assert config["postCreateCommand"].endswith("bash scripts/bootstrap"), "no bootstrap"
    assert config["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"].endswith(
        "/.venv/bin/python"
    )
