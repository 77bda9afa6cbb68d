#!/usr/bin/env python3
"""Which point of the (motion-weighed) saliency map should framing aim at? (session 25; README
"Measured", the row on the aim's point)

The engine aims at the centre of mass of the map raised to the power 6 (`[subjects]
saliency_power`). When the map lights two things farther apart than the window, that centre
lies between them, on neither. This script measures, on every STEP-th ground-truth frame of each
video whose window can move, the IoU with the annotated window of a window centred on:

  * `com`: the centre of mass of the map to the power 6 (the engine);
  * `mode{r}`: the mode of the map's strongest blob: mean shift of the same powered map from its
    peak, within a box of half-size `r` picture fractions;
  * `track{r}`: the same mean shift started from the previous sample's point (the sample 0.4 s or
    so earlier), kept unless the strongest blob holds twice its mass: continuity, as the fusion
    keeps a detected subject;
  * `win`: where the window itself holds the most of the powered map (the target's window, slid
    along its free axis);

each on UNISAL's map alone (`u_…`) and on the map weighed by the motion 0.2 s back with floor 0.1
as the engine does (`m_…`); next to the engine's own window (`eng`, from `highlightd replay …
--all-frames`) and the centred one (`cen`). Per frame, no path planning: only the differences
between the candidates mean something. Which candidate the other sets choose when each set is
left out is printed after the table. Two rules are then read off the same frames:

  * the camera gate: the weighed map only where the camera (the affine map between the two
    pictures: its translation and its zoom at the corner) moves slower than T picture diagonals a
    second, the plain map above (not built: README, Measured);
  * the box rule: on the frames a face, person or text box framed, that box only when the
    detector's score is at least E and it covers at least A of the picture, else the weighed map's
    centre (built as `[subjects] aim_box_score` / `aim_box_area`).

  engines/.venv/bin/python engines/studies/aim_mode.py --all OUT/all --dumps out/dumps \\
      --set dev2=../shared/evalsets/dev2 --set extra=/work/extra ... --rows OUT/rows.jsonl
  engines/.venv/bin/python engines/studies/aim_mode.py --from-rows OUT/rows.jsonl
where OUT/all/SET.jsonl is `highlightd replay SET --features DUMPS/SET -o OUT/all/SET.jsonl
--all-frames` and DUMPS the dumps of the engine being measured (session 25: session 24's).
"""
import argparse
import json
from pathlib import Path

import numpy as np

from coco_framing import window, window_iou as iou
from motion_framing import Unisal, affine, motion_grid, videos, weigh

POWER = 6
RADII = (0.1, 0.2)
GAP, FLOOR = 0.2, 0.1


def powered(mp):
    mp = np.maximum(mp, 0)
    if mp.max() <= 0:
        return None
    return (mp / mp.max()) ** POWER


def com(v):
    h, w = v.shape
    ys, xs = np.mgrid[0:h, 0:w]
    return float((v * (xs + 0.5) / w).sum() / v.sum()), float((v * (ys + 0.5) / h).sum() / v.sum())


def mode(v, r, iters=12, start=None):
    h, w = v.shape
    ys, xs = np.mgrid[0:h, 0:w]
    fx, fy = (xs + 0.5) / w, (ys + 0.5) / h
    if start is None:
        iy, ix = np.unravel_index(int(np.argmax(v)), v.shape)
        cx, cy = (ix + 0.5) / w, (iy + 0.5) / h
    else:
        cx, cy = start
    for _ in range(iters):
        m = (np.abs(fx - cx) <= r) & (np.abs(fy - cy) <= r)
        s = (v * m).sum()
        if s <= 0:
            break
        nx, ny = float((v * m * fx).sum() / s), float((v * m * fy).sum() / s)
        if abs(nx - cx) < 1e-4 and abs(ny - cy) < 1e-4:
            break
        cx, cy = nx, ny
    return cx, cy


