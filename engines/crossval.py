#!/usr/bin/env python3
"""Validation that cannot fool us: every number comes from videos the scorer was not fit on.

    engines/crossval.py --bin target/release/highlightd --dumps out/dumps [--folds 5] [--json out/cv.json]

Needs the feature dumps of both dev sets (scripts/crossval.sh makes them with
`highlightd predict --dump-features`). Then, without decoding again:

- leave-sources-out: the real sequences behind the dev videos are split into k folds; for each
  fold a scorer is trained on the videos that show none of its sequences (and none of the
  other sequences of its test videos), and `highlightd replay` decides the fold's videos with
  it. The held-out predictions of all folds are merged and scored with `highlightd eval`.
- leave-one-kind-out: for each kind of non-highlight material of dev2 (a filler kind, or the
  calm real clips of compilations), a scorer is trained on the dev2 videos without it and
  scored on the videos with it (temporal F, and whether filler-only videos come out empty).
- judges: the same held-out folds decided by the rules alone, the scorer alone, and both.

Which sequence a video shows is read from dev2's sources.jsonl and, for dev (which has no such
file), from the table below (its README lists the seven sequences; each has a distinct length).
Only this script reads them; the product never does.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scorer  # noqa: E402

SETS = Path(__file__).resolve().parent.parent.parent / "shared" / "evalsets"
# dev: ground-truth frame count -> sequence (dev/README.md: one sequence per video, whole).
DEV_SEQUENCE_BY_LENGTH = {142: "Biker", 164: "MotorRolling", 471: "David", 120: "Crossing", 241: "person11",
                          81: "Skiing", 105: "ball1"}


def set_dirs(extra):
    """Set name -> folder: the two dev sets, plus every `NAME=PATH` of --set (more annotated
    footage in the same layout, with a sources.jsonl like dev2's)."""
    dirs = {"dev2": SETS / "dev2", "dev": SETS / "dev"}
    for e in extra:
        name, _, path = e.partition("=")
        if not name or not path or not (Path(path) / "gt.jsonl").exists():
            raise SystemExit(f"--set {e}: expected NAME=PATH of a folder with gt.jsonl")
        dirs[name] = Path(path)
    return dirs


def sources_of(videos, dirs):
    """key -> set of sequence names shown, and key -> set of non-highlight kinds present."""
    src, kinds = {}, {}
    meta = {}
    for name, d in dirs.items():
        if (d / "sources.jsonl").exists():
            for line in open(d / "sources.jsonl"):
                j = json.loads(line)
                meta[(name, j["video_id"])] = j
    for v in videos:
        if (v["set"], v["id"]) in meta:
            d = meta[(v["set"], v["id"])]
            # "<name>-still" is another window of the same recording (make_extra.py): one sequence.
            src[v["key"]] = {c["source"].lower().removesuffix("-still") for c in d.get("clips", [])}
            k = {f["kind"] for f in d.get("fillers", [])}
            if any(c["role"] != "real" for c in d.get("clips", [])):
                k.add("calm-clips")
            if not d.get("clips"):
                k.add("filler-only")
            kinds[v["key"]] = k
        else:
            n = int(v["y"].sum())
            src[v["key"]] = {DEV_SEQUENCE_BY_LENGTH[n].lower()} if n else set()
            kinds[v["key"]] = set()
    return src, kinds


def source_folds(videos, src, k, seed):
    names = sorted(set().union(*src.values()))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    fold_of = {n: i % k for i, n in enumerate(names)}
    folds = []
    empties = [v["key"] for v in videos if not src[v["key"]]]
    for f in range(k):
        held = {n for n in names if fold_of[n] == f}
        test = [v["key"] for v in videos if src[v["key"]] and min(src[v["key"]]) in held]
        test += [e for i, e in enumerate(empties) if i % k == f]
        shown = set().union(*(src[t] for t in test)) | held
        train = [v["key"] for v in videos if v["key"] not in test and not (src[v["key"]] & shown)]
        folds.append({"fold": f, "held_sources": sorted(held), "test": test, "train": train})
    return folds


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-3000:]}")
    return r.stdout


DIRS = {"dev2": SETS / "dev2", "dev": SETS / "dev"}
REPLAY_ENV = {}


