"""The cores stay plain Python: no Django import, directly or through the project."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
CORES = [
    "permanence/accounts/hours.py",
    "permanence/accounts/phones.py",
    "permanence/accounts/periods.py",
    "permanence/directory/rules.py",
    "permanence/directory/search.py",
    "permanence/directory/rota.py",
    "permanence/textlists.py",
    "permanence/outbound.py",
    "permanence/calls/lifecycle.py",
    "permanence/calls/admission.py",
    "permanence/calls/simulator.py",
    "permanence/messaging/signing.py",
    "permanence/messaging/sms.py",
    "permanence/messaging/retry.py",
    "permanence/messaging/preferences.py",
    "permanence/agenda/slots.py",
    "permanence/planning/erlang.py",
    "permanence/planning/grid.py",
    "permanence/planning/simulation.py",
    "permanence/planning/forecast.py",
    "permanence/planning/weekplan.py",
    "permanence/planning/commands.py",
    "permanence/scenarios/commands.py",
    "permanence/reporting/kpis.py",
    "permanence/reporting/scorecard.py",
    "permanence/reporting/charts.py",
    "permanence/calls/routing.py",
    "permanence/calls/desk_events.py",
    "permanence/adapters.py",
    "permanence/telephony/sip.py",
    "permanence/telephony/media.py",
    "permanence/telephony/ng.py",
    "permanence/telephony/credentials.py",
    "permanence/telephony/trial.py",
    "permanence/telephony/recorder.py",
    "permanence/telephony/speech.py",
    "permanence/telephony/bridge.py",
    "permanence/billing/rating.py",
    "permanence/billing/sla.py",
    "permanence/billing/documents.py",
    *sorted(
        str(p.relative_to(Path(__file__).resolve().parents[1] / "src"))
        for p in (Path(__file__).resolve().parents[1] / "src/permanence/scenarios/engine").glob("*.py")
    ),
]
PURE_PROJECT_MODULES = {c.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for c in CORES}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from permanence.accounts import phones` imports a module
                submodule = f"{node.module}.{alias.name}"
                is_module = (SRC / submodule.replace(".", "/")).with_suffix(".py").exists()
                names.add(submodule if is_module else node.module)
    return names


@pytest.mark.parametrize("core", CORES)
def test_core_imports_no_django(core):
    imports = _imports(SRC / core)
    assert not {m for m in imports if m == "django" or m.startswith("django.")}
    project = {m for m in imports if m.startswith("permanence")}
    assert project <= PURE_PROJECT_MODULES, f"{core} imports non-core modules {project}"


def test_makefile_lints_every_core():
    makefile = (SRC.parent / "Makefile").read_text()
    words = makefile.replace("\\", " ").split()
    for core in CORES:
        assert f"src/{core}" in words or f"src/{Path(core).parent}" in words


def test_every_core_the_makefile_lints_is_checked_for_imports_here():
    makefile = (SRC.parent / "Makefile").read_text().replace("\\\n", " ")
    [line] = [line for line in makefile.splitlines() if line.startswith("CORES :=")]
    for word in line.removeprefix("CORES :=").split():
        core = word.removeprefix("src/")
        assert core in CORES or any(c.startswith(core + "/") for c in CORES), f"{core}: add it to CORES here"