def best_window(v, W, H, rw, rh):
    """Centre (fractions) of the target window that holds the most of `v`."""
    x, y, ww, wh = window(W, H, rw, rh, W / 2, H / 2)
    h, w = v.shape
    cx, cy = 0.5, 0.5
    for axis, size, pic in ((1, ww, W), (0, wh, H)):
        if size >= pic - 1:
            continue
        prof = v.sum(axis=1 - axis)
        n = len(prof)
        span = size / pic
        cells = np.arange(n)
        cs = span / 2 + (1 - span) * np.arange(201) / 200
        mass = np.array([float((prof * np.clip(np.minimum(cells + 1, (c + span / 2) * n) - np.maximum(cells, (c - span / 2) * n), 0, 1)).sum()) for c in cs])
        # A blob narrower than the window is held whole by a range of positions: the middle of
        # that range, not its first, centres it.
        top = cs[mass >= mass.max() * 0.999]
        arg = float((top.min() + top.max()) / 2)
        if axis == 1:
            cx = arg
        else:
            cy = arg
    return cx, cy


def blob_mass(v, x, y, r):
    h, w = v.shape
    ys, xs = np.mgrid[0:h, 0:w]
    return float((v * ((np.abs((xs + 0.5) / w - x) <= r) & (np.abs((ys + 0.5) / h - y) <= r))).sum())


def candidates(v, W, H, rw, rh, prev):
    """`prev`: the previous sample's `track{r}` points of this video (0.4 s or so earlier), or
    {} at the start of a video or after a gap."""
    out = {"com": com(v), "win": best_window(v, W, H, rw, rh)}
    for r in RADII:
        out[f"mode{r}"] = mode(v, r)
        # Continuity: keep the blob followed so far unless the strongest one holds twice its mass.
        start = prev.get(f"track{r}")
        if start is None:
            out[f"track{r}"] = out[f"mode{r}"]
        else:
            kept = mode(v, r, start=start)
            top = out[f"mode{r}"]
            out[f"track{r}"] = kept if blob_mass(v, *kept, r) * 2 >= blob_mass(v, *top, r) else top
    return out


def measure(unisal, name, folder, engine_all, dumps, step):
    rows = []
    for _, (W, H, rw, rh), fps, grey, samples in videos(name, folder, engine_all, dumps, step):
        k = max(1, round(GAP * fps))
        prev, prev_f = {"u": {}, "m": {}}, None
        for f, rgb, t, r, d in samples:
            if prev_f is None or f - prev_f > 2 * step:
                prev = {"u": {}, "m": {}}
            prev_f = f
            i0, i1 = (f - k, f) if f >= k else (f, f + k)
            if i1 >= len(grey):
                continue
            # The camera's own motion over the gap, in picture diagonals a second: the affine
            # map's translation and its zoom at the picture's corner.
            a = affine(grey[i0], grey[i1])
            gh, gw = grey[i1].shape
            r["cam"] = float(np.hypot(abs(a[2]) + abs(a[0]) * gw / 2, abs(a[5]) + abs(a[4]) * gh / 2) / np.hypot(gw, gh) / (k / fps))
            um = unisal(rgb)
            for tag, mp in (("u", um), ("m", weigh(um, motion_grid(grey[i0], grey[i1]), FLOOR))):
                v6 = powered(mp)
                if v6 is None:
                    continue
                points = candidates(v6, W, H, rw, rh, prev[tag])
                prev[tag] = points
                for c, (x, y) in points.items():
                    r[f"{tag}_{c}"] = iou(window(W, H, rw, rh, x * W, y * H), t)
                r[f"pt_{tag}_com"] = points["com"]
            # The engine's own subject and aim on this frame, for rules that choose between them.
            aim = d.get("aim") or {"x": d.get("subject_x", 0.5), "y": d.get("subject_y", 0.5)}
            r["pt_aim"] = (aim["x"], aim["y"])
            r["aim"] = iou(window(W, H, rw, rh, aim["x"] * W, aim["y"] * H), t)
            r["subject"] = {key: d.get(key) for key in ("subject_evidence", "subject_area")} | {key: d.get("nets", {}).get(key) for key in ("face", "person", "text")}
            r["geom"] = (W, H, rw, rh)
            r["truth"] = t
            rows.append(r)
    return rows