def replay(bin_, set_name, dumps, out, scorer_file=None, env=None, extra=()):
    cmd = [bin_, "--log", "warn", "replay", str(DIRS[set_name]), "--features", str(Path(dumps) / set_name), "-o", str(out), *extra]
    if scorer_file == "none":
        cmd.append("--no-scorer")
    elif scorer_file:
        cmd += ["--scorer", str(scorer_file)]
    run(cmd, env={**os.environ, **REPLAY_ENV, **(env or {})})
    return {json.loads(l)["video_id"]: l for l in open(out) if l.strip()}


def evaluate(bin_, set_name, lines, work, tag):
    """Writes the set's lines in its gt order and scores them: (score, report dict)."""
    order = [json.loads(l)["video_id"] for l in open(DIRS[set_name] / "gt.jsonl") if l.strip()]
    p = Path(work) / f"{tag}-{set_name}.jsonl"
    p.write_text("".join(lines[v] if lines[v].endswith("\n") else lines[v] + "\n" for v in order))
    out = run([bin_, "--log", "warn", "eval", str(p), "--gt", str(DIRS[set_name] / "gt.jsonl"), "--meta",
               str(DIRS[set_name] / "meta.jsonl"), "--json"])
    return json.loads(out)


def heldout_predictions(bin_, dumps, work, folds, models, judge_env=None, tag="cv"):
    """Merged held-out lines per set: each video decided by the model of the fold it was held out in."""
    lines = {s: {} for s in DIRS}
    for f in folds:
        for s in DIRS:
            if not any(k.startswith(s + "/") for k in f["test"]):
                continue
            got = replay(bin_, s, dumps, Path(work) / f"{tag}-fold{f['fold']}-{s}.jsonl", models[f["fold"]], judge_env)
            for k in f["test"]:
                st, vid = k.split("/")
                if st == s:
                    lines[s][vid] = got[vid]
    return lines


