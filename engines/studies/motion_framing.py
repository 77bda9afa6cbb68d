#!/usr/bin/env python3
"""Does weighing the saliency map by the scene's own motion frame the annotated subject better?
(session 24; README "Measured", the row on framing's aim)

UNISAL learns where viewers look in general: the centre, a bright patch, a road's vanishing point.
A camera operator follows what moves. This script measures, on every STEP-th ground-truth frame of
each video whose window can move, the IoU with the annotated window of a window centred on:

  * `u6`: UNISAL's map, sharpened by the power 6 as `[subjects] saliency_power`;
  * `um{floor}@{gap}`: the same map times `floor + motion / its maximum`, the motion being what the
    picture `gap` seconds earlier, aligned by the best affine map (Lucas-Kanade), leaves
    unexplained, over the local gradient, on a 32-column grid (as `src/analyse/rigid.rs` does);

next to the engine's own window (`eng`, from `highlightd replay … --all-frames`) and the centred
one (`cen`). Windows are centred on each frame's point alone (no path planning), so only the
differences between the candidates mean something; the engine's all-frames replay, with and
without `[subjects] aim_by_motion`, is the measure through the planner. Per set and over the
frames the engine framed by the saliency map (no face, person or text box: `--dumps`), and which
(gap, floor) the other sets choose when each set is left out.

  engines/.venv/bin/python engines/studies/motion_framing.py --all OUT/all --dumps out/dumps \\
      --set dev2=../shared/evalsets/dev2 --set extra=/work/extra ...
where OUT/all/SET.jsonl is `highlightd replay SET --features DUMPS/SET -o OUT/all/SET.jsonl
--all-frames` on dumps made by `predict --dump-features` with `[subjects] aim_by_motion = false`
(the engine before the change: the aim is made when the video is analysed, so a replay frames on
whatever aim its dumps hold).
"""
import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from coco_framing import lines, window, window_iou as iou

GAPS = (0.2, 0.5)
FLOORS = (0.1, 0.3)
SIDE = 192
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def blur(p):
    q = np.pad(p, 1, mode="edge")
    p = (q[:-2, 1:-1] + q[1:-1, 1:-1] + q[2:, 1:-1]) / 3
    q = np.pad(p, 1, mode="edge")
    return (q[1:-1, :-2] + q[1:-1, 1:-1] + q[1:-1, 2:]) / 3


def down(p):
    h, w = p.shape[0] // 2 * 2, p.shape[1] // 2 * 2
    p = p[:h, :w]
    return 0.25 * (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2])


def sample(img, X, Y):
    H, W = img.shape
    x0, y0 = np.floor(X).astype(int), np.floor(Y).astype(int)
    fx, fy = X - x0, Y - y0
    valid = (x0 >= 0) & (y0 >= 0) & (x0 < W - 1) & (y0 < H - 1)
    x0, y0 = np.clip(x0, 0, W - 2), np.clip(y0, 0, H - 2)
    v = img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x0 + 1] * fx * (1 - fy) + img[y0 + 1, x0] * (1 - fx) * fy + img[y0 + 1, x0 + 1] * fx * fy
    return v, valid


def grid(H, W):
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    return xs, ys, xs - (W - 1) / 2, ys - (H - 1) / 2


