#!/usr/bin/env python3
"""Reference implementation of the highlightd metric, written from SPEC.md sections 3-4.

Independent of the Rust code on purpose: `tests/metric_agreement.rs` runs both on random
prediction files and demands they agree. Standard library only.

Usage: python3 metric_reference.py PRED GT META
Prints one JSON object: {"score": <100 x mean F>, "videos": {"<video_id>": F, ...}}.
Exits with status 1 and a message on stderr when an input file is malformed.

Rules implemented (SPEC.md):
  * a prediction entry is {"frame": int, "bboxes": [x, y, w]} (a single nested triple
    [[x, y, w]] is accepted too); anything else is invalid but still submitted;
  * valid means: finite numbers, 0 <= frame < frame_count, x >= 0, y >= 0, w > 0,
    x + w <= width, y + h <= height with h = w * th / tw (real, not rounded);
  * N_pred counts every entry; only the first valid entry of a frame can score;
  * S = sum of IoU over those entries whose frame is a ground-truth frame;
  * F = 2S / (N_pred + N_gt), 1 when both are 0, 0 when exactly one is;
  * score = 100 x mean F over the ground-truth videos.
File conventions: lines matched by the string `video_id`; blank lines skipped; the GT's
`targetRatioWH` is the truth, a prediction line's own one (when present) sizes its boxes;
videos only in the predictions are ignored with a warning; a GT video without a prediction
line has no predictions.
"""

import json
import math
import sys

U32_MAX = 2**32 - 1


class InputError(Exception):
    pass


def _reject_constant(name):
    raise ValueError("non-standard JSON constant %s" % name)


def _strict_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range: %s" % text)
    return value


def jsonl_lines(path):
    """Yields (line_number, object) for every non-blank line of a JSONL file."""
    try:
        with open(path, encoding="utf-8") as fh:
            content = fh.read()
    except OSError as exc:
        raise InputError("%s: cannot read: %s" % (path, exc))
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_reject_constant, parse_float=_strict_float)
        except ValueError as exc:
            raise InputError("%s line %d: invalid JSON: %s" % (path, number, exc))
        if not isinstance(obj, dict):
            raise InputError("%s line %d: not a JSON object" % (path, number))
        yield number, obj


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def video_id_of(path, number, obj):
    if "video_id" not in obj:
        raise InputError("%s line %d: missing `video_id`" % (path, number))
    vid = obj["video_id"]
    if not isinstance(vid, str):
        raise InputError("%s line %d: `video_id` is not a string" % (path, number))
    return vid


def ratio_of(path, number, value):
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(is_int(side) and 0 < side <= U32_MAX for side in value)
    )
    if not ok:
        raise InputError("%s line %d: `targetRatioWH` must be two positive integers" % (path, number))
    return (value[0], value[1])


def read_entry(entry):
    """(frame, x, y, w) for a readable entry, None for an unreadable one."""
    if not isinstance(entry, dict) or "frame" not in entry or "bboxes" not in entry:
        return None
    frame = entry["frame"]
    if is_int(frame):
        pass
    elif isinstance(frame, float) and math.isfinite(frame) and frame == math.floor(frame):
        frame = int(frame)
    else:
        return None
    box = entry["bboxes"]
    if not isinstance(box, list):
        return None
    if len(box) == 1 and isinstance(box[0], list):
        box = box[0]
    if len(box) != 3 or not all(is_number(v) for v in box):
        return None
    try:
        x, y, w = (float(v) for v in box)
    except OverflowError:
        x = y = w = math.inf
    return frame, x, y, w


def valid(frame, x, y, w, ratio, meta):
    width, height, frames = meta
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w)):
        return False
    h = w * ratio[1] / ratio[0]
    if not math.isfinite(h):
        return False
    return (
        0 <= frame < frames
        and x >= 0
        and y >= 0
        and w > 0
        and x + w <= width
        and y + h <= height
    )


def overlap(a, ra, b, rb):
    ax, ay, aw = a
    bx, by, bw = b
    ah = aw * ra[1] / ra[0]
    bh = bw * rb[1] / rb[0]
    ix = min(ax + aw, bx + bw) - max(ax, bx)
    iy = min(ay + ah, by + bh) - max(ay, by)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    if union <= 0:
        return 0.0
    return inter / union


