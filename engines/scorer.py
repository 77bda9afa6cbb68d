"""The learned highlight scorer: data loading, training and ONNX export (numpy + onnx only).

Used by train_scorer.py (the shipped model, fit on every listed set) and crossval.py (one
model per held-out fold). The rows are read from `highlightd predict --dump-features` dumps,
so the network sees exactly what `src/select/scorer.rs` feeds it at run time.

Model: standardise -> 32 ReLU -> 16 ReLU -> sigmoid, trained full-batch with Adam on a
video-balanced binary cross-entropy (each video weighs the same however long it is, so a
long video cannot dominate) with L2 decay (1e-2: chosen by the held-out folds of crossval.py,
where it beat 1e-4 on dev2 and extra; stronger decay, 3e-2 to 1e-1, brings the in-sample fit
down towards the held-out score but loses held out: over three fold draws 5e-2 gave dev2 69.9
against 70.4 and extra 69.1 against 71.4). Deterministic for a given seed and data.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Settings:
    """How the scorer is fit. The defaults are the shipped model's; crossval.py compares others
    on held-out folds (--l2, --steps, --hidden, --stage1-skip, --stage1-drop, --stage2-drop) before one is
    shipped here, and train_scorer.py records the ones it used in the model card."""
    hidden: tuple = (32, 16)
    # L2 decay and full-batch Adam steps of every network.
    l2: float = 1e-2
    steps: int = 1000
    # Sets whose videos stage 1 (footage or not) does not learn from; stage 2 still does.
    # Empty since session 16: stage 1 learning from every set's footage (extra2's soft,
    # re-encoded previews and extra4's thermal pictures too) raised the held-out score of
    # every set over three fold draws (extra2 +6.6, extra4 +3.3, dev2 +0.9) and the
    # leave-one-kind-out mean over every set's kinds; what it costs is in train_scorer.py.
    stage1_skip: frozenset = frozenset()
    # Per-frame numbers (BASE_NAMES; the frame's own, ±1 s and shot columns alike) stage 1 does
    # not see: colour is no evidence of whether a picture comes from a camera (train_scorer.py).
    stage1_drop: frozenset = frozenset({"saturation", "colour_entropy"})
    # Per-frame numbers stage 2 (which real moment is the highlight) does not see.
    stage2_drop: frozenset = frozenset()
    # Networks averaged per stage (each a whole two-stage fit from its own seed: its own
    # initial weights and its own inner split for stage 2's out-of-fold rows). Tried in
    # session 11 against the folds' swings on unfamiliar material: 5 members moved the
    # held-out means of all five sets by at most 0.24 over three fold draws, so one it is.
    members: int = 1
    # Standard deviation of the Gaussian noise added to the standardised rows at every
    # training step (0: none). Session 11, three fold draws: 0.5 and 1.0 traded a point or
    # two between sets (README, "Measured"), no gain on all of them, so none.
    noise: float = 0.0

    @staticmethod
    def add_args(ap, tuning=False):
        """The command-line flags of the settings (`tuning`: also decay, steps and sizes)."""
        d = DEFAULT
        if tuning:
            ap.add_argument("--l2", type=float, default=d.l2, help=f"L2 decay of the networks (default {d.l2})")
            ap.add_argument("--steps", type=int, default=d.steps, help=f"training steps per network (default {d.steps})")
            ap.add_argument("--hidden", default=",".join(map(str, d.hidden)), help="hidden layer sizes, e.g. 32,16")
        ap.add_argument("--noise", type=float, default=None,
                        help=f"std of the noise added to the standardised rows in training (default {d.noise})")
        ap.add_argument("--members", type=int, default=None,
                        help=f"networks averaged per stage, each fit from its own seed (default {d.members})")
        ap.add_argument("--stage1-skip", action="append", metavar="NAMES",
                        help="comma-separated sets the first stage (footage or not) does not learn from; the second "
                             "stage does (repeatable; default: "
                             f"{','.join(sorted(d.stage1_skip)) or 'every set learns'}; 'none' for none)")
        ap.add_argument("--stage2-drop", metavar="NAMES",
                        help="comma-separated per-frame numbers (BASE_NAMES) the second stage does not see "
                             f"(default: {','.join(sorted(d.stage2_drop)) or 'none'}; 'none' for none)")
        ap.add_argument("--stage1-drop", metavar="NAMES",
                        help="comma-separated per-frame numbers (BASE_NAMES) the first stage does not see "
                             f"(default: {','.join(sorted(d.stage1_drop))}; 'none' for none)")

    @staticmethod
    def from_args(args):
        """Settings from the flags of [`add_args`]; a flag not given keeps the shipped default."""
        names = lambda v: frozenset(n for n in v if n and n != "none")
        kw = {}
        if getattr(args, "l2", None) is not None:
            kw.update(l2=args.l2, steps=args.steps, hidden=tuple(int(h) for h in args.hidden.split(",")))
        if getattr(args, "members", None) is not None:
            kw["members"] = args.members
        if getattr(args, "noise", None) is not None:
            kw["noise"] = args.noise
        if args.stage1_skip is not None:
            kw["stage1_skip"] = names(n for v in args.stage1_skip for n in v.split(","))
        if args.stage1_drop is not None:
            kw["stage1_drop"] = names(args.stage1_drop.split(","))
        if getattr(args, "stage2_drop", None) is not None:
            kw["stage2_drop"] = names(args.stage2_drop.split(","))
        return Settings(**kw).check()

    def check(self):
        unknown = (set(self.stage1_drop) | set(self.stage2_drop)) - set(BASE_NAMES)
        if unknown:
            raise SystemExit(f"stage-1 or stage-2 drop: unknown per-frame numbers {sorted(unknown)}")
        if self.members < 1:
            raise SystemExit(f"members: {self.members} networks per stage; at least 1")
        return self

    def check_sets(self, sets):
        """Refuses a `stage1_skip` name that is none of `sets` (a typo would skip nothing)."""
        unknown = set(self.stage1_skip) - set(sets)
        if unknown:
            raise SystemExit(f"--stage1-skip: {', '.join(sorted(unknown))} is not a set here ({', '.join(sets)})")
        return self

    def card(self):
        return {"hidden": list(self.hidden), "l2": self.l2, "steps": self.steps,
                "stage1_skip": sorted(self.stage1_skip), "stage1_drop": sorted(self.stage1_drop),
                "stage2_drop": sorted(self.stage2_drop),
                "members": self.members, "noise": self.noise}

    def stage1_mask(self, names):
        """0/1 per input column: 0 where the column is one of `stage1_drop`'s numbers."""
        return _mask(names, self.stage1_drop)

    def stage2_mask(self, names):
        """0/1 per column of stage 2's row (the inputs, then the relative row, always seen): 0
        where the column is one of `stage2_drop`'s numbers."""
        return np.concatenate([_mask(names, self.stage2_drop), np.ones(len(RELATIVE), dtype=np.float32)])