def affine(prev, cur, levels=3, iters=8):
    """x' = x + a·xc + b·yc + tx, y' = y + c·xc + d·yc + ty (coordinates about the centre), robust
    (Huber) Gauss-Newton, coarse to fine."""
    pp, pc = [prev], [cur]
    for _ in range(levels - 1):
        pp.append(down(pp[-1]))
        pc.append(down(pc[-1]))
    p = np.zeros(6)
    for L in range(levels - 1, -1, -1):
        P, C = pp[L], pc[L]
        xs, ys, xc, yc = grid(*C.shape)
        gy, gx = np.gradient(P)
        for _ in range(iters):
            X, Y = xs + p[0] * xc + p[1] * yc + p[2], ys + p[3] * xc + p[4] * yc + p[5]
            Pw, m = sample(P, X, Y)
            Gx, _ = sample(gx, X, Y)
            Gy, _ = sample(gy, X, Y)
            m[:2], m[-2:], m[:, :2], m[:, -2:] = False, False, False, False
            if m.sum() < 50:
                break
            r = (C - Pw)[m]
            c = 2.0 * (1.4826 * np.median(np.abs(r - np.median(r))) + 1.0)
            w = np.where(np.abs(r) < c, 1.0, c / np.maximum(np.abs(r), 1e-6))
            J = np.stack([Gx[m] * xc[m], Gx[m] * yc[m], Gx[m], Gy[m] * xc[m], Gy[m] * yc[m], Gy[m]], 1)
            dp = np.linalg.solve((J * w[:, None]).T @ J + 1e-3 * np.eye(6), (J * w[:, None]).T @ r)
            p += dp
            if np.abs(dp[[2, 5]]).max() < 0.01 and np.abs(dp[[0, 1, 3, 4]]).max() < 1e-4:
                break
        if L > 0:
            p[2] *= 2
            p[5] *= 2
    return p


