"""Sentence vectors: how close two questions are in meaning, not only in shared words.

"do companies run virtual internships well" and "is remote work as an intern any good" share
no content word; BM25 cannot see that they ask the same thing. WordLlama's static token
embeddings (the token-embedding table of an LLM, distilled for sentence similarity, shipped
inside the ``wordllama`` wheel: 32,000 tokens x 256 dimensions, 16 MB) can: a sentence is
the mean of its tokens' vectors, one table look-up per token, about 15 microseconds a question
and no network, ever.

Measured on the advice sets (``bench/advice_fit.py``), as a second opinion beside the lexical
search, not instead of it: alone it ranks worse than BM25F, but next to it it lifts the right
entry to first place more often, and "how close is this to questions we refuse" tells
near-domain questions from ours far better than word counts do.

The files are read straight from the installed package with ``tokenizers`` and
``safetensors``, which is all ``WordLlama.embed`` does for this (mean-pooled, normalised
token vectors; checked equal to 1e-7): importing ``wordllama`` itself would configure the
root logger at INFO level (``logging.basicConfig`` at import) and, in 0.4.0, look for its
tokenizer in a directory its wheel does not have, then try to download it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

MODEL = "l2_supercat"
DIMENSIONS = 256


class Embedder:
    def __init__(self, package_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(package_dir / "tokenizers" / f"{MODEL}_tokenizer_config.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        # Kept as stored (float16, 16 MB); the few rows a text needs are widened when summed.
        self.table = load_file(str(package_dir / "weights" / f"{MODEL}_{DIMENSIONS}.safetensors"))["embedding.weight"]

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text (a zero row for text with no tokens)."""
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:
                v = self.table[encoding.ids].sum(axis=0, dtype=np.float32)  # the mean's direction: the norm divides the count out
                norm = float(np.linalg.norm(v))
                if norm:
                    out[row] = v / norm
        return out


@functools.cache
def embedder() -> Embedder:
    """Loaded once per process (about a tenth of a second): the table and the tokenizer."""
    spec = importlib.util.find_spec("wordllama")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed (pip install wordllama)")
    return Embedder(Path(next(iter(spec.submodule_search_locations))))


def embed(texts: list[str]) -> np.ndarray:
    return embedder()(texts)