def _mask(names, drop):
    base = lambda n: n.removeprefix("win_").removeprefix("shot_")
    return np.array([0.0 if base(n) in drop else 1.0 for n in names], dtype=np.float32)


DEFAULT = Settings()


def read_dump(path):
    """(header, X [n, d] float32, R [n, r] or None) of one dump file; R is the relative row the
    engine fed its scorer's second stage, when it had one (for the parity check)."""
    with open(path) as f:
        header = json.loads(f.readline())["header"]
        lines = [json.loads(l) for l in f if l.strip()]
    x = np.asarray([l["x"] for l in lines], dtype=np.float32).reshape(len(lines), len(header["inputs"]))
    r = None
    if lines and lines[0].get("r"):
        r = np.asarray([l["r"] for l in lines], dtype=np.float32)
    return header, x, r


# The per-frame numbers, in row order: BASE of src/select/scorer.rs.
BASE_NAMES = ["luma_mean", "luma_std", "ln_sharpness", "ln_change", "ln_peak_change", "dominant_share", "subject_evidence",
              "ln_action", "camera_per_s", "colour_entropy", "saturation", "flat_share", "detail_sparsity", "net_present", "net_face",
              "net_person", "net_text", "net_spread", "excitement", "speech", "subject_size", "ln_subject_speed",
              "ln_world_speed", "ln_scale_rate"]