def video_f(entries, truth, pred_ratio, gt_ratio, meta):
    n_pred = len(entries)
    n_gt = len(truth)
    if n_pred + n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    used = set()
    total = 0.0
    for entry in entries:
        read = read_entry(entry)
        if read is None:
            continue
        frame, x, y, w = read
        if not valid(frame, x, y, w, pred_ratio, meta):
            continue
        if frame in used:
            continue
        used.add(frame)
        if frame in truth:
            total += overlap((x, y, w), pred_ratio, truth[frame], gt_ratio)
    return 2.0 * total / (n_pred + n_gt)


def load_meta(path):
    metas = {}
    for number, obj in jsonl_lines(path):
        vid = video_id_of(path, number, obj)
        fields = []
        for key, limit in (("width", U32_MAX), ("height", U32_MAX), ("frames", 2**64 - 1)):
            v = obj.get(key)
            if not (is_int(v) and 0 <= v <= limit):
                raise InputError("%s line %d: `%s` must be a non-negative integer" % (path, number, key))
            fields.append(v)
        if vid in metas:
            raise InputError("%s line %d: duplicate video_id %r" % (path, number, vid))
        metas[vid] = tuple(fields)
    return metas


def load_gt(path, metas):
    videos = []
    seen = set()
    for number, obj in jsonl_lines(path):
        vid = video_id_of(path, number, obj)
        if vid in seen:
            raise InputError("%s line %d: duplicate video_id %r" % (path, number, vid))
        seen.add(vid)
        if "targetRatioWH" not in obj:
            raise InputError("%s line %d: missing `targetRatioWH`" % (path, number))
        ratio = ratio_of(path, number, obj["targetRatioWH"])
        entries = obj.get("predictions")
        if not isinstance(entries, list):
            raise InputError("%s line %d: `predictions` missing or not an array" % (path, number))
        truth = {}
        for i, entry in enumerate(entries):
            read = read_entry(entry)
            if read is None:
                raise InputError("%s line %d: `predictions[%d]` unreadable" % (path, number, i))
            frame, x, y, w = read
            if frame in truth:
                raise InputError("%s line %d: `predictions[%d]` repeats frame %d" % (path, number, i, frame))
            truth[frame] = (x, y, w)
        if vid not in metas:
            raise InputError("%s line %d: video %r has no meta" % (path, number, vid))
        videos.append((vid, ratio, truth))
    if not videos:
        raise InputError("%s: no videos" % path)
    return videos


def load_pred(path, gt_ids):
    preds = {}
    for number, obj in jsonl_lines(path):
        vid = video_id_of(path, number, obj)
        if vid not in gt_ids:
            print("warning: %s line %d: video %r is not in the ground truth, ignored"
                  % (path, number, vid), file=sys.stderr)
            continue
        if vid in preds:
            raise InputError("%s line %d: duplicate video_id %r" % (path, number, vid))
        ratio = None
        if "targetRatioWH" in obj:
            ratio = ratio_of(path, number, obj["targetRatioWH"])
        entries = obj.get("predictions")
        if not isinstance(entries, list):
            raise InputError("%s line %d: `predictions` missing or not an array" % (path, number))
        preds[vid] = (ratio, entries)
    return preds


def main(argv):
    if len(argv) != 4:
        print("usage: metric_reference.py PRED GT META", file=sys.stderr)
        return 2
    pred_path, gt_path, meta_path = argv[1:]
    try:
        metas = load_meta(meta_path)
        truth_videos = load_gt(gt_path, metas)
        preds = load_pred(pred_path, {vid for vid, _, _ in truth_videos})
    except InputError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    per_video = {}
    for vid, gt_ratio, truth in truth_videos:
        ratio, entries = preds.get(vid, (None, []))
        per_video[vid] = video_f(entries, truth, ratio or gt_ratio, gt_ratio, metas[vid])
    score = 100.0 * sum(per_video.values()) / len(per_video)
    print(json.dumps({"score": score, "videos": per_video}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