def point_table(rows, keys):
    """Mean IoU of each candidate per set (all frames, and those no box framed), and which
    motion-weighed candidate the other sets choose when each is left out."""
    table = {}
    for name in dict.fromkeys(r["set"] for r in rows):
        rs = [r for r in rows if r["set"] == name]
        sal = [r for r in rs if not r["net_box"]]
        table[name] = {k: float(np.mean([r[k] for r in rs])) for k in keys}
        print(f"{name:8s} {len(rs):4d} frames: " + " ".join(f"{k} {table[name][k]:.3f}" for k in keys))
        if sal:
            print(f"{'':8s} {len(sal):4d} saliency-framed: " + " ".join(f"{k} {np.mean([r[k] for r in sal]):.3f}" for k in keys))
    choices = [k for k in keys if k.startswith("m_")]
    for name in table:
        others = [o for o in table if o != name]
        if others:
            pick = max(choices, key=lambda c: np.mean([table[o][c] for o in others]))
            print(f"left out {name}: the others choose {pick} ({table[name][pick]:.3f}; m_com {table[name]['m_com']:.3f})")
    return table


def left_out(table, names, base, label):
    """For each set, the setting the other sets (never extra5) choose, and what it gives the set."""
    for i, name in enumerate(names):
        others = [j for j, o in enumerate(names) if j != i and o != "extra5"]
        pick = max(table, key=lambda g: np.mean([table[g][j] for j in others]))
        print(f"  left out {name}: the others choose {label(pick)}: {table[pick][i]:.3f} against {table[base][i]:.3f} ({table[pick][i] - table[base][i]:+.3f})")


def camera_gate(rows):
    """Motion-weighed map where the camera moves slower than T picture diagonals a second, the
    map alone above: does the weighing hurt when the camera is fast?"""
    names = list(dict.fromkeys(r["set"] for r in rows))
    gates = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, float("inf"))
    table = {T: [float(np.mean([r["m_com"] if r["cam"] < T else r["u_com"] for r in rows if r["set"] == n])) for n in names] for T in gates}
    print("camera gate T: " + " ".join(f"{n:>7s}" for n in names))
    for T in gates:
        print(f"  {T:<11g} " + " ".join(f"{v:7.3f}" for v in table[T]))
    left_out(table, names, float("inf"), lambda T: f"T {T:g}")


def box_rule(rows):
    """Framing's aim on the frames a box framed: the box only when its score is at least E and it
    covers at least A of the picture, else the motion-weighed map's centre (every box: the
    engine before session 25). All moving-window frames of each set count."""
    names = list(dict.fromkeys(r["set"] for r in rows))
    grid = [(E, A) for E in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9) for A in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)]

    def iou_of(r, E, A):
        if not r["net_box"]:
            return r["aim"]
        sub = r["subject"]
        return r["aim"] if (sub["subject_evidence"] or 0) >= E and (sub["subject_area"] or 0) >= A else r["m_com"]

    table = {g: [float(np.mean([iou_of(r, *g) for r in rows if r["set"] == n])) for n in names] for g in grid}
    print("box rule (E, A), gain over every box: " + " ".join(f"{n:>7s}" for n in names))
    for g in grid[1:]:
        print(f"  {str(g):11s} " + " ".join(f"{table[g][i] - table[(0.0, 0.0)][i]:+7.3f}" for i in range(len(names))))
    left_out(table, names, (0.0, 0.0), lambda g: f"E {g[0]} A {g[1]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], help="NAME=FOLDER")
    ap.add_argument("--all", type=Path, help="folder of the engine's all-frames replays, NAME.jsonl")
    ap.add_argument("--dumps", type=Path)
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "unisal_fp32.onnx")
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--rows", type=Path, help="write every measured frame here, a JSON line each")
    ap.add_argument("--from-rows", type=Path, nargs="+", help="analyse frames measured before (--rows) instead of measuring")
    a = ap.parse_args()
    cands = ["com", "win"] + [f"{k}{r}" for k in ("mode", "track") for r in RADII]
    keys = ["eng", "cen"] + [f"{t}_{c}" for t in "um" for c in cands]
    if a.from_rows:
        rows = [json.loads(line) for f in a.from_rows for line in open(f)]
    else:
        if not (a.set and a.all and a.dumps):
            ap.error("--set, --all and --dumps are needed to measure (or --from-rows)")
        unisal = Unisal(a.model)
        rows = []
        for spec in a.set:
            name, folder = spec.split("=", 1)
            rows += [{"set": name, **r} for r in measure(unisal, name, Path(folder), a.all, a.dumps, a.step) if all(k in r for k in keys)]
        if a.rows:
            a.rows.write_text("".join(json.dumps(r) + "\n" for r in rows))
    point_table(rows, keys)
    camera_gate(rows)
    box_rule(rows)


if __name__ == "__main__":
    main()
