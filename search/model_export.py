"""Export a searched network: model.keras, fp32 and full-integer int8 TFLite, and a LiteRT check.

The int8 model is calibrated on the dataset's training images. The check runs both TFLite
files in LiteRT (in a process without TensorFlow) on the test split and reports their top-1
and their agreement with the Keras model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.core.builders import build_network
from edgelat.core.convert import convert_model
from edgelat.core.paths import ensure_dir
from edgelat.core.spaces import SearchSpace
from edgelat.errors import ConversionError, SearchError
from edgelat.search.weights import copy_weights


def litert_labels(model_path: Path, images: np.ndarray) -> list[int]:
    """Top-1 labels from LiteRT, computed in a subprocess that never imports TensorFlow."""
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "images.npy"
        np.save(npy, images.astype(np.float32))
        proc = subprocess.run([sys.executable, "-m", "edgelat.search.litert_check", str(model_path), str(npy)],
                              capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SearchError(f"{model_path}: LiteRT could not run the exported model: {tail}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.get("tensorflow_imported"):
        raise SearchError("the LiteRT check imported TensorFlow")
    return out["labels"]


def export_network(out_dir: Path, space: SearchSpace, arch: np.ndarray, model, data, *,
                   calibration_samples: int = 100, check_samples: int = 200, seed: int = 0) -> dict[str, Any]:
    """Write the model files to `out_dir`; `data` is at the space's resolution. Returns the file
    paths and the LiteRT check (top-1 of each file, int8 agreement with Keras)."""
    ensure_dir(out_dir, "the exported model")
    files = {"keras": out_dir / "model.keras", "fp32": out_dir / "model_fp32.tflite",
             "int8": out_dir / "model_int8.tflite"}
    model.save(files["keras"])
    single = build_network(space, arch, batch_size=1, seed=seed)
    copy_weights(single, model)
    try:
        files["fp32"].write_bytes(convert_model(single, "fp32").data)
        calib = data.x_train[np.random.default_rng(seed).permutation(len(data.x_train))[:calibration_samples]]
        files["int8"].write_bytes(convert_model(single, "int8", calibration_samples=len(calib), seed=seed,
                                                representative=calib).data)
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(f"{space.encode(arch)}: export failed: {str(exc).splitlines()[0]}") from exc
    x, y = data.x_test[:check_samples], data.y_test[:check_samples]
    keras_labels = np.concatenate([np.argmax(model(x[i : i + 64], training=False).numpy(), axis=1)
                                   for i in range(0, len(x), 64)])
    check: dict[str, Any] = {"samples": int(len(y)), "keras_top1": float(np.mean(keras_labels == y))}
    for kind in ("fp32", "int8"):
        labels = np.array(litert_labels(files[kind], x))
        check[f"{kind}_top1"] = float(np.mean(labels == y))
        check[f"{kind}_agreement_with_keras"] = float(np.mean(labels == keras_labels))
    check["bytes"] = {k: files[k].stat().st_size for k in ("fp32", "int8")}
    return {"files": {k: str(v) for k, v in files.items()}, "check": check}
