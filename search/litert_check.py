"""Top-1 labels of a .tflite classifier on a batch of images, with LiteRT and without TensorFlow.

Run as ``python -m edgelat.search.litert_check MODEL.tflite IMAGES.npy`` (one JSON line out), so
the check runs in a process of its own: LiteRT and TensorFlow are never mixed in one process.
int8 models get their inputs quantised with the model's own scale and zero point.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def predict_labels(model_path: str, images: np.ndarray) -> list[int]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=model_path, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    labels = []
    for img in images:
        x = img[None].astype(np.float32)
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"])[0].astype(np.float32)
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y - zero) * scale
        labels.append(int(np.argmax(y)))
    return labels


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m edgelat.search.litert_check MODEL.tflite IMAGES.npy", file=sys.stderr)
        return 2
    labels = predict_labels(argv[0], np.load(argv[1]))
    print(json.dumps({"labels": labels, "tensorflow_imported": "tensorflow" in sys.modules}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
