"""Batch scoring as plain callables (Ray's guidance: heavy state in ``__init__``, a pure
``__call__(batch) -> batch``), usable with or without Ray.

``DLPredictor`` holds the network (GPU when asked and present) and scores crops made by
``deep/crops.py`` on CPU workers. A row whose image cannot be decoded gets a null score and its
reason, never an exception.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from sonorisk.deep.factory import create_model
    >>> from sonorisk.deep.model_io import save_model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = save_model(create_model("vit_small", input_size=16), folder, {})
    >>> batch = {"pixels": np.zeros((3, 16, 16), np.float32), "crop_error": np.array(["", "", "bad PNG"])}
    >>> out = DLPredictor(str(folder))(batch)
    >>> np.isnan(out["dl_score"]).tolist()
    [False, False, True]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sonorisk.deep.model_io import load_card, load_model


class DLPredictor:
    """The selected network, loaded once (hash-checked); scores batches of crops."""

    def __init__(self, model_dir: str, device: str = "auto", batch_size: int = 64) -> None:
        # torch is imported here, in the actor, not where the class is imported: the driver that
        # builds the Ray Data pipeline never pays torch's ~400 MB.
        import torch

        from sonorisk.deep.train import predict

        self._predict = predict
        resolved = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
        self.device = torch.device(resolved)
        self.model = load_model(Path(model_dir), self.device)
        card = load_card(Path(model_dir))
        self.model_id = card["architecture"]
        self.model_sha256 = card["weights_sha256"]
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        errors = np.asarray(batch["crop_error"], dtype=object)
        ok = np.array([not e for e in errors], dtype=bool)
        scores = np.full(len(errors), np.nan)
        if ok.any():
            scores[ok] = self._predict(self.model, np.asarray(batch["pixels"])[ok], self.batch_size, self.device)
        out = {k: v for k, v in batch.items() if k != "pixels"}
        out["dl_score"] = scores
        out["model_id"] = np.array([self.model_id] * len(errors), dtype=object)
        out["model_sha256"] = np.array([self.model_sha256] * len(errors), dtype=object)
        return out