BASE_LEN = len(BASE_NAMES)
# A dump's columns (`input_names` of src/select/scorer.rs): the frame's, their ±1 s mean, their shot median, the shot's length.
INPUT_NAMES = BASE_NAMES + [f"win_{n}" for n in BASE_NAMES] + [f"shot_{n}" for n in BASE_NAMES] + ["ln_shot_s"]
MOTION = [3, 4, 7, 8, 21, 22]
# Seconds a footage shot needs to set the relative row's reference speed (src/select/scorer.rs).
REFERENCE_MIN_S = 1.0
RELATIVE = ["logit_p1", "shot_logit_p1", "rel_ln_change", "rel_ln_peak_change", "rel_ln_action", "rel_camera_per_s",
            "rel_ln_subject_speed", "rel_ln_world_speed", "ln_footage_shots", "footage_share"]


def frames_in(fps, seconds):
    """Frames in `seconds` at `fps`, rounded as Rust's `f64::round` does (half away from zero),
    as src/select/scorer.rs counts them. Python's `round` rounds half to even: at 25 fps half a
    second is 12 frames there and 13 in the engine, and the model would be trained on shots the
    engine never calls footage."""
    v = fps * seconds
    whole = math.floor(v)
    return int(whole + (1 if v - whole >= 0.5 else 0))


def relative(x, p1, shots, fps):
    """The second-stage row; the same computation as `relative` in src/select/scorer.rs (float32)."""
    n = len(p1)
    p1 = np.asarray(p1, dtype=np.float32)
    pc = np.clip(p1, np.float32(1e-4), np.float32(1 - 1e-4))
    logit = np.clip(np.log(pc / (np.float32(1) - pc)), -6, 6).astype(np.float32) / np.float32(6)
    min_len = max(1, frames_in(fps, 0.5))
    per = []
    for a, b in shots:
        if b > n or b <= a:
            continue
        mean = np.float32(sum(p1[a:b].tolist())) / np.float32(b - a)
        lmean = np.float32(sum(logit[a:b].tolist())) / np.float32(b - a)
        per.append((a, b, lmean, mean >= 0.5 and b - a >= min_len, x[a, 2 * BASE_LEN + np.array(MOTION)]))
    foot = [s for s in per if s[3]]
    foot_frames = sum(b - a for a, b, *_ in foot)
    # REFERENCE_MIN_S of src/select/scorer.rs: only footage shots of a second or more set the
    # reference speed (all of them when none is that long).
    long = max(min_len, frames_in(fps, REFERENCE_MIN_S))
    refs = [s for s in foot if s[1] - s[0] >= long] or foot
    ref = np.max(np.stack([s[4] for s in refs]), 0) if refs else None
    out = np.zeros((n, len(RELATIVE)), dtype=np.float32)
    for a, b, lmean, is_foot, motion in per:
        out[a:b, 0] = logit[a:b]
        out[a:b, 1] = lmean
        m = 2 + len(MOTION)
        out[a:b, 2:m] = 0 if ref is None else motion - ref
        out[a:b, m] = np.log1p(np.float32(len(foot)))
        out[a:b, m + 1] = (b - a) / foot_frames if is_foot and foot_frames else 0
    return out


def read_gt(path):
    """video_id -> set of ground-truth frames."""
    out = {}
    for line in open(path):
        if line.strip():
            d = json.loads(line)
            out[d["video_id"]] = {p["frame"] for p in d["predictions"]}
    return out


def footage_ranges(set_dir):
    """video_id -> [start, end) frame ranges of real recorded footage (highlight or not), from a
    set's sources.jsonl where it has one (dev2: every clip, active or calm). A set without it
    (dev) has no calm clips: its footage is its ground truth."""
    p = Path(set_dir) / "sources.jsonl"
    if not p.exists():
        return None
    out = {}
    for line in open(p):
        d = json.loads(line)
        out[d["video_id"]] = [c["frames"] for c in d.get("clips", [])]
    return out


