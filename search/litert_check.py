"""Top-1 labels of a .tflite classifier on a batch of images, with LiteRT and without TensorFlow.

Run as ``python -m edgelat.search.litert_check MODEL.tflite IMAGES.npy`` (one JSON line out), so
the check runs in a process of its own: LiteRT and TensorFlow are never mixed in one process.
int8 models get their inputs quantised with the model's own scale and zero point.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from edgelat.devices.runners.agreement import invoke_float


def predict_labels(model_path: str, images: np.ndarray) -> list[int]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=model_path, num_threads=1)
    interp.allocate_tensors()
    return [int(np.argmax(invoke_float(interp, img[None].astype(np.float32))[0])) for img in images]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m edgelat.search.litert_check MODEL.tflite IMAGES.npy", file=sys.stderr)
        return 2
    labels = predict_labels(argv[0], np.load(argv[1]))
    print(json.dumps({"labels": labels, "tensorflow_imported": "tensorflow" in sys.modules}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