def summary(rep):
    return {"score": round(rep["score"], 2), "temporal_f": round(rep["mean_temporal_f"], 4),
            "crop_iou": round(rep["mean_crop_iou"], 4),
            "splits": {s["split"]: [round(s["crop_iou"], 4), round(s["centred_iou"], 4)] for s in rep.get("splits", [])}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/highlightd")
    ap.add_argument("--dumps", default="out/dumps")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--skip-kinds", action="store_true")
    ap.add_argument("--kinds-all", action="store_true",
                    help="leave-one-kind-out over the fillers of every set that names them (sources.jsonl), not only dev2's")
    ap.add_argument("--judges", default="learned,both,rules",
                    help="comma-separated: learned (scorer only), both (scorer + rules: the default), rules")
    ap.add_argument("--in-sample", action="store_true",
                    help="also fit one scorer on every training video and score the sets with it: the full-set figure the held-out one is compared with")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=PATH",
                    help="more annotated footage (dumps in DUMPS/NAME): in the folds, trained on and scored held out")
    ap.add_argument("--no-train", action="append", default=[], metavar="NAME",
                    help="score this set held out but never train on it (what its footage adds is then measurable)")
    scorer.Settings.add_args(ap, tuning=True)
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment for every replay, e.g. HIGHLIGHTD__SELECT__ACTIVITY_RATIO=0.3")
    args = ap.parse_args()
    settings = scorer.Settings.from_args(args)
    REPLAY_ENV.update(dict(e.partition("=")[::2] for e in args.env))
    DIRS.update(set_dirs(args.set))
    settings.check_sets(DIRS)
    videos = []
    for name, d in DIRS.items():
        videos += scorer.load_set(Path(args.dumps) / name, d / "gt.jsonl", name)
    by_key = {v["key"]: v for v in videos}
    src, kinds = sources_of(videos, DIRS)
    folds = source_folds(videos, src, args.folds, args.seed)
    for f in folds:
        f["train"] = [k for k in f["train"] if k.split("/")[0] not in args.no_train]
    work = tempfile.mkdtemp(prefix="highlightd-cv-")
    print(f"work folder: {work}")
    result = {"folds": [{"fold": f["fold"], "held_sources": f["held_sources"], "test": len(f["test"]),
                         "train": len(f["train"])} for f in folds]}
    for f in result["folds"]:
        print(f"fold {f['fold']}: held sources {', '.join(f['held_sources'])}; test {f['test']} videos, train {f['train']}")

    # Leave-sources-out: one scorer per fold, each judge deciding with the same fold models.
    models = {}
    for f in folds:
        models[f["fold"]] = Path(work) / f"fold{f['fold']}.onnx"
        scorer.export_onnx(scorer.train([by_key[k] for k in f["train"]], settings=settings), models[f["fold"]], videos[0]["names"])
    result["judges"] = {}
    for judge in args.judges.split(","):
        env = {"HIGHLIGHTD__SELECT__JUDGE": judge}
        if judge == "rules":
            lines = {s: replay(args.bin, s, args.dumps, Path(work) / f"rules-{s}.jsonl", "none") for s in DIRS}
        else:
            lines = heldout_predictions(args.bin, args.dumps, work, folds, models, env, tag=judge)
        reps = {s: evaluate(args.bin, s, lines[s], work, judge) for s in DIRS}
        result["judges"][judge] = {s: summary(reps[s]) for s in DIRS}
        print(judge, json.dumps(result["judges"][judge]), flush=True)
        per = {v["video_id"]: v["f"] for v in reps["dev2"]["videos"]}
        result["judges"][judge]["per_fold_dev2"] = []
        for f in folds:
            ids = [k.split("/")[1] for k in f["test"] if k.startswith("dev2/")]
            result["judges"][judge]["per_fold_dev2"].append(round(100 * float(np.mean([per[i] for i in ids])), 2) if ids else None)
        print(judge, "per fold dev2", result["judges"][judge]["per_fold_dev2"], flush=True)

    if args.in_sample:
        full = Path(work) / "full.onnx"
        scorer.export_onnx(scorer.train([v for v in videos if v["set"] not in args.no_train], settings=settings), full, videos[0]["names"])
        result["in_sample"] = {}
        for s in DIRS:
            got = replay(args.bin, s, args.dumps, Path(work) / f"full-{s}.jsonl", full)
            result["in_sample"][s] = summary(evaluate(args.bin, s, got, work, "full"))
        print("in-sample (fit on every video, scored on the same)", json.dumps(result["in_sample"]), flush=True)

    # Leave-one-kind-out: dev2's videos, or with --kinds-all those of every set whose
    # sources.jsonl names its fillers.
    if not args.skip_kinds:
        tagged = {n for n, d in DIRS.items() if (d / "sources.jsonl").exists()}
        judged = [v for v in videos if v["set"] in (tagged if args.kinds_all else {"dev2"})]
        all_kinds = sorted(set().union(*(kinds[v["key"]] for v in judged)) - {"filler-only"})
        result["kinds_sets"] = sorted({v["set"] for v in judged})
        result["kinds"] = {}
        for kind in all_kinds:
            test = [v for v in judged if kind in kinds[v["key"]]]
            # No video that shows the kind, in any set, is trained on: only videos of sets
            # that name their fillers and lack it here. A set that does not name them (dev:
            # black, title, freeze, blur) cannot show that it lacks the kind, so it does not
            # train (before session 11 it did, and the four kinds it shows were not unseen).
            train = [v for v in videos if v["set"] in tagged and kind not in kinds[v["key"]] and v["set"] not in args.no_train]
            model = Path(work) / f"kind-{kind}.onnx"
            scorer.export_onnx(scorer.train(train, settings=settings), model, videos[0]["names"])
            per = {}
            for s in sorted({v["set"] for v in test}):
                got = replay(args.bin, s, args.dumps, Path(work) / f"kind-{kind}-{s}.jsonl", model)
                rep = evaluate(args.bin, s, got, work, f"kind-{kind}-{s}")
                per.update({(s, v["video_id"]): v for v in rep["videos"]})
            ids = [(v["set"], v["id"]) for v in test]
            empties = [(v["set"], v["id"]) for v in test if v["y"].sum() == 0]
            result["kinds"][kind] = {
                "videos": len(ids),
                "sets": sorted({s for s, _ in ids}),
                "temporal_f": round(float(np.mean([per[i]["temporal_f"] for i in ids])), 4),
                "score": round(100 * float(np.mean([per[i]["f"] for i in ids])), 2),
                "filler_only_empty": f"{sum(per[i]['n_pred'] == 0 for i in empties)}/{len(empties)}",
            }
            print("kind", kind, result["kinds"][kind], flush=True)
        result["kinds_mean_temporal_f"] = round(float(np.mean([k["temporal_f"] for k in result["kinds"].values()])), 4)
        print("leave-one-kind-out mean temporal F:", result["kinds_mean_temporal_f"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