def load_set(dump_dir, gt_path, tag):
    """Videos of one evaluation set: list of dicts with key, id, X, y (highlight), footage."""
    gt = read_gt(gt_path)
    ranges = footage_ranges(Path(gt_path).parent)
    videos = []
    for vid in sorted(gt):
        p = Path(dump_dir) / f"{vid}.jsonl"
        if not p.exists():
            raise SystemExit(f"{p}: no dump for video {vid} (run predict --dump-features first)")
        header, x, r = read_dump(p)
        if header["inputs"] != INPUT_NAMES:
            raise SystemExit(f"{p}: dumped with {len(header['inputs'])} columns, the rows are now {len(INPUT_NAMES)} "
                             f"(columns differ from {next((a for a, b in zip(header['inputs'] + [None] * 99, INPUT_NAMES) if a != b), '?')!r}); "
                             "remake the dumps with this build (scripts/crossval.sh --redump)")
        y = np.zeros(len(x), dtype=np.float32)
        for fr in gt[vid]:
            if fr < len(y):
                y[fr] = 1.0
        footage = y.copy()
        if ranges is not None:
            footage[:] = 0
            for a, b in ranges.get(vid, []):
                footage[a:b] = 1
        videos.append({"key": f"{tag}/{vid}", "set": tag, "id": vid, "X": x, "y": y, "footage": footage, "R_engine": r,
                       "names": header["inputs"], "shots": header["shots"], "fps": header["fps"]})
    return videos


def _init(rng, sizes):
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws.append([rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float32), np.zeros(b, dtype=np.float32)])
    return ws


STRIDE = 2  # consecutive frames are near copies: every other one trains as well, twice as fast


def train_mlp(Xs, ys, settings=DEFAULT, seed=7, lr=3e-3, mask=None):
    """Fits one network on per-video row blocks `Xs` and labels `ys`; returns (mean, inv_std, layers).
    `mask` (0/1 per column) blinds the network to the columns at 0: they are standardised to 0
    in training and, through an inverse spread of 0, in the exported graph."""
    steps, l2 = settings.steps, settings.l2
    X = np.concatenate([x[::STRIDE] for x in Xs]).astype(np.float32)
    y = np.concatenate([v[::STRIDE] for v in ys]).astype(np.float32)
    w = np.concatenate([np.full(len(v[::STRIDE]), 1.0 / max(1, len(v[::STRIDE]))) for v in ys])
    w = (w / w.sum()).astype(np.float32)
    mean = X.mean(0)
    std = X.std(0)
    std[std < 1e-6] = 1.0
    inv = (1.0 / std).astype(np.float32)
    if mask is not None:
        inv = inv * np.asarray(mask, dtype=np.float32)
    Z = (X - mean) * inv
    rng = np.random.default_rng(seed)
    layers = _init(rng, [Z.shape[1], *settings.hidden, 1])
    m = [[np.zeros_like(a) for a in l] for l in layers]
    s = [[np.zeros_like(a) for a in l] for l in layers]
    b1, b2, eps = 0.9, 0.999, 1e-8
    keep = None if mask is None else np.asarray(mask, dtype=np.float32)
    for t in range(1, steps + 1):
        Zt = Z
        if settings.noise > 0:
            e = rng.normal(0, settings.noise, Z.shape).astype(np.float32)
            Zt = Z + (e if keep is None else e * keep)
        acts = [Zt]
        h = Zt
        for W, b in layers[:-1]:
            h = np.maximum(h @ W + b, 0.0)
            acts.append(h)
        W, b = layers[-1]
        logit = (h @ W + b)[:, 0]
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
        g = ((p - y) * w)[:, None]
        grads = []
        for li in range(len(layers) - 1, -1, -1):
            W, b = layers[li]
            a = acts[li]
            gW = a.T @ g + l2 * W
            gb = g.sum(0)
            grads.append((gW, gb))
            if li > 0:
                g = (g @ W.T) * (acts[li] > 0)
        grads.reverse()
        for li, (gW, gb) in enumerate(grads):
            for k, gk in enumerate((gW, gb)):
                m[li][k] = b1 * m[li][k] + (1 - b1) * gk
                s[li][k] = b2 * s[li][k] + (1 - b2) * gk * gk
                mh = m[li][k] / (1 - b1 ** t)
                sh = s[li][k] / (1 - b2 ** t)
                layers[li][k] = layers[li][k] - lr * mh / (np.sqrt(sh) + eps)
    return {"mean": mean, "inv_std": inv, "layers": layers}


