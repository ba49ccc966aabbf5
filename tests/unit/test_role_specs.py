"""Each role's meta/argument_specs.yml is the single source of its variables (STYLE.md).

These tests fail when a role's defaults and its spec drift apart, or when a variable shared by
several roles is documented or defaulted differently in one of them.
"""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
PUBLIC_ROLES = sorted(p.name for p in ROLES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def load(path):
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role):
    return load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def defaults(role):
    path = ROLES / role / "defaults" / "main.yml"
    return load(path) if path.exists() else {}


@pytest.mark.parametrize("role", PUBLIC_ROLES)
def test_role_has_its_documents(role):
    for relative in ("README.md", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml"):
        assert (ROLES / role / relative).is_file(), f"{role} lacks {relative}"


@pytest.mark.parametrize("role", PUBLIC_ROLES)
def test_defaults_and_spec_name_the_same_variables(role):
    assert set(defaults(role)) == {k for k, v in spec_options(role).items() if "default" in v}


@pytest.mark.parametrize("role", PUBLIC_ROLES)
def test_spec_defaults_equal_role_defaults(role):
    options = spec_options(role)
    for name, value in defaults(role).items():
        assert options[name]["default"] == value, f"{role}: {name}"


@pytest.mark.parametrize("role", PUBLIC_ROLES)
def test_every_variable_is_prefixed_and_described(role):
    for name, option in spec_options(role).items():
        assert name.startswith("ccproxy_"), f"{role}: {name}"
        assert option.get("description"), f"{role}: {name} has no description"


def test_shared_variables_are_one_idea_everywhere():
    seen = {}
    for role in PUBLIC_ROLES:
        for name, option in spec_options(role).items():
            entry = (option.get("type"), option.get("default"), option.get("description"))
            first = seen.setdefault(name, (role, entry))
            assert first[1] == entry, f"{name} differs between roles {first[0]} and {role}"
