"""The architecture, checked statically: every stage's code is among its DVC dependencies, every
params key a stage reads is among its DVC params, the package layers import only downwards, and no
module or package imports itself round a cycle (see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.import_graph import ROOT, ParamsUse, closure, module_graph, params_read, stage_definitions

STAGES = stage_definitions()

# Bottom to top; a module imports only from its own layer or below.
LAYERS: list[set[str]] = [
    {
        "sonorisk",
        "paths",
        "atomic_file",
        "params",
        "gates",
        "provenance",
        "parquet_stream",
        "runtime",
        "reproducibility",
        "study",
        "writable",
    },
    {"imaging"},
    {"contracts"},
    {"cohort"},
    {"stats"},
    {"modelling"},
    {"radiomics", "deep"},
    {"fusion"},
    {"evaluation"},
    {"bundle", "bundle_job", "signing", "pseudonym", "risk", "audit", "audit_lock", "audit_values", "synthetic"},
    {"cli"},
]
NEVER_EACH_OTHER = [("radiomics", "deep")]
SYNTHETIC_USERS = {"cli"}  # in src/; the synth stage, tests and benchmarks use it from outside


def unit(module: str) -> str:
    """The layer unit of a module: its first package below ``sonorisk`` (or the top-level module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(name: str) -> int:
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    raise KeyError(f"{name} has no layer: add it to LAYERS and to docs/architecture.md")


def layer_violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import that goes up a layer, between packages that must not know each other, or into
    ``synthetic`` from a module that is not a command."""
    problems = []
    for module, imports in sorted(graph.items()):
        for target in sorted(imports):
            a, b = unit(module), unit(target)
            if layer_of(b) > layer_of(a):
                problems.append(f"{module} imports {target}: up from layer {layer_of(a)} to {layer_of(b)}")
            if (a, b) in NEVER_EACH_OTHER or (b, a) in NEVER_EACH_OTHER:
                problems.append(f"{module} imports {target}: {a} and {b} never import each other")
            if b == "synthetic" and a not in SYNTHETIC_USERS | {"synthetic"}:
                problems.append(f"{module} imports {target}: only the synth stage, tests and benchmarks use it")
    return problems


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The same imports between layer units (packages), self-edges dropped."""
    out: dict[str, set[str]] = {}
    for module, imports in graph.items():
        out.setdefault(unit(module), set()).update(unit(t) for t in imports if unit(t) != unit(module))
    return out


def test_the_checks_see_a_broken_tree() -> None:
    """The checkers themselves: an upward import, a cycle and a forbidden pair are each reported."""
    broken = {
        "sonorisk.stats.auc": {"sonorisk.fusion.model"},
        "sonorisk.fusion.model": {"sonorisk.stats.auc"},
        "sonorisk.radiomics.x": {"sonorisk.deep.y"},
        "sonorisk.deep.y": set(),
        "sonorisk.risk.scoring": {"sonorisk.synthetic.generator"},
    }
    problems = layer_violations(broken)
    assert any("sonorisk.stats.auc imports sonorisk.fusion.model" in p for p in problems)
    assert any("never import each other" in p for p in problems)
    assert any("only the synth stage" in p for p in problems)
    assert cycles(broken) == [["sonorisk.fusion.model", "sonorisk.stats.auc"]]
    assert cycles(package_graph(broken)) == [["fusion", "stats"]]


def test_layers_import_only_downwards() -> None:
    assert layer_violations(module_graph()) == []


def test_no_import_cycles_between_modules_or_packages() -> None:
    graph = module_graph()
    assert cycles(graph) == []
    assert cycles(package_graph(graph)) == []


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_every_file_its_code_runs(stage: str) -> None:
    module = ROOT / "pipelines" / f"{stage}.py"
    command = STAGES[stage]["cmd"].split()
    assert command[:3] == ["python", "-m", f"pipelines.{stage}"], "one stage = one pipelines/ module"
    deps = [d if isinstance(d, str) else next(iter(d)) for d in STAGES[stage].get("deps", [])]
    package = ROOT / "pipelines" / "__init__.py"  # runs first on `python -m pipelines.<stage>`
    files = sorted(p.relative_to(ROOT).as_posix() for p in {module, package, *closure(module), *closure(package)})
    missing = [f for f in files if not _covered(f, deps)]
    assert missing == [], f"dvc.yaml stage {stage} runs these files but does not list them: {missing}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_params_are_exactly_what_it_reads(stage: str) -> None:
    # A foreach stage lists its own item (`synth.cohorts.${key}`): that is reading `synth.cohorts`.
    listed = [
        (p if isinstance(p, str) else next(iter(p))).removesuffix(".${key}") for p in STAGES[stage].get("params", [])
    ]
    own, package = params_read(ROOT / "pipelines" / f"{stage}.py"), params_read(ROOT / "pipelines" / "__init__.py")
    use = ParamsUse(own.sections | package.sections, own.keys | package.keys)
    unlisted = sorted(
        [s for s in use.sections if s not in listed]
        + [k for k in use.keys if k not in listed and k.split(".")[0] not in listed]
    )
    assert unlisted == [], f"stage {stage} reads params that dvc.yaml does not list: {unlisted}"
    unread = [
        p
        for p in listed
        if p not in use.sections and p not in use.keys and p not in {k.split(".")[0] for k in use.keys}
    ]
    assert unread == [], f"dvc.yaml lists params that stage {stage} never reads: {unread}"


def test_every_stage_module_is_a_stage() -> None:
    modules = {p.stem for p in (ROOT / "pipelines").glob("*.py")} - {"__init__", "show_outputs"}
    assert modules == set(STAGES)


def test_nightly_scoring_imports_no_training_job() -> None:
    # Scoring reads frozen models through FrozenBundle; a *_job module fits or writes pipeline outputs.
    start = ROOT / "src" / "sonorisk" / "risk" / "scoring.py"
    reached = sorted(p.relative_to(ROOT).as_posix() for p in closure(start))
    assert "src/sonorisk/risk/frozen.py" in reached
    assert [p for p in reached if p.endswith("_job.py")] == []