def motion_grid(prev, cur, cols=32):
    p = affine(prev, cur)
    pb, cb = blur(prev), blur(cur)
    H, W = cur.shape
    xs, ys, xc, yc = grid(H, W)
    Pw, m = sample(pb, xs + p[0] * xc + p[1] * yc + p[2], ys + p[3] * xc + p[4] * yc + p[5])
    gy, gx = np.gradient(cb)
    r = np.abs(cb - Pw) / (np.hypot(gx, gy) + 4.0)
    m[:3], m[-3:], m[:, :3], m[:, -3:] = False, False, False, False
    rows = max(2, round(cols * H / W))
    cell = (np.arange(H)[:, None] * rows // H) * cols + np.arange(W)[None, :] * cols // W
    s = np.bincount(cell[m], r[m], rows * cols)
    n = np.bincount(cell[m], None, rows * cols)
    return np.where(n > 0, s / np.maximum(n, 1), 0.0).reshape(rows, cols)


class Unisal:
    def __init__(self, path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.name = self.s.get_inputs()[0].name

    def __call__(self, rgb):
        a = (np.asarray(Image.fromarray(rgb).resize((416, 256), Image.BILINEAR)).astype(np.float32) / 255 - MEAN) / STD
        o = np.exp(self.s.run(None, {self.name: a.transpose(2, 0, 1)[None, None].astype(np.float32)})[0][0, 0, 0])
        m = o.reshape(32, 8, 52, 8).mean(axis=(1, 3))
        return m / m.max()


def centre(mp, power):
    mp = np.maximum(mp, 0)
    if mp.max() <= 0:
        return None
    v = (mp / mp.max()) ** power
    h, w = v.shape
    ys, xs = np.mgrid[0:h, 0:w]
    return float((v * (xs + 0.5) / w).sum() / v.sum()), float((v * (ys + 0.5) / h).sum() / v.sum())


def weigh(um, motion, floor):
    h, w = um.shape
    m = motion[(np.arange(h) * motion.shape[0] // h)][:, (np.arange(w) * motion.shape[1] // w)]
    return um * (floor + m / max(m.max(), 1e-9))


def frames(path, W, H):
    """(rgb, grey at SIDE on the long side) of every frame."""
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    sc = min(1.0, SIDE / max(W, H))
    size = (max(2, round(W * sc / 2) * 2), max(2, round(H * sc / 2) * 2))
    while (raw := dec.stdout.read(W * H * 3)) and len(raw) == W * H * 3:
        rgb = np.frombuffer(raw, np.uint8).reshape(H, W, 3)
        yield rgb, np.asarray(Image.fromarray(rgb).convert("L").resize(size, Image.BICUBIC), np.float32)
    dec.kill()
    dec.wait()


def videos(name, folder, engine_all, dumps, step):
    """Each video of a set whose window can move, decoded: its id, (W, H, rw, rh), fps, the grey
    pictures of every frame, and the frames to measure (every STEP-th ground-truth frame the
    engine framed) as (frame, its RGB picture, the true window, the row's first fields: the
    engine's and the centred window's IoU, whether a box framed it; the dumped features)."""
    gt, meta, index, engine = lines(folder / "gt.jsonl"), lines(folder / "meta.jsonl"), lines(folder / "index.jsonl"), lines(engine_all / f"{name}.jsonl")
    for v, g in gt.items():
        W, H, fps = meta[v]["width"], meta[v]["height"], meta[v].get("fps", 25)
        rw, rh = g["targetRatioWH"]
        if abs(W / H - rw / rh) < 0.02 or not g["predictions"]:
            continue
        truth = {p["frame"]: p["bboxes"] for p in g["predictions"]}
        ours = {p["frame"]: p["bboxes"] for p in engine[v]["predictions"]}
        want = set(sorted(truth)[::step])
        dumped = {}
        for line in open(dumps / name / f"{v}.jsonl"):
            j = json.loads(line)
            if "frame" in j:
                dumped[j["frame"]] = j["f"]
        grey, rgb_at = [], {}
        for k, (rgb, gr) in enumerate(frames(folder / index[v]["video"], W, H)):
            grey.append(gr)
            if k in want:
                rgb_at[k] = rgb
        samples = []
        for f in sorted(want):
            if f not in rgb_at or f not in ours:
                continue
            b, e = truth[f], ours[f]
            t = (b[0], b[1], b[2], b[2] * rh / rw)
            d = dumped.get(f, {})
            row = {"v": v, "f": f, "net_box": d.get("subject_area", 0) > 0, "eng": iou((e[0], e[1], e[2], e[2] * rh / rw), t),
                   "cen": iou(window(W, H, rw, rh, W / 2, H / 2), t)}
            samples.append((f, rgb_at[f], t, row, d))
        yield v, (W, H, rw, rh), fps, grey, samples


def measure(unisal, name, folder, engine_all, dumps, step):
    rows = []
    for _, (W, H, rw, rh), fps, grey, samples in videos(name, folder, engine_all, dumps, step):
        for f, rgb, t, r, _ in samples:
            um = unisal(rgb)
            c = centre(um, 6)
            r["u6"] = iou(window(W, H, rw, rh, c[0] * W, c[1] * H), t)
            for gap in GAPS:
                k = max(1, round(gap * fps))
                i0, i1 = (f - k, f) if f >= k else (f, f + k)
                if i1 >= len(grey):
                    continue
                mg = motion_grid(grey[i0], grey[i1])
                for floor in FLOORS:
                    c = centre(weigh(um, mg, floor), 6)
                    if c:
                        r[f"um{floor}@{gap}"] = iou(window(W, H, rw, rh, c[0] * W, c[1] * H), t)
            rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", required=True, help="NAME=FOLDER")
    ap.add_argument("--all", type=Path, required=True, help="folder of the engine's all-frames replays, NAME.jsonl")
    ap.add_argument("--dumps", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "unisal_fp32.onnx")
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    unisal = Unisal(a.model)
    keys = ["eng", "cen", "u6"] + [f"um{fl}@{g}" for g in GAPS for fl in FLOORS]
    table = {}
    for spec in a.set:
        name, folder = spec.split("=", 1)
        rows = [r for r in measure(unisal, name, Path(folder), a.all, a.dumps, a.step) if all(k in r for k in keys)]
        sal = [r for r in rows if not r["net_box"]]
        table[name] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        print(f"{name:8s} {len(rows):4d} frames: " + " ".join(f"{k} {table[name][k]:.3f}" for k in keys), flush=True)
        print(f"{'':8s} {len(sal):4d} saliency-framed: " + " ".join(f"{k} {np.mean([r[k] for r in sal]):.3f}" for k in keys), flush=True)
    choices = [k for k in keys if k.startswith("um")]
    for name in table:
        others = [o for o in table if o != name]
        if others:
            pick = max(choices, key=lambda c: np.mean([table[o][c] for o in others]))
            print(f"left out {name}: the others choose {pick} ({table[name][pick]:.3f}; u6 {table[name]['u6']:.3f})")
    if a.json:
        a.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