def train(videos, seed=7, settings=DEFAULT):
    """`settings.members` two-stage fits ([`train_one`]), seeds `seed`, `seed + 100`, …: their
    networks are averaged per stage at run time ([`predict_video`], [`export_onnx`])."""
    fits = [train_one(videos, seed + 100 * m, settings) for m in range(settings.members)]
    return {"stage1": [f["stage1"] for f in fits], "stage2": [f["stage2"] for f in fits]}


def train_one(videos, seed=7, settings=DEFAULT):
    """The two-stage scorer. Stage 1 learns what is live camera footage at all (label: the frame
    comes from a real recording, highlight or not: positive evidence, not a list of filler
    symptoms); stage 2 learns which footage is the highlight, from the absolute rows plus the
    relative row built from stage 1. Stage 2 learns from out-of-fold stage-1 probabilities
    (2 inner folds over the videos), so it sees them as they will be on new footage, not as
    overconfident in-sample fits."""
    Xs, ys = [v["X"] for v in videos], [v["y"] for v in videos]
    fs = [v["footage"] for v in videos]
    s1 = [i for i, v in enumerate(videos) if v["set"] not in settings.stage1_skip]
    mask = settings.stage1_mask(videos[0]["names"])
    stage1 = train_mlp([Xs[i] for i in s1], [fs[i] for i in s1], settings, seed=seed, mask=mask)
    rng = np.random.default_rng(seed + 1)
    inner = rng.permutation(len(videos)) % 2
    p1 = [None] * len(videos)
    for k in range(2):
        fit = [i for i in s1 if inner[i] != k]
        m = train_mlp([Xs[i] for i in fit], [fs[i] for i in fit], settings, seed=seed + 2 + k, mask=mask)
        for i in range(len(videos)):
            if inner[i] == k:
                p1[i] = predict(m, Xs[i]).astype(np.float32)
    Rs = [relative(v["X"], p1[i], v["shots"], v["fps"]) for i, v in enumerate(videos)]
    # Stage 2 is P(highlight | footage): it learns on footage frames only, and the model's
    # output is p1 × p2, so a stretch stage 1 rejects stays rejected whatever stage 2 makes
    # of material it never saw (it called unseen colour bars highlights before this).
    keep = [f > 0.5 for f in fs]
    pairs = [(np.concatenate([x, r], 1)[k], y[k]) for x, r, y, k in zip(Xs, Rs, ys, keep) if k.any()]
    stage2 = train_mlp([a for a, _ in pairs], [b for _, b in pairs], settings, seed=seed + 9,
                       mask=settings.stage2_mask(videos[0]["names"]) if settings.stage2_drop else None)
    return {"stage1": stage1, "stage2": stage2}


def predict_video(params, v):
    """(p1, p) of one video, as the engine computes them: each stage the mean of its networks."""
    p1 = predict_mean(params["stage1"], v["X"]).astype(np.float32)
    r = relative(v["X"], p1, v["shots"], v["fps"])
    return p1, p1 * predict_mean(params["stage2"], np.concatenate([v["X"], r], 1))


def predict_mean(members, X):
    return np.mean([predict(m, X) for m in members], axis=0)


def predict(params, X):
    h = (X.astype(np.float64) - params["mean"]) * params["inv_std"]
    for W, b in params["layers"][:-1]:
        h = np.maximum(h @ W + b, 0.0)
    W, b = params["layers"][-1]
    return 1.0 / (1.0 + np.exp(-(h @ W + b)[:, 0]))


