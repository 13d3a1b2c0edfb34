"""YAML beyond the readers' limits: the scenario loader, KB front matter and the glossary all name
the limit (with its line and column) instead of calling it a syntax error, under both libyaml's C
loader and the pure-Python loader that users get where libyaml is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iwp_trainer import glossary
from iwp_trainer.glossary import MAX_YAML_DEPTH, load_glossary
from iwp_trainer.kb import load_kb
from iwp_trainer.scenario_loader import parse_yaml

LOADERS = {"c": getattr(yaml, "CSafeLoader", None), "pure-python": yaml.SafeLoader}


@pytest.fixture(params=sorted(LOADERS))
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    loader = LOADERS[request.param]
    if loader is None:  # pragma: no cover - PyYAML's wheels ship libyaml on every platform we support
        pytest.fail("PyYAML was installed without libyaml (yaml.CSafeLoader is missing)")
    monkeypatch.setattr(glossary, "YAML_LOADER", loader)
    return request.param


# Flow nesting far past libyaml's own 1,000-level limit, which it reports before any event.
FLOW_5000 = "[" * 5000 + "]" * 5000
# Within our limit, and just past it.
FLOW_OK = "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1)
FLOW_OVER = "[" * (MAX_YAML_DEPTH + 5) + "]" * (MAX_YAML_DEPTH + 5)


def _block(depth: int) -> str:
    """Block-style mappings nested ``depth`` deep, one key per line."""
    return "".join(" " * i + f"k{i}:\n" for i in range(depth)) + " " * depth + "leaf\n"


@pytest.mark.parametrize("nested", [FLOW_5000, FLOW_OVER])
def test_scenario_nesting_is_sc008_with_line_and_column(yaml_loader: str, nested: str) -> None:
    _doc, diags = parse_yaml("id: x\nsummary: " + nested + "\n", "deep.yaml")
    assert [d.code for d in diags] == ["SC008"], diags
    assert diags[0].line == 2 and diags[0].col is not None
    assert "nested more than 50 levels" in diags[0].message
    assert diags[0].hint == "flatten the structure"


def test_scenario_block_nesting_is_sc008(yaml_loader: str) -> None:
    _doc, diags = parse_yaml(_block(MAX_YAML_DEPTH + 10), "deep.yaml")
    assert [d.code for d in diags] == ["SC008"]
    assert diags[0].line == MAX_YAML_DEPTH + 1


def test_scenario_within_the_limit_loads(yaml_loader: str) -> None:
    doc, diags = parse_yaml("a: " + FLOW_OK + "\n", "ok.yaml")
    assert diags == [] and doc is not None


def test_scenario_syntax_error_is_still_sc001(yaml_loader: str) -> None:
    _doc, diags = parse_yaml("a: [1, 2\n", "bad.yaml")
    assert [d.code for d in diags] == ["SC001"]


def _entry(extra: str) -> str:
    return ("---\nid: deep\nquestion: Is this too deep?\nsource: {document: IWP trial FAQ, section: x}\n"
            f"tags: {extra}\n---\nBody.\n")


@pytest.mark.parametrize("nested", [FLOW_5000, FLOW_OVER])
def test_kb_front_matter_nesting_is_kb_limit_and_the_rest_loads(
        yaml_loader: str, nested: str, tmp_path: Path) -> None:
    (tmp_path / "deep.md").write_text(_entry(nested), encoding="utf-8")
    (tmp_path / "fine.md").write_text(_entry("[a]").replace("id: deep", "id: fine"), encoding="utf-8")
    kb = load_kb(tmp_path)
    assert sorted(kb.entries) == ["fine"]
    [diag] = kb.diagnostics
    assert diag.code == "kb-limit" and Path(diag.file).name == "deep.md"
    assert diag.line == 5 and diag.col is not None  # the `tags:` line of the file, not of the YAML
    assert "nested" in diag.message and diag.hint == "flatten the structure"


def test_kb_front_matter_within_the_limit_is_read(yaml_loader: str, tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text(_entry(FLOW_OK).replace("id: deep", "id: ok"), encoding="utf-8")
    kb = load_kb(tmp_path)
    # Read, and so judged on its content: a nested list is not a tag.
    assert [d.code for d in kb.diagnostics] == ["kb-type"]


@pytest.mark.parametrize("nested", [FLOW_5000, FLOW_OVER, None])
def test_glossary_nesting_is_glossary_limit(yaml_loader: str, nested: str | None, tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    text = "CET: Conditionality Earnings Threshold\nDEEP:\n  meaning: " + nested + "\n" if nested else \
        "CET: Conditionality Earnings Threshold\n" + _block(MAX_YAML_DEPTH + 3)
    path.write_text(text, encoding="utf-8")
    loaded = load_glossary(path)
    [diag] = loaded.diagnostics
    assert diag.code == "glossary-limit" and diag.line is not None and diag.line >= 2
    assert "nested" in diag.message


def test_the_fixture_really_switches_loader(yaml_loader: str) -> None:
    expected = yaml.SafeLoader if yaml_loader == "pure-python" else yaml.CSafeLoader
    assert glossary.YAML_LOADER is expected
