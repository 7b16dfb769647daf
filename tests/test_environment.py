"""environment.yml (conda) must install what pyproject.toml declares, with the same ranges."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

yaml = pytest.importorskip("yaml", reason="needs PyYAML (installed with the lab extra)")
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli", reason="needs tomli on Python 3.10")

ROOT = Path(__file__).resolve().parent.parent
EDITABLE_INSTALL = '-e ".[test,lab]"'


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def environment() -> dict:
    with open(ROOT / "environment.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _by_name(requirements: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(r) for r in requirements]
    names = [canonicalize_name(r.name) for r in parsed]
    assert len(set(names)) == len(names), f"a package is listed twice: {requirements}"
    return dict(zip(names, parsed, strict=True))


def _conda_packages(environment: dict) -> list[str]:
    return [d for d in environment["dependencies"] if isinstance(d, str)]


def _pip_section(environment: dict) -> list[str]:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one `pip:` section"
    return [str(line).strip() for line in sections[0]]


def test_channels_are_conda_forge_only(environment: dict) -> None:
    assert environment["channels"] == ["conda-forge"]
    assert environment["name"] == "gnnrec-course"


def test_conda_installs_only_python_and_pip(environment: dict, pyproject: dict) -> None:
    packages = {re.split(r"[=<>!~ ]", p, maxsplit=1)[0]: p for p in _conda_packages(environment)}
    assert set(packages) == {"python", "pip"}, (
        "install libraries with pip (same ranges as pyproject.toml), not conda: "
        f"{sorted(set(packages) - {'python', 'pip'})}"
    )
    python = packages["python"]
    match = re.fullmatch(r"python\s*=?=?\s*(\d+\.\d+)(\.\*)?", python)
    assert match, f"pin python to a minor version, e.g. python=3.12, not {python!r}"
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    assert Version(match.group(1)) in requires, f"{python} does not satisfy {requires}"


def test_pip_installs_the_same_packages_with_the_same_ranges(
    environment: dict, pyproject: dict
) -> None:
    pip_lines = [line for line in _pip_section(environment) if not line.startswith("-")]
    conda = _by_name(pip_lines)
    declared = _by_name(pyproject["project"]["dependencies"])
    assert set(conda) == set(declared), (
        f"only in environment.yml: {sorted(set(conda) - set(declared))}; "
        f"only in pyproject.toml: {sorted(set(declared) - set(conda))}"
    )
    for name, requirement in declared.items():
        assert conda[name].specifier == requirement.specifier, (
            f"{name}: environment.yml has {conda[name].specifier or 'no range'}, "
            f"pyproject.toml has {requirement.specifier or 'no range'}"
        )
        assert conda[name].marker == requirement.marker, f"{name}: environment markers differ"


def test_pip_installs_the_package_with_its_extras(environment: dict, pyproject: dict) -> None:
    options = [line for line in _pip_section(environment) if line.startswith("-")]
    assert options == [EDITABLE_INSTALL]
    extras = pyproject["project"]["optional-dependencies"]
    assert {"test", "lab"} <= set(extras)


def test_colab_versions_satisfy_the_declared_ranges(pyproject: dict) -> None:
    """The pins of tests/colab_stack must stay inside pyproject's ranges (Colab installs those)."""
    declared = _by_name(pyproject["project"]["dependencies"])
    constraints = ROOT / "tests" / "colab_stack" / "constraints.txt"
    pins = [line.split("#")[0].strip() for line in constraints.read_text().splitlines()]
    for pin in filter(None, pins):
        requirement = Requirement(pin)
        name = canonicalize_name(requirement.name)
        (version,) = [s.version for s in requirement.specifier]
        if name in declared:
            allowed = declared[name].specifier
            assert allowed.contains(version, prereleases=True), (
                f"Colab ships {name} {version}, outside pyproject's range {allowed}"
            )
