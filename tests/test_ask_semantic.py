"""Ask's semantic half: the pinned model and tokenizer, the entry vectors cached with the index,
and the lexical fallback when the model cannot load (said once, in the CLI and in the answerer)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iwp_trainer import semantic
from iwp_trainer.answer import open_answerer
from iwp_trainer.paths import MODELS_DIR, semantic_model_file, semantic_tokenizer_file

ROOT = Path(__file__).resolve().parent.parent


def test_the_model_and_tokenizer_are_the_pinned_files_with_their_licence() -> None:
    assert semantic._sha256(semantic_model_file()) == semantic.MODEL_SHA256
    assert semantic._sha256(semantic_tokenizer_file()) == semantic.TOKENIZER_SHA256
    assert "Apache License" in (MODELS_DIR / "LICENSE").read_text(encoding="utf-8")
    notice = (MODELS_DIR / "NOTICE").read_text(encoding="utf-8")
    assert semantic.TOKENIZER_SHA256 in notice and semantic.MODEL_SHA256 in notice


def test_vectors_are_unit_length_and_close_in_meaning() -> None:
    embedder = semantic.load_embedder()
    vectors = embedder.encode(["when will they get sanctioned",
                               "When will an in-work claimant in the trial be sanctioned?",
                               "what's the weather like in Leeds tomorrow"])
    assert vectors.shape == (3, semantic.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.4 > 0.1 > sims[0, 2]
    # A batch gives the same vectors as one text at a time (padding is masked out).
    one = embedder.encode(["when will they get sanctioned"])[0]
    assert float(one @ vectors[0]) > 0.9999


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    monkeypatch.setenv("IWP_TRAINER_SEMANTIC_MODEL", str(fake))
    with pytest.raises(semantic.SemanticUnavailable, match="not the pinned file"):
        semantic.load_embedder()
    monkeypatch.setenv("IWP_TRAINER_SEMANTIC_MODEL", str(tmp_path / "missing.onnx"))
    with pytest.raises(semantic.SemanticUnavailable, match="not installed"):
        semantic.load_embedder()


def test_without_onnxruntime_the_embedder_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(semantic.SemanticUnavailable, match="onnxruntime"):
        semantic.Embedder()


@pytest.mark.parametrize("problem", ["missing", "altered", "no-onnxruntime"])
def test_ask_falls_back_to_its_lexical_half_and_says_so_once(problem: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if problem == "missing":
        monkeypatch.setenv("IWP_TRAINER_SEMANTIC_MODEL", str(tmp_path / "gone.onnx"))
    elif problem == "altered":
        altered = tmp_path / "model.onnx"
        altered.write_bytes(semantic_model_file().read_bytes()[:-1] + b"\0")
        monkeypatch.setenv("IWP_TRAINER_SEMANTIC_MODEL", str(altered))
    else:
        monkeypatch.setattr(semantic, "_EMBEDDERS", {})
        monkeypatch.setitem(sys.modules, "onnxruntime", None)
    answerer = open_answerer(ROOT / "kb", tmp_path / "index")
    try:
        answer = answerer.ask("How long will a sanction run under the trial?")
        assert answer.outcome == "answer" and answer.matches[0].entry.id == "sanction-duration"
        assert answerer.semantic_on is False and not answerer.model.semantic
        assert "matching words only" in answerer.notice
        refusal = answerer.ask("what's the weather like in Leeds tomorrow")
        assert refusal.outcome == "refusal"
    finally:
        answerer.close()


def test_with_the_model_ask_uses_the_hybrid_model(tmp_path: Path) -> None:
    answerer = open_answerer(ROOT / "kb", tmp_path / "index")
    try:
        assert answerer.settle() is True and answerer.notice == ""
        assert answerer.model.semantic
        # A question in none of the KB's words still finds its entry through its meaning.
        answer = answerer.ask("why r we even doing this in work trial thing")
        assert answer.matches and answer.matches[0].entry.id == "why-in-work-trials"
    finally:
        answerer.close()


def test_the_cli_warns_once_on_stderr_and_still_answers(tmp_path: Path) -> None:
    env = dict(os.environ, IWP_TRAINER_SEMANTIC_MODEL=str(tmp_path / "gone.onnx"))
    proc = subprocess.run([sys.executable, "-m", "iwp_trainer", "--kb", str(ROOT / "kb"), "--index",
                           str(tmp_path / "index"), "ask", "--json"],
                          input="How long will a sanction run under the trial?\nwhat is the trial\n",
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("iwp-trainer ask: warning: The semantic model is not available")
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["outcome"] for r in records] == ["answer", "answer"]


def test_entry_vectors_are_cached_with_the_index_and_reused_after_an_edit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(ROOT / "tests" / "fixtures" / "kb" / "good", kb_dir)
    index_dir = tmp_path / "index"
    monkeypatch.setattr(semantic, "_MEMO", {})
    first = open_answerer(kb_dir, index_dir)
    assert first.settle()
    build = first.index.build
    first.close()
    assert (build / semantic.VECTORS_FILE).is_file()
    embedded: list[int] = []
    real = semantic.Embedder.encode_many

    def counting(self, texts, progress=None, stop=None):
        embedded.append(len(texts))
        return real(self, texts, progress, stop)

    monkeypatch.setattr(semantic.Embedder, "encode_many", counting)
    monkeypatch.setattr(semantic, "_MEMO", {})
    again = open_answerer(kb_dir, index_dir)
    assert again.settle() and embedded == []  # read from the cache file, nothing embedded
    again.close()
    # Edit one entry's question: a new index build, and only that text is embedded again.
    path = sorted(kb_dir.glob("*.md"))[0]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("question: ", "question: Please, ", 1), encoding="utf-8")
    monkeypatch.setattr(semantic, "_MEMO", {})
    edited = open_answerer(kb_dir, index_dir)
    assert edited.settle()
    assert edited.index.build != build and embedded == [1]
    edited.close()


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb_dir = ROOT / "tests" / "fixtures" / "kb" / "good"
    first = open_answerer(kb_dir, tmp_path / "index")
    assert first.settle()
    cache = first.index.build / semantic.VECTORS_FILE
    first.close()
    cache.write_bytes(b"PK\x03\x04 damaged")
    monkeypatch.setattr(semantic, "_MEMO", {})
    second = open_answerer(kb_dir, tmp_path / "index")
    assert second.settle() and second.ask("How long does a sanction last in the trial?").answered
    second.close()
    assert semantic._load_file(cache)  # written again, readable