def _mlp_nodes(params, inp, prefix, out):
    from onnx import numpy_helper
    inits = [numpy_helper.from_array(params["mean"].astype(np.float32), f"{prefix}mean"),
             numpy_helper.from_array(params["inv_std"].astype(np.float32), f"{prefix}inv_std")]
    from onnx import helper
    nodes = [helper.make_node("Sub", [inp, f"{prefix}mean"], [f"{prefix}c"]),
             helper.make_node("Mul", [f"{prefix}c", f"{prefix}inv_std"], [f"{prefix}h0"])]
    prev = f"{prefix}h0"
    for i, (W, b) in enumerate(params["layers"]):
        inits += [numpy_helper.from_array(W.astype(np.float32), f"{prefix}W{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"{prefix}b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"{prefix}W{i}", f"{prefix}b{i}"], [f"{prefix}g{i}"]))
        last = i == len(params["layers"]) - 1
        nodes.append(helper.make_node("Sigmoid" if last else "Relu", [f"{prefix}g{i}"], [out if last else f"{prefix}h{i + 1}"]))
        prev = f"{prefix}h{i + 1}"
    return nodes, inits


def _stage_nodes(members, inp, prefix, out):
    """One stage: its network, or the mean of its networks (ONNX `Mean`). A single network keeps
    the graph it always had (same node names), so one-member models are unchanged."""
    from onnx import helper
    if len(members) == 1:
        return _mlp_nodes(members[0], inp, prefix, out)
    nodes, inits, outs = [], [], []
    for k, m in enumerate(members):
        n, i = _mlp_nodes(m, inp, f"{prefix}m{k}_", f"{prefix}p{k}")
        nodes += n
        inits += i
        outs.append(f"{prefix}p{k}")
    nodes.append(helper.make_node("Mean", outs, [out]))
    return nodes, inits


def export_onnx(params, path, names):
    """Writes both stages as one ONNX graph (opset 17): inputs `x` [N, d] and `r` [N, len(RELATIVE)]
    float32; outputs `p1` [N, 1] (stage 1, from x alone: footage) and `p` [N, 1]
    (p1 × stage 2: highlight)."""
    import onnx
    from onnx import TensorProto, helper

    d = len(names)
    n1, i1 = _stage_nodes(params["stage1"], "x", "s1_", "p1")
    cat = helper.make_node("Concat", ["x", "r"], ["xr"], axis=1)
    n2, i2 = _stage_nodes(params["stage2"], "xr", "s2_", "p2")
    n2.append(helper.make_node("Mul", ["p1", "p2"], ["p"]))
    graph = helper.make_graph(n1 + [cat] + n2, "highlight_scorer",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d]),
                               helper.make_tensor_value_info("r", TensorProto.FLOAT, ["N", len(RELATIVE)])],
                              [helper.make_tensor_value_info("p1", TensorProto.FLOAT, ["N", 1]),
                               helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])], i1 + i2)
    graph.doc_string = "x columns: " + ",".join(names) + "; r columns: " + ",".join(RELATIVE)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="highlightd engines/scorer.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    _agrees_with_numpy(model, params, d)
    Path(path).write_bytes(model.SerializeToString())


def _agrees_with_numpy(model, params, d, n=64):
    """The graph computes what `predict_video`'s maths does (each stage the mean of its
    networks, p = p1 × p2) on random rows, or the export stops: a wrong graph would otherwise
    only show as a worse score."""
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    # Rows spread like the training rows, by stage 2's standardisation; a column stage 2 is
    # blind to (`stage2_drop`: inverse spread 0) takes stage 1's spread, or 1 if blind to both.
    s2 = params["stage2"][0]
    inv = s2["inv_std"][:d]
    inv1 = params["stage1"][0]["inv_std"][:d]
    spread = np.divide(1.0, inv, out=np.divide(1.0, inv1, out=np.ones_like(inv1), where=inv1 > 0), where=inv > 0)
    x = (s2["mean"][:d] + rng.normal(0, 1.5, (n, d)) * spread).astype(np.float32)
    r = rng.uniform(0, 1, (n, len(RELATIVE))).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    p1, p = (o[:, 0] for o in sess.run(["p1", "p"], {"x": x, "r": r}))
    want1 = predict_mean(params["stage1"], x)
    want = want1 * predict_mean(params["stage2"], np.concatenate([x, r], 1))
    err = max(np.abs(p1 - want1).max(), np.abs(p - want).max())
    if not err < 1e-4:
        raise SystemExit(f"export: the ONNX graph differs from the numpy model by {err:.2e}")
