#!/usr/bin/env python3
"""Build the "extra" annotated evaluation/training set in the contest format.

Same construction as dev2 (see README.md next to this file): real annotated tracking
sequences (frames + per-frame subject boxes) taken from public tracker repositories,
composed into single videos (one sequence, optional filler before/after), compilations
(2-4 clips of different sequences, hard cuts, one canvas; ACTIVE clips are ground truth,
CALM clips are not) and filler-only videos (empty ground truth).

stdlib + numpy + PIL only; ffmpeg is called for the H.264/AAC encode.  Deterministic:
everything random comes from one seeded generator.

usage: make_extra.py [--out /work/extra] [--mirror /work/.mirror] [--only-pool] [--limit N]
"""
import argparse
import io
import json
import math
import os
import random
import subprocess
import sys
import wave

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 20261201
ACTIVE_T = 0.5723369839852219  # dev2 thresholds (top / bottom third of dev2's pool)
CALM_T = 0.08483653688380187
MAX_FRAMES = 240

# ----------------------------------------------------------------------------------------
# Sources: public tracker repositories that ship benchmark sequences with per-frame boxes.
# img: folder of frames inside the repo; gt: box file (x,y,w,h per line, or 8-value polygon).
# Never add anything listed in shared/evalsets/HELD_OUT.md or already used by dev/dev2.
# ----------------------------------------------------------------------------------------
SOURCES = [
    dict(name="FaceOcc1", dataset="OTB-100", repo="Daikenan/ASRCF",
         img="seq/FaceOcc1/img", gt="seq/FaceOcc1/groundtruth_rect.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="face, occluded by a book", setting="indoor, fixed camera"),
    dict(name="truck2", dataset="UAV123@10fps", repo="vision4robotics/TB-BiCF-Tracker",
         img="sequences/truck2/img", gt="sequences/truck2/groundtruth_rect.txt", fps=10, play=25,
         licence="none stated (UAV123, academic)", subject="truck", setting="aerial"),
    dict(name="car_vot14", dataset="VOT2014", repo="ywpkwon/vot2014",
         img="car", gt="car/groundtruth.txt", fps=30, play=30,
         licence="none stated (VOT, academic)", subject="car", setting="road, in-car camera"),
    dict(name="Couple", dataset="OTB-100", repo="JuliaKamelina/tracker_benchmark",
         img="data/Couple/img", gt="data/Couple/groundtruth_rect.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="walking couple", setting="street, handheld"),
    dict(name="Football1", dataset="OTB-100", repo="JuliaKamelina/tracker_benchmark",
         img="data/Football1/img", gt="data/Football1/groundtruth_rect.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="football player's head", setting="broadcast sport"),
    dict(name="Dog1", dataset="OTB-100", repo="zhangzheng0131/Tracker_Benchmark_tb100",
         img="trackers/DSST/sequences/dog1/imgs", gt="trackers/DSST/sequences/dog1/dog1_gt.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="toy dog", setting="indoor, handheld"),
    # the same sequence's 240-frame window with the LEAST subject motion (toy held up, camera following):
    # a second, calm, pool entry (frames 313-552, disjoint from Dog1's window 911-1150)
    dict(name="Dog1-still", dataset="OTB-100", repo="zhangzheng0131/Tracker_Benchmark_tb100", window="least",
         img="trackers/DSST/sequences/dog1/imgs", gt="trackers/DSST/sequences/dog1/dog1_gt.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="toy dog (held still)", setting="indoor, handheld"),
    dict(name="Jogging-1", dataset="OTB-100", repo="zhangzheng0131/Tracker_Benchmark_tb100",
         img="trackers/MUSTER/Jogging/img", gt="trackers/MUSTER/Jogging/groundtruth_rect.1.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="jogger (first)", setting="outdoor path, panning"),
    dict(name="Jogging-2", dataset="OTB-100", repo="zhangzheng0131/Tracker_Benchmark_tb100",
         img="trackers/MUSTER/Jogging/img", gt="trackers/MUSTER/Jogging/groundtruth_rect.2.txt", fps=30, play=30,
         licence="none stated (OTB, academic)", subject="jogger (second)", setting="outdoor path, panning"),
    dict(name="cyclist_uav", dataset="UAV sequence 'Biker' (origin not stated; 640x360, not OTB Biker)",
         repo="vision4robotics/SPBACF-Tracker",
         img="seq/Biker/img", gt="seq/Biker/groundtruth_rect.txt", fps=30, play=30,
         licence="none stated (academic)", subject="cyclist", setting="aerial, park road"),
    dict(name="windingRope", dataset="windingRope (industrial, author's own)", repo="holy44162/windingRope",
         img="imgs", gt="groundtruth_rect.txt", fps=25, play=25,
         licence="none stated", subject="rope on a winding drum", setting="industrial, fixed camera"),
]

# DAVIS-2016 *train* sequences (= DAVIS-2017 train, first object); boxes from the masks.  The
# repository's HEAD no longer holds them, so a fixed earlier commit is read.  The 20 DAVIS-2016
# validation sequences that the same commit holds are never listed here (held out).
DAVIS_COMMIT = "80880aeb900a0a1a7b010f111d4f33d0a5d25e05"
DAVIS_TRAIN = """bear bmx-bumps boat breakdance-flare bus car-turn dance-jump dog-agility drift-turn elephant flamingo hike hockey horsejump-low kite-walk lucia mallard-fly mallard-water motocross-bumps motorbike paragliding rhino rollerblade scooter-gray soccerball stroller surf swing tennis train""".split()
for _n in DAVIS_TRAIN:
    SOURCES.append(dict(name=_n, dataset="DAVIS-2016 train", repo="xmican10/KNN-project", commit=DAVIS_COMMIT,
                        img="DAVIS/JPEGImages/480p/" + _n, masks="DAVIS/Annotations/480p/" + _n,
                        gt="DAVIS/Annotations/480p/" + _n, fps=24, play=25,
                        licence="DAVIS: research use (footage credited to its authors)", subject="", setting=""))

HELD_OUT = set("""blackswan bmx-trees breakdance camel car-roundabout car-shadow cows dance-twirl dog
drift-chicane drift-straight goat horsejump-high kite-surf libby motocross-jump paragliding-launch parkour
scooter-black soapbox diving bolt dragonbaby carscale human3 ironman bag""".split())
DEV_USED = set("""bike1 boat1 building4 car16 person12 truck4 wakeboard10 wakeboard7 wakeboard5 boat5 car14
wakeboard4 group2 group1 building5 car10 group3 wakeboard3 biker motorrolling david crossing skiing person11
ball1""".split())


# ----------------------------------------------------------------------------------------
# Second set, "extra2" (--set extra2): other sequences again, none in extra, dev, dev2 or HELD_OUT.md.
# VOT2023 presentation repo: the author re-encoded each sequence's frames to a 1280x720 H.264 preview
# (30 fps) with an overlay of the first box as the first and last frame (dropped here: skip / skip_end);
# boxes (groundtruth_1.txt) are in the original picture size ("orig", from the repo's newList.js, or
# checked by eye on drawn boxes where that list does not give it), so frames are scaled back to it.
# ----------------------------------------------------------------------------------------
SEED2 = 20261202
VOT23 = "matejmarek/VOT2023_Dataset_presentation"
VOT23_HEAD = "72a52bc328f879de8ca20118c073213d22f627c2"
VOT23_V07 = "5108cf116d328c66485594113d7037d955b23c19"


def _vot23(name, folder, orig, commit, dataset, subject, setting, overlay=True):
    # overlay: the preview has the box-overlay frame first and last (final_version_14, version_12: 2 more
    # frames than boxes); the version_07 previews have exactly one frame per box, no overlay
    k = 1 if overlay else 0
    return dict(name=name, dataset=dataset, repo=VOT23, commit=commit,
                img=f"{folder}/{name}/{name}.mp4", video=f"{folder}/{name}/{name}.mp4",
                gt=f"{folder}/{name}/groundtruth_1.txt", coded=(1280, 720), orig=orig, skip=k, skip_end=k,
                fps=30, play=30, licence="none stated (VOT/VOTS and LaSOT sequences, research use)",
                subject=subject, setting=setting)


SOURCES2 = [
    _vot23("marathon6", "final_version_14/media", (960, 540), VOT23_HEAD, "VOTS2023 (VOT2023 presentation repo)",
           "runner in a street race", "street, tracking shot"),
    _vot23("matrix", "final_version_14/media", (800, 336), VOT23_HEAD, "VOT (VOT2023 presentation repo)",
           "man's head (film fight scene in rain)", "film, wide frame"),
    _vot23("monkey", "final_version_14/media", (960, 540), VOT23_HEAD, "VOT (VOT2023 presentation repo)",
           "macaque among a group", "park lawn, fixed camera"),
    _vot23("monkey-9", "final_version_14/media", (480, 360), VOT23_HEAD, "LaSOT monkey-9 (VOT2023 presentation repo, first 475 frames)",
           "monkey", "yard with a cat, handheld"),
    _vot23("transparent_fish", "final_version_14/media", (960, 540), VOT23_HEAD, "VOTS2023 (VOT2023 presentation repo)",
           "translucent fish", "aquarium, fixed camera"),
    _vot23("umbrella-19", "final_version_14/media", (1280, 720), VOT23_HEAD, "LaSOT umbrella-19 (VOT2023 presentation repo, first 807 frames)",
           "dancer's umbrella (children's stage dance)", "stage, fixed camera"),
    _vot23("zebrafish1", "final_version_14/media", (1920, 1080), VOT23_HEAD, "VOT2020 zebrafish1 (VOT2023 presentation repo)",
           "zebrafish among several", "lab tank seen from above"),
    _vot23("wheel", "version_12/media", (960, 540), VOT23_HEAD, "VOTS2023 (VOT2023 presentation repo)",
           "racing cyclist's wheel", "TV road race, motorbike camera"),
    _vot23("whitefish", "version_12/media", (1280, 720), VOT23_HEAD, "VOTS2023 (VOT2023 presentation repo)",
           "one fish in a school", "underwater"),
    _vot23("fernando", "version_07/media", (640, 480), VOT23_V07, "VOT2013/14 fernando (VOT2023 presentation repo)",
           "cat", "living room, handheld", overlay=False),
    _vot23("wubble_bubble", "version_07/media", (960, 540), VOT23_V07, "VOTS2023 (VOT2023 presentation repo)",
           "large inflatable ball, people playing", "field, handheld", overlay=False),
    dict(name="bmx_segtrack", dataset="SegTrack v2 bmx (frames 6668-6703 as shipped)",
         repo="Jupiter-is-BIG/Foreground-Segemenation-SegTrackV2",
         img=["dataset/train/x", "dataset/test/x"], masks=["dataset/train/y", "dataset/test/y"],
         gt="dataset/train/y + dataset/test/y", mask_threshold=127, fps=30, play=25,
         licence="none stated (SegTrack v2, research use)", subject="BMX rider and bike", setting="outdoor, panning"),
]
# calm counterparts: the least-motion window of a long sequence, disjoint from its main window
for _n in ("umbrella-19", "wubble_bubble", "monkey-9"):
    _d = dict(next(x for x in SOURCES2 if x["name"] == _n))
    _d.update(name=_n + "-still", window="least", exclude_window_of=_n, subject=_d["subject"] + " (least-motion window)")
    SOURCES2.append(_d)
MIN_STILL = 75  # a still window shorter than this is left out

CONF2 = dict(
    title="# extra2 — more real annotated footage in the contest format (second extra set)\n",
    built="Built by `engines/dataset/make_extra.py --set extra2` with its own fixed seed, the same construction as "
          "`extra` (and dev2) from yet other public sequences (none in extra, dev, dev2 or HELD_OUT.md).\n",
    sources_note="Public academic benchmarks taken from repositories that ship them (no licence is stated for the "
                 "footage; research use). Most come from a VOT2023 dataset-presentation repository that ships "
                 "each sequence as a 1280x720 H.264 preview (re-encoded by its author): the box-overlay first/last "
                 "frames are dropped and the frames scaled back to the boxes' original size, so the picture is "
                 "softer than the original frames. SegTrack v2 boxes are the bounding boxes of its masks. VOT "
                 "previews play at 30 fps, SegTrack at 25. Long sequences are cut to the 240-frame window with "
                 "the most subject motion; a `-still` entry is the least-motion window of the same sequence, "
                 "disjoint from the main one (never in the same compilation). None is in HELD_OUT.md, dev, dev2 "
                 "or extra.\n",
    credits="\nCredits: VOT challenges (Kristan et al.), VOTS2023; LaSOT (Fan et al., CVPR 2019); SegTrack v2 "
            "(Li et al., ICCV 2013); repository matejmarek/VOT2023_Dataset_presentation.\n",
)
EXTRA1_USED = set(d["name"].lower() for d in SOURCES)


# ----------------------------------------------------------------------------------------
# Third set, "extra3" (--set extra3): other sequences again, none in extra, extra2, dev, dev2 or
# HELD_OUT.md.  Original frames (jpg) with per-frame boxes: OTB-100 sequences and LaSOT airplane-1
# that etaisella/AlphaRefine carried for a while (deleted from its HEAD, so fixed earlier commits
# are read), OTB Skating1 / Soccer / Deer from mani-monaj/ColorTracker and OTB Girl from masa-nudt/KCFDP.
# ----------------------------------------------------------------------------------------
SEED3 = 20261203
ALPHAREF = "etaisella/AlphaRefine"
AR_OTB = "dc371e9d607ad2efca5aee21606e748d12a5035a"   # 2022-03-13: Gym, Woman, Basketball, Singer1, Vase, Bird2
AR_OTB2 = "a3991f0f8e12bc358845a82ef9eca61dbf196ad8"  # 2022-02-14: Skating2, Surfer (removed the same day)
AR_LASOT = "f96f52aff3be10d15de3653f7fc4e226d5be8f52"  # 2022-02-07: LaSOT airplane-1
COLORTR = "mani-monaj/ColorTracker"
COLORTR_HEAD = "051e98da4cecb48901fd521935ca6e937e57c633"
CACF = "thias15/Context-Aware-CF-Tracking"
CACF_HEAD = "2b1198a24aea6420d28987f68622f50a2970ffac"
STAPLE = "bertinetto/staple"
STAPLE_CAR1 = "74c09aabebf6cc13f3a9b0ce3a8efa586b08076f"  # 2016-04-11: vot15_car1, frames 1-252 of 742 boxes
KCFDP = "masa-nudt/KCFDP"
KCFDP_HEAD = "224bc33a65ee05e99b347ada33c30b9ac28eab8f"
OTB_LIC = "none stated (OTB, academic)"


def _otb3(name, repo, commit, folder, subject, setting, gt="groundtruth_rect.txt", img="img"):
    return dict(name=name, dataset="OTB-100", repo=repo, commit=commit, img=f"{folder}/{img}",
                gt=f"{folder}/{gt}", fps=30, play=30, licence=OTB_LIC, subject=subject, setting=setting)


def _add_stills(sources, names):
    """Appends, for each named entry, its calm counterpart: the least-motion window (at most 150 frames: shorter
    windows are calmer) of the same sequence, disjoint from its main window (never in one compilation with it)."""
    for n in names:
        d = dict(next(x for x in sources if x["name"] == n))
        d.update(name=n + "-still", window="least", exclude_window_of=n, max_frames=150,
                 subject=d["subject"] + " (least-motion 150-frame window)")
        sources.append(d)


SOURCES3 = [
    _otb3("Gym", ALPHAREF, AR_OTB, "pytracking/Gym", "rhythmic gymnast (Beijing 2008)", "broadcast sport"),
    _otb3("Woman", ALPHAREF, AR_OTB, "pytracking/Woman", "woman walking past parked cars", "street, seen from above"),
    _otb3("Basketball", ALPHAREF, AR_OTB, "pytracking/Basketball", "basketball player", "broadcast sport"),
    _otb3("Singer1", ALPHAREF, AR_OTB, "pytracking/Singer1", "singer on stage", "concert, zooming camera"),
    _otb3("Vase", ALPHAREF, AR_OTB, "pytracking/Vase", "printed pen pot ('vase') on a desk", "indoor, rotating / zooming handheld camera"),
    _otb3("Bird2", ALPHAREF, AR_OTB, "pytracking/Bird2", "small bird on a wire", "animated film"),
    _otb3("Skating2", ALPHAREF, AR_OTB2, "pytracking/Skating2", "figure-skating pair (first target)",
          "ice rink, broadcast"),
    _otb3("Surfer", ALPHAREF, AR_OTB2, "pytracking/Surfer", "surfer's head", "sea, long lens"),
    _otb3("Skating1", COLORTR, COLORTR_HEAD, "sequences/Skating1", "figure skater (stage lighting)",
          "ice show, broadcast"),
    _otb3("Soccer", COLORTR, COLORTR_HEAD, "sequences/Soccer", "footballer's face in a celebrating crowd",
          "broadcast sport, confetti"),
    _otb3("Deer", COLORTR, COLORTR_HEAD, "sequences/deer", "running deer's head", "outdoor, panning",
          gt="deer_gt.txt", img="imgs"),
    _otb3("Girl", KCFDP, KCFDP_HEAD, "Girl", "girl's face, turning on a chair (128x96 original)",
          "indoor, fixed camera"),
    _otb3("Car1", CACF, CACF_HEAD, "SAMF_CA/sequences/Car1", "car on a road (grey, low resolution)",
          "road, with motorbike and cars"),
    _otb3("Jumping", CACF, CACF_HEAD, "MOSSE_CA/sequences/Jumping", "face of a man skipping rope",
          "outdoor, handheld"),
    _otb3("Human7", CACF, CACF_HEAD, "DCF_CA/sequences/Human7", "woman walking", "street, shaky handheld"),
    dict(name="car1_vot15", dataset="VOT2015 car1 (first 252 frames as shipped)", repo=STAPLE, commit=STAPLE_CAR1,
         img="vot15_car1/imgs", gt="vot15_car1/groundtruth.txt", fps=30, play=30,
         licence="none stated (VOT, academic)", subject="car", setting="road, in-car camera"),
    dict(name="airplane-1", dataset="LaSOT", repo=ALPHAREF, commit=AR_LASOT, img="airplane-1/img",
         gt="airplane-1/groundtruth.txt", fps=30, play=30, licence="none stated (LaSOT, research use)",
         subject="light aircraft", setting="airstrip, spectators, handheld"),
]
# calm counterparts: the least-motion window of a long sequence, disjoint from its main window
# (at most 150 frames: shorter windows are calmer; Gym, Woman and Skating2 were tried too, their least-motion
# windows still rate active, so they are not listed)
_add_stills(SOURCES3, ("Basketball", "airplane-1", "Skating1", "Car1"))

CONF3 = dict(
    title="# extra3 — more real annotated footage in the contest format (third extra set)\n",
    built="Built by `engines/dataset/make_extra.py --set extra3` with its own fixed seed, the same construction as "
          "`extra` / `extra2` (and dev2) from yet other public sequences (none in extra, extra2, dev, dev2 or "
          "HELD_OUT.md).\n",
    sources_note="Public academic benchmarks taken from repositories that ship them as original JPEG frames with "
                 "per-frame boxes (no licence is stated for the footage; research use): OTB-100 sequences and the "
                 "LaSOT sequence airplane-1 from an earlier commit of a tracker repository, three more OTB-100 "
                 "sequences from another, three more and the first 252 frames of VOT2015 car1 from two others, OTB Girl (128x96, upscaled) from a fifth. Boxes are the benchmarks' own axis-aligned boxes (Skating2: the first "
                 "target's file; VOT2015 car1: bounding box of its polygon). Everything plays at 30 fps. Long sequences are cut to the 240-frame window with "
                 "the most subject motion; a `-still` entry is the least-motion window (at most 150 frames) of the same sequence, "
                 "disjoint from the main one (never in the same compilation). None is in HELD_OUT.md, dev, dev2, "
                 "extra or extra2.\n",
    credits="\nCredits: OTB-100 (Wu, Lim, Yang, TPAMI 2015); VOT2015 (Kristan et al.); LaSOT (Fan et al., CVPR "
            "2019); repositories etaisella/AlphaRefine, mani-monaj/ColorTracker, thias15/Context-Aware-CF-Tracking, "
            "bertinetto/staple and masa-nudt/KCFDP.\n",
)
EXTRA2_USED = set(d["name"].lower().replace("-still", "") for d in SOURCES2)


# ----------------------------------------------------------------------------------------
# Fourth set, "extra4" (--set extra4): other sequences again, none in extra, extra2, extra3, dev, dev2 or
# HELD_OUT.md.  Original frames with the benchmarks' own per-frame boxes, from tracker repositories that
# ship one or a few demo sequences (OTB-100 Dog, Girl2, Freeman1, Toy), a course repository holding VOT2016
# sequences (tiger, traffic, book), a VOT-LT entry holding the first 500 frames of VOT-LT2018 skiing (its two
# stretches with the skier in view are used) and two thermal-infrared trackers holding VOT-TIR2015 horse / birds
# and PTB-TIR airplane (grey thermal footage).
# Names: OTB Dog is "Dog-OTB" (the builder's name check splits at "_" and would read plain "Dog" as
# DAVIS "dog", which is held out; it is another sequence); VOT-LT skiing is "skiing-LT" (a different
# sequence from OTB Skiing, which dev uses).
# ----------------------------------------------------------------------------------------
SEED4 = 20261204
REDET = "594422814/Reliable-Re-detection-for-Long-term-Tracking"
REDET_HEAD = "7dbed08dae54fba3463168f0cc5bb041f81834d2"
ADNET = "hellbell/ADNet"
ADNET_HEAD = "8d9104eb623ab7e0d2bcac85800edc63f169cd5a"
LDES = "ihpdep/LDES"
LDES_HEAD = "5ba38f808aafee4bdcd0c6af545bb3f12eea6dd2"
RVA = "AlvaroNavarroMora/RVA_VisionChallenge"
RVA_HEAD = "7159b27592e3cf9c0a0f38c95e20d1b020d947f2"
LTDSE = "Daikenan/LT_DSE"
LTDSE_HEAD = "c93683abbff27fd04d03281474963094a2e79102"
HSSNET = "QiaoLiuHit/HSSNet"
HSSNET_HEAD = "43e1a7906b4c396d395fbd4ac0d71962649837d4"
MLSSNET = "QiaoLiuHit/MLSSNet"
MLSSNET_HEAD = "775c3985371982ee77ac1f398a7f99d004a7ddbd"
VOT_LIC = "none stated (VOT, academic)"


def _vot4(name, seq, dataset, subject, setting, repo=RVA, commit=RVA_HEAD, folder="sequences", img="color",
          licence=VOT_LIC):
    return dict(name=name, dataset=dataset, repo=repo, commit=commit, img=f"{folder}/{seq}/{img}" if img else
                f"{folder}/{seq}", gt=f"{folder}/{seq}/groundtruth.txt", fps=30, play=30, licence=licence,
                subject=subject, setting=setting)


SOURCES4 = [
    dict(_otb3("Dog", ALPHAREF, AR_OTB, "pytracking/Dog", "small dog running to a woman",
               "sandy yard, panning"), name="Dog-OTB"),
    _otb3("Girl2", REDET, REDET_HEAD, "DeepRe-detectionTracker/sequence/Girl2",
          "little girl on a plaza, occluded by passers-by", "street, handheld"),
    _otb3("Freeman1", ADNET, ADNET_HEAD, "data/Freeman1", "man's face walking about a classroom (grey)",
          "indoor, fixed camera"),
    _otb3("Toy", LDES, LDES_HEAD, "videos/Toy", "toy figure held and turned in a hand (grey)",
          "office, handheld"),
    _vot4("tiger_vot16", "tiger", "VOT2016 tiger", "plush tiger moved behind a plant", "indoor, fixed camera"),
    _vot4("traffic_vot16", "traffic", "VOT2016 traffic", "distant rider on the road ahead (small target)",
          "motorbike-mounted camera, city traffic"),
    _vot4("book_vot16", "book", "VOT2016 book", "book held up and turned by a walking woman",
          "lounge, fixed camera"),
    dict(_vot4("skiing-LT", "skiing", "VOT-LT2018 skiing (frames 306-416 of the 500 shipped)", "skier on a slope",
               "ski slope, following camera", repo=LTDSE, commit=LTDSE_HEAD, folder="seq"), span=[305, 416]),
    _vot4("horse-TIR", "horse", "VOT-TIR2015 horse (thermal infrared)", "horse led across a yard",
          "thermal camera, residential yard", repo=HSSNET, commit=HSSNET_HEAD, img=""),
    _vot4("birds-TIR", "birds", "VOT-TIR2015 'birds' as named in the repository (thermal infrared)",
          "person walking beside another",
          "thermal camera, park", repo=HSSNET, commit=HSSNET_HEAD, img=""),
    dict(name="airplane-TIR", dataset="PTB-TIR airplane (thermal infrared)", repo=MLSSNET, commit=MLSSNET_HEAD,
         img="src/tracking/sequences/airplane/img", gt="src/tracking/sequences/airplane/groundtruth_rect.txt",
         fps=30, play=30, licence="none stated (PTB-TIR, academic)",
         subject="person walking to and up aircraft stairs among others", setting="thermal camera, apron"),
]
# calm counterparts: the least-motion window (at most 150 frames) of a long sequence, disjoint from its main window
# (tiger_vot16 and airplane-TIR were tried too: their least-motion windows still rate active; Freeman1 has too few
# frames left beside its main window); "span" restricts a sequence to frames [a, b)
_add_stills(SOURCES4, ("Girl2", "horse-TIR"))
# VOT-LT skiing: the target is out of view in frames 139-180, 204-305 and 417-500 (1-based); its two long in-view
# stretches are used, 306-416 (111 frames, rates active) as the main entry and the calmer 1-138 as the -still one
SOURCES4.append(dict(next(x for x in SOURCES4 if x["name"] == "skiing-LT"), name="skiing-LT-still", span=[0, 138],
                     dataset="VOT-LT2018 skiing (frames 1-138 of the 500 shipped)", window="least", max_frames=150,
                     subject="skier on a slope (calmer in-view stretch)"))

CONF4 = dict(
    title="# extra4 — more real annotated footage in the contest format (fourth extra set)\n",
    built="Built by `engines/dataset/make_extra.py --set extra4` with its own fixed seed, the same construction as "
          "`extra` / `extra2` / `extra3` (and dev2) from yet other public sequences (none in extra, extra2, extra3, "
          "dev, dev2 or HELD_OUT.md).\n",
    sources_note="Public academic benchmarks taken from repositories that ship them as original frames with "
                 "per-frame boxes (no licence is stated for the footage; research use): four OTB-100 sequences from "
                 "four tracker repositories, three VOT2016 sequences from a course repository, the two stretches "
                 "with the skier in view of the first 500 frames of VOT-LT2018 skiing (from a long-term-tracking "
                 "entry; `skiing-LT-still` is the calmer one), and two thermal-infrared VOT-TIR2015 "
                 "sequences and one PTB-TIR sequence (grey thermal footage) from two thermal trackers. Boxes are "
                 "the benchmarks' own (VOT: bounding box of the polygon). Everything plays at 30 fps. Long "
                 "sequences are cut to the 240-frame window with the most subject motion; a `-still` entry is the "
                 "least-motion window (at most 150 frames) of the same sequence, disjoint from the main one (never "
                 "in the same compilation). None is in HELD_OUT.md, dev, dev2, extra, extra2 or extra3.\n",
    credits="\nCredits: OTB-100 (Wu, Lim, Yang, TPAMI 2015); VOT2016, VOT-LT2018 and VOT-TIR2015 (Kristan et al.; "
            "Felsberg et al.); PTB-TIR (Liu et al.); repositories etaisella/AlphaRefine, "
            "594422814/Reliable-Re-detection-for-Long-term-Tracking, hellbell/ADNet, ihpdep/LDES, "
            "AlvaroNavarroMora/RVA_VisionChallenge, Daikenan/LT_DSE, QiaoLiuHit/HSSNet and QiaoLiuHit/MLSSNet.\n",
)
EXTRA3_USED = set(d["name"].lower().replace("-still", "") for d in SOURCES3)


# ----------------------------------------------------------------------------------------
# Fifth set, "extra5" (--set extra5): seven more OTB-100 sequences, none in extra … extra4, dev, dev2 or
# HELD_OUT.md, each from a tracker or course repository that ships it as the original JPEG frames with the
# benchmark's per-frame boxes (box lines = frames, every box inside the picture, one checked by eye).
# Names: OTB Car4 is "Car4-OTB" (DTB70, held out, has a "Car4" too: another video). OTB Bolt2 (293 frames,
# 480x270) is another race than OTB Bolt (350 frames, 640x360, held out). OTB MountainBike (228 frames) is
# not DTB70's MountainBike1/5/6 (held out).
# ----------------------------------------------------------------------------------------
SEED5 = 20261207
SOURCES5 = [
    _otb3("Lemming", "xurui/SiamRPNTracker", "303448c1ff0cb1e927de4a1f9ba442e07317a3c5", "sequences/Lemming",
          "toy lemming moved by hand across a cluttered desk", "office, fixed camera"),
    _otb3("BlurCar2", "baowenqi/opticalFlowTracker", "29c23f3ce642ab0afd0d77d9d643ae8eea0b91f3", "data/BlurCar2",
          "car ahead on a city street", "shaky camera in a following car, strong motion blur"),
    _otb3("Panda", "trokhymovych/CV_HW3", "acbbd11e6fc40982fd3bed5efbd7e9be262cd755", "mean_shift/MeanShift/Panda",
          "red panda walking in a zoo enclosure", "low-resolution fixed camera, timestamp overlay"),
    _otb3("Tiger2", "trokhymovych/CV_HW3", "acbbd11e6fc40982fd3bed5efbd7e9be262cd755", "mean_shift/MeanShift/Tiger2",
          "plush tiger waved behind a leafy plant", "indoor, fixed camera"),
    dict(_otb3("Car4", "Praveen1098/Lucas_Kanade_Tracker", "69329fc316ab5b48d8fc2174e730dcecc25d2b1c",
               "Data/Car4/Car4", "car on a tree-lined road (grey)", "from a following car"), name="Car4-OTB"),
    _otb3("Bolt2", "Praveen1098/Lucas_Kanade_Tracker", "69329fc316ab5b48d8fc2174e730dcecc25d2b1c", "Data/Bolt2/Bolt2",
          "sprinter in a 100 m race among others", "broadcast sport, panning camera"),
    _otb3("MountainBike", "dumavit/meanshift-tracking", "f82779e594eb4ffb0b31dd5252ca34e7dd73c2a5",
          "input/MountainBike", "mountain biker on a rocky slope", "canyon, filmed from far above, moving camera"),
]
# calm counterpart: the least-motion window (at most 150 frames) of a long sequence, disjoint from the main one
# (Lemming, Car4-OTB and BlurCar2 were tried too: their least-motion windows still rate active, so they are not listed)
_add_stills(SOURCES5, ("Panda",))

CONF5 = dict(
    title="# extra5 — more real annotated footage in the contest format (fifth extra set)\n",
    built="Built by `engines/dataset/make_extra.py --set extra5` with its own fixed seed, the same construction as "
          "`extra` … `extra4` (and dev2) from yet other public sequences (none in extra … extra4, dev, dev2 or "
          "HELD_OUT.md).\n",
    sources_note="Public academic benchmarks taken from repositories that ship them as original frames with "
                 "per-frame boxes (no licence is stated for the footage; research use): seven OTB-100 sequences "
                 "from five tracker and course repositories. Boxes are the benchmark's own. Everything plays at "
                 "30 fps. Long sequences are cut to the 240-frame window with the most subject motion; a `-still` "
                 "entry is the least-motion window (at most 150 frames) of the same sequence, disjoint from the "
                 "main one (never in the same compilation). None is in HELD_OUT.md, dev, dev2 or extra … extra4.\n",
    credits="\nCredits: OTB-100 (Wu, Lim, Yang, TPAMI 2015); repositories xurui/SiamRPNTracker, "
            "baowenqi/opticalFlowTracker, trokhymovych/CV_HW3, Praveen1098/Lucas_Kanade_Tracker and "
            "dumavit/meanshift-tracking.\n",
)
EXTRA4_USED = set(d["name"].lower().replace("-still", "") for d in SOURCES4)
# Names of the earlier extra sets that a later set may not use again (its sequence name, or the part before
# "_": "car1_vot15" is "car1"; extra2's and extra3's entries were checked by the name alone until session 23,
# and none of them is refused by the part before "_", so their pools are the same either way).
EARLIER_USED = {"extra2": EXTRA1_USED,
                "extra3": EXTRA1_USED | EXTRA2_USED,
                "extra4": EXTRA1_USED | EXTRA2_USED | EXTRA3_USED,
                "extra5": EXTRA1_USED | EXTRA2_USED | EXTRA3_USED | EXTRA4_USED}


# README wording of the "extra" set (kept byte-identical); main() swaps in CONF2 for --set extra2.
CONF = dict(
    title="# extra — more real annotated footage in the contest format\n",
    built="Built by `engines/dataset/make_extra.py` (branch extra-data) with a fixed seed, the same construction as "
          "`dev2` but from other public sequences, with new kinds of filler and more picture shapes.\n",
    sources_note="Public academic benchmarks taken from repositories that ship them (no licence is stated for the "
                 "footage; research use). DAVIS boxes are the bounding boxes of the (single-object) masks. "
                 "UAV123@10fps plays at 25 fps (2.5x time-lapse), DAVIS (24 fps) at 25, OTB/VOT at 30. Long "
                 "sequences are cut to the 240-frame window with the most subject motion. None is in "
                 "HELD_OUT.md, dev or dev2.\n",
    credits="\nCredits: OTB-100 (Wu, Lim, Yang, TPAMI 2015); UAV123 (Mueller, Smith, Ghanem, ECCV 2016); VOT2014 "
            "(Kristan et al.); DAVIS (Perazzi et al., CVPR 2016).\n",
)


# ----------------------------------------------------------------------------------------
# git mirror access
# ----------------------------------------------------------------------------------------
class GitRepo:
    def __init__(self, mirror_root, repo, commit=None):
        base = os.path.join(mirror_root, repo.replace("/", "+"), "repo")
        gd = os.path.join(base, ".git")
        self.git_dir = gd if os.path.isdir(gd) else base
        self.repo = repo
        self.commit = self._git("rev-parse", commit or "HEAD").decode().strip()
        self._proc = None

    def _git(self, *args):
        return subprocess.check_output(["git", "--git-dir", self.git_dir] + list(args))

    def ls(self, folder):
        out = self._git("ls-tree", "--name-only", self.commit + ":" + folder).decode().split("\n")
        return sorted(n for n in out if n.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")))

    def read(self, path):
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "--git-dir", self.git_dir, "cat-file", "--batch"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._proc.stdin.write((self.commit + ":" + path + "\n").encode())
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().decode().split()
        if len(header) < 3 or header[1] == "missing":
            raise FileNotFoundError(path)
        size = int(header[2])
        data = self._proc.stdout.read(size)
        self._proc.stdout.read(1)
        return data


_REPOS = {}


def repo_of(mirror, name, commit=None):
    key = (name, commit)
    if key not in _REPOS:
        _REPOS[key] = GitRepo(mirror, name, commit)
    return _REPOS[key]


def mask_box(data, threshold=0):
    """Bounding box [x, y, w, h] of the pixels above threshold (default: non-zero) of an
    annotation mask (NaN if empty)."""
    m = np.asarray(Image.open(io.BytesIO(data)))
    if m.ndim == 3:
        m = m.max(axis=2)
    ys, xs = np.nonzero(m > threshold)
    if len(xs) < 4:
        return [float("nan")] * 4
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def parse_boxes(text):
    boxes = []
    for line in text.replace("\r", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        vals = [v for v in line.replace(",", " ").replace("\t", " ").split(" ") if v]
        try:
            f = [float(v) for v in vals]
        except ValueError:
            f = [float("nan")] * 4
        if len(f) >= 8:
            xs, ys = f[0:8:2], f[1:8:2]
            f = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        f = f[:4]
        if len(f) < 4 or any(math.isnan(v) for v in f) or f[2] <= 1 or f[3] <= 1:
            f = [float("nan")] * 4
        boxes.append(f)
    return np.array(boxes, dtype=np.float64)


def fill_nan(boxes):
    b = boxes.copy()
    ok = ~np.isnan(b[:, 0])
    idx = np.arange(len(b))
    for k in range(4):
        b[:, k] = np.interp(idx, idx[ok], b[ok, k])
    return b


class Source:
    def __init__(self, spec, mirror):
        self.spec = spec
        self.name = spec["name"]
        self.repo = repo_of(mirror, spec["repo"], spec.get("commit"))
        if spec.get("video"):
            self._init_video(spec)
            return
        if isinstance(spec["img"], (list, tuple)):  # frames spread over several folders (in order)
            self.files = [d + "/" + f for d in spec["img"] for f in self.repo.ls(d)]
            self._img_prefix = ""
        else:
            self.files = self.repo.ls(spec["img"])
            self._img_prefix = spec["img"] + "/"
        if spec.get("masks"):
            mdirs = spec["masks"] if isinstance(spec["masks"], (list, tuple)) else [spec["masks"]]
            mpaths = [d + "/" + f for d in mdirs for f in self.repo.ls(d)]
            th = spec.get("mask_threshold", 0)
            boxes = np.array([mask_box(self.repo.read(m), th) for m in mpaths], dtype=np.float64)
        else:
            boxes = parse_boxes(self.repo.read(spec["gt"]).decode("latin-1"))
        n = min(len(self.files), len(boxes))
        self.files, boxes = self.files[:n], boxes[:n]
        if spec.get("span"):  # extra4: use only frames [a, b) of the sequence (a stretch where the target is in view)
            a, b = spec["span"]
            self.files, boxes = self.files[a:b], boxes[a:b]
            n = len(self.files)
        self.total = n
        first = self.image(0)
        self.size = first.size
        self.valid = ~np.isnan(boxes[:, 0])
        self.boxes_all = fill_nan(boxes)
        self._choose_window()
        self._cache = {}

    def _init_video(self, spec):
        """Sequence shipped as an H.264 preview (frames re-encoded by the repo's author, scaled to
        spec["coded"]); boxes in the original picture size spec["orig"]. spec["skip"] leading frames
        (an overlay of the first box) are dropped; frames are scaled back to the original size."""
        data = self.repo.read(spec["video"])
        cw, ch = spec["coded"]
        ow, oh = spec["orig"]
        boxes = parse_boxes(self.repo.read(spec["gt"]).decode("latin-1"))
        tmp = os.path.join("/tmp", f"make_extra_{os.getpid()}_{self.name}.mp4")
        with open(tmp, "wb") as f:
            f.write(data)
        nb = int(subprocess.check_output(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", tmp]).decode().strip().rstrip(","))
        skip = spec.get("skip", 0)
        n = min(nb - skip - spec.get("skip_end", 0), len(boxes))
        boxes = boxes[:n]
        self.total = n
        self.size = (ow, oh)
        self.valid = ~np.isnan(boxes[:, 0])
        self.boxes_all = fill_nan(boxes)
        self._choose_window()
        # decode only the used window; keep the frames in memory as lossless PNG bytes
        p = subprocess.Popen(["ffmpeg", "-v", "quiet", "-i", tmp, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        fsz = cw * ch * 3
        self._frames = []
        a, b = skip + self.first, skip + self.first + self.used
        for i in range(b):
            buf = p.stdout.read(fsz)
            if len(buf) < fsz:
                break
            if i >= a:
                im = Image.frombytes("RGB", (cw, ch), buf)
                if (cw, ch) != (ow, oh):
                    im = im.resize((ow, oh), Image.BICUBIC)
                bio = io.BytesIO()
                im.save(bio, format="PNG", compress_level=1)
                self._frames.append(bio.getvalue())
        p.stdout.close()
        p.wait()
        os.remove(tmp)
        assert len(self._frames) == self.used, (self.name, len(self._frames), self.used)
        self._cache = {}

    def image(self, i):
        if self.spec.get("video"):
            return Image.open(io.BytesIO(self._frames[i - self.first])).convert("RGB")
        data = self.repo.read(self._img_prefix + self.files[i])
        return Image.open(io.BytesIO(data)).convert("RGB")

    def _choose_window(self):
        n = self.total
        mf = self.spec.get("max_frames", MAX_FRAMES)  # extra3 still windows: shorter (calmer) windows
        L = min(mf, n)
        ex = self.spec.get("_exclude")  # [a, b): frames of another pool entry's window (same sequence)
        if ex:
            L = min(mf, max(ex[0], n - ex[1]))  # longest window that fits beside it
        c = self.boxes_all[:, :2] + self.boxes_all[:, 2:] / 2
        diag = math.hypot(*self.size)
        mv = np.r_[0.0, np.hypot(*np.diff(c, axis=0).T) / diag]
        inval = (~self.valid).astype(float)
        cm, ci = np.r_[0, np.cumsum(mv)], np.r_[0, np.cumsum(inval)]
        best, bs = 0, -1e9
        sign = -1.0 if self.spec.get("window") == "least" else 1.0
        for s in range(0, n - L + 1):
            if ex and s < ex[1] and s + L > ex[0]:
                continue
            score = sign * (cm[s + L] - cm[s + 1]) - 10.0 * (ci[s + L] - ci[s]) / L
            if score > bs + 1e-12:
                best, bs = s, score
        self.first = best
        self.used = L
        self.boxes = self.boxes_all[best:best + L]

    def frame(self, k):
        """k-th frame of the used window (PIL RGB); small LRU."""
        if k in self._cache:
            return self._cache[k]
        im = self.image(self.first + k)
        if len(self._cache) > 48:
            self._cache.pop(next(iter(self._cache)))
        self._cache[k] = im
        return im


# ----------------------------------------------------------------------------------------
# activity (dev2's "world-v1" rule)
# ----------------------------------------------------------------------------------------
def _grey_small(im, width=160):
    w, h = im.size
    hh = max(8, int(round(h * width / w)))
    g = np.asarray(im.convert("L").resize((width, hh), Image.BILINEAR), dtype=np.float64)
    return g, width / w


def _local_peaks(r, rel=0.6, maxn=6):
    m = r.max()
    nb = np.stack([np.roll(np.roll(r, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if dy or dx])
    is_peak = (r >= nb.max(axis=0)) & (r >= rel * m)
    ys, xs = np.nonzero(is_peak)
    order = np.argsort(-r[ys, xs])[:maxn]
    return [(ys[i], xs[i]) for i in order]


def _subpix(r, y, x):
    H, W = r.shape

    def off(a, b, c):
        d = a - 2 * b + c
        return 0.0 if abs(d) < 1e-12 else 0.5 * (a - c) / d
    dy = off(r[(y - 1) % H, x], r[y, x], r[(y + 1) % H, x])
    dx = off(r[y, (x - 1) % W], r[y, x], r[y, (x + 1) % W])
    yy, xx = y + max(-0.5, min(0.5, dy)), x + max(-0.5, min(0.5, dx))
    if yy > H / 2:
        yy -= H
    if xx > W / 2:
        xx -= W
    return yy, xx


def activity(src, fps):
    W, H = src.size
    diag = math.hypot(W, H)
    boxes = src.boxes
    c = boxes[:, :2] + boxes[:, 2:] / 2
    prev = None
    world, pic, bgs, scl, conf = [], [], [], [], []
    for k in range(src.used):
        g, s = _grey_small(src.frame(k))
        if prev is not None:
            g0 = prev
            h, w = g.shape
            hann = np.outer(np.hanning(h), np.hanning(w))
            mask = np.ones_like(hann)
            for b in (boxes[k - 1], boxes[k]):
                x, y, bw, bh = b * s
                ex, ey = 0.1 * bw, 0.1 * bh
                x0, x1 = int(max(0, math.floor(x - ex))), int(min(w, math.ceil(x + bw + ex)))
                y0, y1 = int(max(0, math.floor(y - ey))), int(min(h, math.ceil(y + bh + ey)))
                mask[y0:y1, x0:x1] = 0
            wt = hann * mask
            a = (g0 - g0.mean()) * wt
            b2 = (g - g.mean()) * wt
            F1, F2 = np.fft.fft2(a), np.fft.fft2(b2)
            R = F2 * np.conj(F1)
            R /= np.abs(R) + 1e-9
            r = np.real(np.fft.ifft2(R))
            dc = (c[k] - c[k - 1])
            dcs = dc * s
            best, bd = None, -1
            for (py, px) in _local_peaks(r):
                yy, xx = _subpix(r, py, px)
                d = math.hypot(xx - dcs[0], yy - dcs[1])
                if d > bd:
                    best, bd = (yy, xx), d
            bg = np.array([best[1], best[0]]) / s
            conf.append(float(r.max()))
            world.append(float(np.hypot(*(dc - bg)) / diag * fps))
            pic.append(float(np.hypot(*dc) / diag * fps))
            bgs.append(float(np.hypot(*bg) / diag * fps))
            s0 = math.log(math.sqrt(boxes[k - 1][2] * boxes[k - 1][3]))
            s1 = math.log(math.sqrt(boxes[k][2] * boxes[k][3]))
            scl.append(abs(s1 - s0) * fps)
        prev = g
    med = lambda v: float(np.median(v)) if v else 0.0
    act = med(world) + med(scl)
    return dict(activity=act, activity_picture=med(pic) + med(scl),
                detail=dict(bg_speed=round(med(bgs), 4), picture_speed=round(med(pic), 4),
                            world_speed=round(med(world), 4), scale_term=round(med(scl), 4),
                            bg_conf_median=round(med(conf), 3)))


def classify(a):
    return "active" if a >= ACTIVE_T else ("calm" if a <= CALM_T else "middle")


# ----------------------------------------------------------------------------------------
# geometry
# ----------------------------------------------------------------------------------------
def gt_window(W, H, cx, cy, ratio):
    """Largest window of ratio (tw, th) inside W x H, centred on (cx, cy), clamped."""
    tw, th = ratio
    if W * th > H * tw:  # picture wider than target: full height
        w = int(math.floor(H * tw / th))
        h = w * th / tw
    else:
        w = W
        h = W * th / tw
    x = int(round(cx - w / 2))
    y = int(round(cy - h / 2))
    x = max(0, min(x, W - w))
    y = max(0, min(y, int(math.floor(H - h + 1e-9))))
    return [x, y, w]


def crop_rect_for(src, W, H):
    """Crop of the source frame with the picture's aspect ratio around the subject's median."""
    sw, sh = src.size
    c = src.boxes[:, :2] + src.boxes[:, 2:] / 2
    mx, my = float(np.median(c[:, 0])), float(np.median(c[:, 1]))
    if sw * H > sh * W:  # source wider: cut a strip around median x
        cw, ch = sh * W / H, sh
        x0 = min(max(0.0, mx - cw / 2), sw - cw)
        return (x0, 0.0, cw, ch)
    cw, ch = sw, sw * H / W
    y0 = min(max(0.0, my - ch / 2), sh - ch)
    return (0.0, y0, cw, ch)


def fit_rect_for(src, W, H):
    """Scale to fit inside W x H, padded: returns the placement (ox, oy, scale)."""
    sw, sh = src.size
    s = min(W / sw, H / sh)
    nw, nh = int(round(sw * s)) // 2 * 2, int(round(sh * s)) // 2 * 2
    return ((W - nw) // 2, (H - nh) // 2, nw, nh)


def render_cropped(src, k, rect, W, H):
    x0, y0, cw, ch = rect
    im = src.frame(k).resize((W, H), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    return np.asarray(im)


def render_fitted(src, k, place, W, H, bg):
    ox, oy, nw, nh = place
    canvas = np.empty((H, W, 3), np.uint8)
    canvas[:] = bg
    canvas[oy:oy + nh, ox:ox + nw] = np.asarray(src.frame(k).resize((nw, nh), Image.BILINEAR))
    return canvas


# ----------------------------------------------------------------------------------------
# fillers
# ----------------------------------------------------------------------------------------
WORDS = ("the morning session highlights summer club weekend trip river valley north team camp "
         "city park festival open day training race final review season moments channel vlog "
         "episode part studio live report weather traffic update market sports news").split()
NAMES = ("Alex Morgan, Sam Lee, Kim Novak, Jo Park, Ana Ruiz, Tom Berg, Mia Chen, Leo Rossi, "
         "Eva Lind, Max Weber, Ida Holm, Noah King, Lea Roth, Ben Ward, Zoe Hart").split(", ")


def font(size):
    try:
        return ImageFont.load_default(size=max(6, int(size)))
    except Exception:
        return ImageFont.load_default()


def phrase(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).title()


def rand_col(rng, lo=0, hi=255):
    return tuple(rng.randint(lo, hi) for _ in range(3))


def gradient(W, H, c0, c1, vertical=True):
    t = np.linspace(0, 1, H if vertical else W)[:, None] if vertical else np.linspace(0, 1, W)[None, :]
    c0, c1 = np.array(c0, float), np.array(c1, float)
    g = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    return np.broadcast_to(g, (H, W, 3)).astype(np.uint8).copy()


def text_center(draw, W, y, s, f, fill):
    bb = draw.textbbox((0, 0), s, font=f)
    draw.text(((W - (bb[2] - bb[0])) / 2 - bb[0], y), s, font=f, fill=fill)


def f_black(rng, W, H, n, ctx):
    lvl = rng.randint(0, 14)
    fr = np.full((H, W, 3), lvl, np.uint8)
    for _ in range(n):
        yield fr


def f_title(rng, W, H, n, ctx):
    if rng.random() < 0.5:
        base = np.full((H, W, 3), rand_col(rng, 0, 80), np.uint8)
    else:
        base = gradient(W, H, rand_col(rng, 0, 120), rand_col(rng, 0, 120), rng.random() < 0.5)
    im = Image.fromarray(base)
    d = ImageDraw.Draw(im)
    fs = min(W, H) * rng.uniform(0.07, 0.12)
    text_center(d, W, H * rng.uniform(0.3, 0.42), phrase(rng, rng.randint(1, 3)), font(fs), rand_col(rng, 190, 255))
    if rng.random() < 0.6:
        text_center(d, W, H * 0.58, phrase(rng, rng.randint(2, 4)), font(fs * 0.5), rand_col(rng, 150, 230))
    full = np.asarray(im).astype(np.float32)
    b = base.astype(np.float32)
    fade = max(1, int(n * rng.uniform(0.15, 0.35)))
    for i in range(n):
        a = min(1.0, (i + 1) / fade)
        yield (b + (full - b) * a).astype(np.uint8)


def f_freeze(rng, W, H, n, ctx):
    fr = ctx["edge"]
    for _ in range(n):
        yield fr


def f_blur(rng, W, H, n, ctx):
    im = Image.fromarray(ctx["edge"])
    dark = rng.uniform(0.35, 0.7)
    r0 = rng.uniform(4, 10)
    for i in range(n):
        r = r0 * (1 + 0.4 * math.sin(2 * math.pi * i / max(8, n / 1.5)))
        yield (np.asarray(im.filter(ImageFilter.GaussianBlur(r))) * dark).astype(np.uint8)


def smpte(W, H):
    cols = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
    fr = np.zeros((H, W, 3), np.uint8)
    h1 = int(H * 0.67)
    for i, c in enumerate(cols):
        fr[:h1, i * W // 7:(i + 1) * W // 7] = c
    fr[h1:int(H * 0.75)] = (0, 0, 192)
    fr[int(H * 0.75):] = (16, 16, 16)
    fr[int(H * 0.75):, :W // 6] = (0, 33, 76)
    fr[int(H * 0.75):, W // 6:W // 3] = (255, 255, 255)
    return fr


def f_bars(rng, W, H, n, ctx):
    fr = smpte(W, H)
    for _ in range(n):
        yield fr


def f_credits(rng, W, H, n, ctx):
    bg = rand_col(rng, 0, 30)
    lines = []
    for _ in range(rng.randint(8, 16)):
        lines.append(rng.choice(["Directed by", "Camera", "Edit", "Music", "Thanks to", "Produced by", "Sound"]))
        lines.append(rng.choice(NAMES))
        lines.append("")
    fs = max(8, H * rng.uniform(0.04, 0.06))
    f = font(fs)
    lh = fs * 1.5
    tall = Image.new("RGB", (W, int(lh * len(lines) + 2 * H)), bg)
    d = ImageDraw.Draw(tall)
    for i, s in enumerate(lines):
        text_center(d, W, H + i * lh, s, f, (230, 230, 230))
    arr = np.asarray(tall)
    speed = rng.uniform(0.6, 1.6) * H / 120.0
    for i in range(n):
        y = int(min(arr.shape[0] - H, i * speed))
        yield arr[y:y + H]


def f_logo(rng, W, H, n, ctx):
    if rng.random() < 0.5:
        base = np.full((H, W, 3), rand_col(rng, 10, 90), np.uint8)
    else:
        base = gradient(W, H, rand_col(rng, 0, 120), rand_col(rng, 0, 160))
    col = rand_col(rng, 120, 255)
    name = phrase(rng, rng.randint(1, 2)).upper()
    f = font(min(W, H) * 0.09)
    R = min(W, H) * 0.13
    for i in range(n):
        im = Image.fromarray(base.copy())
        d = ImageDraw.Draw(im)
        t = i / max(1, n - 1)
        sc = min(1.0, 0.3 + 1.4 * t)
        ang = 360 * t
        cx, cy = W / 2, H * 0.4
        pts = [(cx + R * sc * math.cos(math.radians(ang + a)), cy + R * sc * math.sin(math.radians(ang + a)))
               for a in range(0, 360, 72)]
        d.polygon(pts, fill=col)
        if t > 0.4:
            lx = int(-W + min(1.0, (t - 0.4) / 0.3) * W)
            d.rectangle([lx, int(H * 0.72), lx + int(W * 0.8), int(H * 0.84)], fill=(20, 20, 20))
            d.text((lx + 10, H * 0.73), name, font=f, fill=(255, 255, 255))
        yield np.asarray(im)


def f_screen(rng, W, H, n, ctx):
    base = Image.new("RGB", (W, H), (rng.randint(200, 240),) * 3)
    d = ImageDraw.Draw(base)
    d.rectangle([0, 0, W, int(H * 0.08)], fill=rand_col(rng, 40, 120))
    sb = int(W * rng.uniform(0.15, 0.25))
    d.rectangle([0, int(H * 0.08), sb, H], fill=(rng.randint(60, 90),) * 3)
    lines = [(sb + 10, int(H * 0.12 + j * H * 0.06), int(W * rng.uniform(0.4, 0.95))) for j in range(12)]
    px, py = rng.uniform(0, W), rng.uniform(0, H)
    tx, ty = rng.uniform(0, W), rng.uniform(0, H)
    for i in range(n):
        im = base.copy()
        d = ImageDraw.Draw(im)
        shown = int(len(lines) * (i + 1) / n)
        for (x, y, x1) in lines[:shown]:
            if y + 4 < H:
                d.rectangle([x, y, min(W - 5, x1), y + max(2, H // 90)], fill=(90, 90, 90))
        if i % 20 == 0:
            tx, ty = rng.uniform(0, W), rng.uniform(0, H)
        px += (tx - px) * 0.15
        py += (ty - py) * 0.15
        d.polygon([(px, py), (px + 9, py + 12), (px + 3, py + 12)], fill=(0, 0, 0))
        yield np.asarray(im)


def f_fadewhite(rng, W, H, n, ctx):
    e = ctx["edge"].astype(np.float32)
    for i in range(n):
        a = min(1.0, (i + 1) / max(1, n * 0.6))
        yield (e + (255 - e) * a).astype(np.uint8)


# ---- new kinds (not in dev2) ----
def f_static(rng, W, H, n, ctx):
    g = np.random.default_rng(rng.randint(0, 2**31))
    tint = rng.random() < 0.3
    for i in range(n):
        v = g.integers(0, 256, (H // 2, W // 2), dtype=np.uint8)
        v = np.repeat(np.repeat(v, 2, 0), 2, 1)
        band = (i * 7) % H
        v[band:band + H // 12] = (v[band:band + H // 12] * 0.6).astype(np.uint8)
        fr = np.stack([v] * 3, -1)
        if tint:
            fr[..., 2] = np.minimum(255, fr[..., 2].astype(int) + 30)
        yield fr


def f_kenburns(rng, W, H, n, ctx):
    im = ctx["still"]()
    sw, sh = im.size
    z0, z1 = rng.uniform(1.0, 1.15), rng.uniform(1.25, 1.6)
    if rng.random() < 0.5:
        z0, z1 = z1, z0
    a = (rng.random(), rng.random())
    b = (rng.random(), rng.random())
    base = min(sw / W, sh / H)
    for i in range(n):
        t = i / max(1, n - 1)
        t = t * t * (3 - 2 * t)
        z = z0 + (z1 - z0) * t
        cw, ch = W * base / z, H * base / z
        fx, fy = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        x0, y0 = fx * (sw - cw), fy * (sh - ch)
        yield np.asarray(im.resize((W, H), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch)))


def f_slideshow(rng, W, H, n, ctx):
    k = rng.randint(2, 4)
    stills = []
    for _ in range(k):
        im = ctx["still"]()
        sw, sh = im.size
        s = min(W / sw, H / sh)
        nw, nh = max(2, int(sw * s)), max(2, int(sh * s))
        c = Image.new("RGB", (W, H), (rng.randint(0, 30),) * 3)
        c.paste(im.resize((nw, nh), Image.BILINEAR), ((W - nw) // 2, (H - nh) // 2))
        stills.append(np.asarray(c).astype(np.float32))
    seg = n / k
    xf = max(2, int(seg * rng.uniform(0.2, 0.4)))
    for i in range(n):
        j = min(k - 1, int(i / seg))
        into = i - j * seg
        fr = stills[j]
        if j + 1 < k and into > seg - xf:
            a = (into - (seg - xf)) / xf
            fr = fr * (1 - a) + stills[j + 1] * a
        yield fr.astype(np.uint8)


def f_countdown(rng, W, H, n, ctx):
    fps = ctx["fps"]
    start = rng.randint(3, 9)
    bgc = (rng.randint(90, 170),) * 3
    f = font(min(W, H) * 0.45)
    R = min(W, H) * 0.38
    for i in range(n):
        num = max(1, start - i // fps)
        frac = (i % fps) / fps
        im = Image.new("RGB", (W, H), bgc)
        d = ImageDraw.Draw(im)
        cx, cy = W / 2, H / 2
        d.pieslice([cx - R * 2, cy - R * 2, cx + R * 2, cy + R * 2], -90, -90 + 360 * frac,
                   fill=tuple(max(0, v - 50) for v in bgc))
        d.ellipse([cx - R, cy - R, cx + R, cy + R], outline=(240, 240, 240), width=max(2, W // 120))
        d.ellipse([cx - R * 0.8, cy - R * 0.8, cx + R * 0.8, cy + R * 0.8], outline=(240, 240, 240), width=max(1, W // 200))
        d.line([0, cy, W, cy], fill=(20, 20, 20), width=max(1, W // 300))
        d.line([cx, 0, cx, H], fill=(20, 20, 20), width=max(1, W // 300))
        s = str(num)
        bb = d.textbbox((0, 0), s, font=f)
        d.text((cx - (bb[2] + bb[0]) / 2, cy - (bb[3] + bb[1]) / 2), s, font=f, fill=(10, 10, 10))
        yield np.asarray(im)


def f_ticker(rng, W, H, n, ctx):
    if rng.random() < 0.5:
        base = gradient(W, H, rand_col(rng, 0, 60), rand_col(rng, 0, 90))
    else:
        base = np.full((H, W, 3), rand_col(rng, 0, 70), np.uint8)
    im0 = Image.fromarray(base)
    d = ImageDraw.Draw(im0)
    fh = min(W, H) * 0.08
    text_center(d, W, H * 0.25, phrase(rng, 2).upper(), font(fh), (255, 255, 255))
    bar_y = int(H * rng.uniform(0.78, 0.86))
    bh = int(H * 0.09)
    barc = rand_col(rng, 100, 220)
    tf = font(bh * 0.7)
    story = "  +++  ".join(phrase(rng, rng.randint(3, 6)) for _ in range(8))
    tb = d.textbbox((0, 0), story, font=tf)
    strip = Image.new("RGB", (tb[2] + 2 * W, bh), barc)
    ImageDraw.Draw(strip).text((W, bh * 0.1), story, font=tf, fill=(10, 10, 10))
    strip = np.asarray(strip)
    base = np.asarray(im0)
    speed = rng.uniform(2.0, 5.0) * W / 640
    for i in range(n):
        fr = base.copy()
        x = int(i * speed) % max(1, strip.shape[1] - W)
        fr[bar_y:bar_y + bh] = strip[:, x:x + W]
        fr[bar_y - 3:bar_y] = 255
        yield fr


def f_plasma(rng, W, H, n, ctx):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    k1, k2, k3 = rng.uniform(0.01, 0.04), rng.uniform(0.01, 0.04), rng.uniform(0.005, 0.02)
    sp = rng.uniform(0.03, 0.12)
    ph = [rng.uniform(0, 6.28) for _ in range(3)]
    for i in range(n):
        t = i * sp
        v = (np.sin(xx * k1 + t) + np.sin(yy * k2 + t * 1.3) + np.sin((xx + yy) * k3 + t * 0.7)
             + np.sin(np.sqrt((xx - W / 2) ** 2 + (yy - H / 2) ** 2) * k3 * 2 - t))
        fr = np.stack([np.sin(v * math.pi / 2 + p) for p in ph], -1)
        yield ((fr * 0.5 + 0.5) * 200 + 20).astype(np.uint8)


def f_testcard(rng, W, H, n, ctx):
    im = Image.new("RGB", (W, H), (128, 128, 128))
    d = ImageDraw.Draw(im)
    step = max(8, min(W, H) // rng.randint(8, 14))
    for x in range(0, W, step):
        d.line([x, 0, x, H], fill=(235, 235, 235), width=1)
    for y in range(0, H, step):
        d.line([0, y, W, y], fill=(235, 235, 235), width=1)
    R = min(W, H) * 0.42
    cx, cy = W / 2, H / 2
    d.ellipse([cx - R, cy - R, cx + R, cy + R], fill=(40, 40, 40), outline=(255, 255, 255), width=2)
    # grey steps and colour strip inside the circle
    for j in range(6):
        v = int(j * 255 / 5)
        d.rectangle([cx - R * 0.8 + j * R * 1.6 / 6, cy - R * 0.55, cx - R * 0.8 + (j + 1) * R * 1.6 / 6, cy - R * 0.2],
                    fill=(v, v, v))
    cols = [(255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]
    for j, c in enumerate(cols):
        d.rectangle([cx - R * 0.8 + j * R * 1.6 / 6, cy - R * 0.15, cx - R * 0.8 + (j + 1) * R * 1.6 / 6, cy + R * 0.2], fill=c)
    for j in range(8):  # frequency gratings
        x0 = cx - R * 0.8 + j * R * 1.6 / 8
        per = 2 + j
        for x in range(int(x0), int(x0 + R * 1.6 / 8), per):
            d.line([x, cy + R * 0.25, x, cy + R * 0.55], fill=(255, 255, 255), width=1)
    text_center(d, W, cy + R * 0.6, phrase(rng, 1).upper(), font(R * 0.15), (255, 255, 255))
    fr = np.asarray(im)
    for _ in range(n):
        yield fr


def f_buffering(rng, W, H, n, ctx):
    e = (ctx["edge"].astype(np.float32) * rng.uniform(0.25, 0.5)).astype(np.uint8)
    base = Image.fromarray(e)
    R = min(W, H) * rng.uniform(0.06, 0.1)
    cx, cy = W / 2, H / 2
    spd = rng.uniform(8, 16)
    for i in range(n):
        im = base.copy()
        d = ImageDraw.Draw(im)
        for j in range(12):
            a = math.radians(j * 30 + i * spd)
            lv = int(255 * ((j + i * spd / 30) % 12) / 12)
            x, y = cx + R * math.cos(a), cy + R * math.sin(a)
            r = max(2, R * 0.15)
            d.ellipse([x - r, y - r, x + r, y + r], fill=(lv, lv, lv))
        yield np.asarray(im)


def f_fadecolor(rng, W, H, n, ctx):
    e = ctx["edge"].astype(np.float32)
    col = np.array(rand_col(rng, 0, 255), np.float32)
    for i in range(n):
        a = min(1.0, (i + 1) / max(1, n * 0.7))
        yield (e + (col - e) * a).astype(np.uint8)


FILLERS = dict(black=f_black, title=f_title, freeze=f_freeze, blur=f_blur, bars=f_bars, credits=f_credits,
               logo=f_logo, screen=f_screen, fadewhite=f_fadewhite,
               static=f_static, kenburns=f_kenburns, slideshow=f_slideshow, countdown=f_countdown,
               ticker=f_ticker, plasma=f_plasma, testcard=f_testcard, buffering=f_buffering,
               fadecolor=f_fadecolor)
OLD_KINDS = ["black", "title", "freeze", "blur", "bars", "credits", "logo", "screen", "fadewhite"]
NEW_KINDS = ["static", "kenburns", "slideshow", "countdown", "ticker", "plasma", "testcard", "buffering", "fadecolor"]
EDGE_KINDS = {"freeze", "blur", "fadewhite", "buffering", "fadecolor"}


# ----------------------------------------------------------------------------------------
# audio + encode
# ----------------------------------------------------------------------------------------
def write_audio(path, n_frames, fps, tone_ranges, rng):
    sr = 48000
    ns = int(round(n_frames / fps * sr))
    g = np.random.default_rng(rng.randint(0, 2**31))
    x = g.standard_normal(ns + 64)
    # gentle low-pass (moving average) -> stationary ambient hiss
    k = rng.randint(3, 12)
    x = np.convolve(x, np.ones(k) / k, mode="same")[:ns]
    x *= 10 ** (rng.uniform(-46, -38) / 20) / (x.std() + 1e-9)
    for (a, b) in tone_ranges:  # broadcast bars carry a 1 kHz tone
        s0, s1 = int(a / fps * sr), int(b / fps * sr)
        t = np.arange(s1 - s0) / sr
        x[s0:s1] += 0.1 * np.sin(2 * np.pi * 1000 * t)
    pcm = np.clip(x * 32767, -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


class Encoder:
    def __init__(self, path, W, H, fps, wav):
        self.n = 0
        self.p = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
             "-r", str(fps), "-i", "-", "-i", wav, "-map", "0:v", "-map", "1:a",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "22", "-pix_fmt", "yuv420p",
             "-threads", "2", "-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "1",
             "-movflags", "+faststart", path], stdin=subprocess.PIPE)
        self.W, self.H = W, H

    def put(self, fr):
        fr = np.ascontiguousarray(fr, dtype=np.uint8)
        assert fr.shape == (self.H, self.W, 3), fr.shape
        self.p.stdin.write(fr.tobytes())
        self.n += 1

    def close(self):
        self.p.stdin.close()
        if self.p.wait() != 0:
            raise RuntimeError("ffmpeg failed")


# ----------------------------------------------------------------------------------------
# planning
# ----------------------------------------------------------------------------------------
SINGLE_SHAPES = [  # (shape code, W, H)
    ("L", 640, 360), ("L", 640, 360), ("L", 640, 360), ("H", 854, 480), ("F", 480, 360),
    ("P", 202, 360), ("P", 270, 480), ("S", 360, 360), ("S", 480, 480), ("W", 720, 360),
    ("C", 768, 320), ("T", 270, 360),
]
COMP_SHAPES = [("L", 640, 360), ("L", 640, 360), ("P", 270, 480), ("S", 360, 360), ("F", 480, 360), ("H", 854, 480)]
FILLER_ONLY_SHAPES = [("L", 640, 360), ("P", 270, 480), ("S", 360, 360), ("F", 480, 360)]


def pick_kinds(rng, k, new_bias=0.6):
    out = []
    for _ in range(k):
        pool = NEW_KINDS if rng.random() < new_bias else OLD_KINDS
        out.append(rng.choice(pool))
    return out


def plan(pool, rng, n_videos):
    """Every source gets one single video (more if n_videos allows), then compilations of
    active/calm sources, then a few filler-only videos."""
    names = [p["name"] for p in pool]
    cls = {p["name"]: p["class"] for p in pool}
    height = {p["name"]: p["size"][1] for p in pool}
    act = [n for n in names if cls[n] == "active"]
    calm = [n for n in names if cls[n] == "calm"]
    videos = []
    n_fill = max(3, round(n_videos * 0.06))
    n_comp = round(n_videos * 0.34) if (act and len(act) + len(calm) >= 2) else 0
    n_single = max(len(names), n_videos - n_fill - n_comp)
    order = names[:]
    rng.shuffle(order)
    while len(order) < n_single:
        o = names[:]
        rng.shuffle(o)
        order += o
    for i in range(n_single):
        src = order[i]
        # no big upscales: picture height at most 1.6x the source's
        shapes = [sh for sh in SINGLE_SHAPES if sh[2] <= 1.6 * height[src]] or [SINGLE_SHAPES[0]]
        shape = rng.choice(shapes)
        ratio = rng.choice([[9, 16], [16, 9]])
        before = pick_kinds(rng, rng.randint(1, 2)) if rng.random() < 0.65 else []
        after = pick_kinds(rng, rng.randint(1, 2)) if rng.random() < 0.65 else []
        videos.append(dict(type="single", shape=shape, ratio=ratio, source=src, before=before, after=after,
                           fps=None))
    used = {n: 0 for n in names}

    def least_used(cands, m):
        cands = cands[:]
        rng.shuffle(cands)
        cands.sort(key=lambda n: used[n])
        return cands[:m]

    for i in range(n_comp):
        shape = rng.choice(COMP_SHAPES)
        ratio = rng.choice([[9, 16], [16, 9]])
        k = rng.randint(2, 4)
        base = lambda n: n.replace("-still", "")  # Dog1 / Dog1-still are one sequence
        free = lambda cands: [n for n in cands if base(n) not in {base(c) for c in chosen}]
        chosen = []
        chosen += least_used(act, 1)
        if calm and rng.random() < 0.75:
            chosen += least_used(free(calm), min(len(calm), rng.randint(1, 2), k - 1))
        chosen += least_used(free(act), max(0, k - len(chosen)))
        for n in chosen:
            used[n] += 1
        rng.shuffle(chosen)
        lead = pick_kinds(rng, rng.randint(1, 2)) if rng.random() < 0.3 else []
        fps = rng.choice([25, 30])
        videos.append(dict(type="compilation", shape=shape, ratio=ratio, clips=chosen, lead=lead, fps=fps))
    for i in range(n_fill):
        shape = rng.choice(FILLER_ONLY_SHAPES)
        videos.append(dict(type="filler-only", shape=shape, ratio=rng.choice([[9, 16], [16, 9]]),
                           kinds=pick_kinds(rng, rng.randint(2, 4), 0.7), fps=rng.choice([25, 30])))
    return videos


# ----------------------------------------------------------------------------------------
# build
# ----------------------------------------------------------------------------------------
def build_video(vid, v, sources, pool_by, rng, out):
    code, W, H = v["shape"]
    ratio = v["ratio"]
    all_names = list(sources)
    tmpwav = os.path.join(out, "video", f".{vid}.wav")

    def still_fn(exclude=()):
        def f():
            cands = [n for n in all_names if n not in exclude] or all_names
            s = sources[rng.choice(cands)]
            return s.frame(rng.randrange(s.used))
        return f

    segs = []  # (kind, payload, n)
    preds, fillers, clips, parts = [], [], [], []
    if v["type"] == "single":
        src = sources[v["source"]]
        fps = src.spec["play"]
        rect = crop_rect_for(src, W, H)
        sx = W / rect[2]
        first_fr = render_cropped(src, 0, rect, W, H)
        last_fr = render_cropped(src, src.used - 1, rect, W, H)
        for side, kinds in (("before", v["before"]), ("after", v["after"])):
            if not kinds:
                continue
            total = int(rng.uniform(1, 6) * fps)
            ns = [total // len(kinds)] * len(kinds)
            ns[-1] += total - sum(ns)
            lst = [(k, (first_fr if side == "before" else last_fr), n) for k, n in zip(kinds, ns)]
            if side == "before":
                segs_before = lst
            else:
                segs_after = lst
        segs = [("filler", x) for x in (locals().get("segs_before") or [])]
        segs.append(("real", src))
        segs += [("filler", x) for x in (locals().get("segs_after") or [])]
    elif v["type"] == "compilation":
        fps = v["fps"]
        if v["lead"]:
            tot = int(rng.uniform(1.5, 3.5) * fps)
            ns = [tot // len(v["lead"])] * len(v["lead"])
            ns[-1] += tot - sum(ns)
            first_src = sources[v["clips"][0]]
            place = fit_rect_for(first_src, W, H)
            edge = render_fitted(first_src, 0, place, W, H, (0, 0, 0))
            for k, n in zip(v["lead"], ns):
                segs.append(("filler", (k, edge, n)))
        for name in v["clips"]:
            src = sources[name]
            L = min(src.used, int(rng.uniform(2, 8) * fps))
            L = max(min(src.used, 2 * fps), L)
            s0 = rng.randint(0, src.used - L)
            segs.append(("clip", (src, s0, L, pool_by[name]["class"])))
    else:
        fps = v["fps"]
        tot = int(rng.uniform(5, 12) * fps)
        ks = v["kinds"]
        ns = [tot // len(ks)] * len(ks)
        ns[-1] += tot - sum(ns)
        edge_src = sources[rng.choice(all_names)]
        place = fit_rect_for(edge_src, W, H)
        edge = render_fitted(edge_src, rng.randrange(edge_src.used), place, W, H, (0, 0, 0))
        for k, n in zip(ks, ns):
            segs.append(("filler", (k, edge, n)))

    # count frames first, write audio with bar tones, then render+encode
    t = 0
    tone = []
    layout = []
    for kind, payload in segs:
        if kind == "filler":
            k, edge, n = payload
            layout.append((kind, payload, t, t + n))
            if k == "bars":
                tone.append((t, t + n))
            t += n
        elif kind == "real":
            layout.append((kind, payload, t, t + payload.used))
            t += payload.used
        else:
            src, s0, L, c = payload
            layout.append((kind, payload, t, t + L))
            t += L
    total = t
    write_audio(tmpwav, total, fps, tone, rng)
    path = os.path.join(out, "video", f"{vid}.mp4")
    enc = Encoder(path, W, H, fps, tmpwav)
    lead_kinds = []
    for kind, payload, a, b in layout:
        if kind == "filler":
            k, edge, n = payload
            ctx = dict(edge=edge, still=still_fn(), fps=fps)
            for fr in FILLERS[k](rng, W, H, n, ctx):
                enc.put(fr)
            fillers.append(dict(kind=k, frames=[a, b]))
            lead_kinds.append((k, n))
        elif kind == "real":
            src = payload
            rect = crop_rect_for(src, W, H)
            sx, sy = W / rect[2], H / rect[3]
            for j in range(src.used):
                enc.put(render_cropped(src, j, rect, W, H))
                bx, by, bw, bh = src.boxes[j]
                cx, cy = (bx + bw / 2 - rect[0]) * sx, (by + bh / 2 - rect[1]) * sy
                preds.append({"frame": a + j, "bboxes": gt_window(W, H, cx, cy, ratio)})
            clips.append(dict(role="real", source=src.name, frames=[a, b]))
        else:
            src, s0, L, c = payload
            place = fit_rect_for(src, W, H)
            ox, oy, nw, nh = place
            s = nw / src.size[0]
            for j in range(L):
                enc.put(render_fitted(src, s0 + j, place, W, H, (0, 0, 0)))
                if c == "active":
                    bx, by, bw, bh = src.boxes[s0 + j]
                    cx, cy = ox + (bx + bw / 2) * s, oy + (by + bh / 2) * (nh / src.size[1])
                    preds.append({"frame": a + j, "bboxes": gt_window(W, H, cx, cy, ratio)})
            clips.append(dict(role=c, source=src.name, frames=[a, b], source_frames=[src.first + s0, src.first + s0 + L]))
    enc.close()
    os.remove(tmpwav)
    assert enc.n == total

    # parts in dev2's vocabulary
    if v["type"] == "single":
        grp = []
        for kind, payload, a, b in layout:
            if kind == "real":
                if grp:
                    parts.append(["filler", [g[0] for g in grp], sum(g[1] for g in grp)])
                    grp = []
                parts.append(["real", payload.name, payload.used])
            else:
                grp.append((payload[0], payload[2]))
        if grp:
            parts.append(["filler", [g[0] for g in grp], sum(g[1] for g in grp)])
    elif v["type"] == "compilation":
        nlead = sum(p[2] for k, p, a, b in layout if k == "filler")
        if nlead:
            parts.append(["filler", "lead-in", nlead])
        for kind, payload, a, b in layout:
            if kind == "clip":
                parts.append([payload[3], payload[0].name, payload[2]])
    else:
        parts.append(["filler", [f["kind"] for f in fillers], total])
    rec = dict(video_id=vid, type=v["type"], shape=code, parts=parts, fillers=fillers,
               clips=[{k: c[k] for k in ("role", "source", "frames")} for c in clips])
    extra_clip = [c for c in clips if "source_frames" in c]
    meta = dict(video_id=vid, width=W, height=H, frames=total, fps=fps)
    gt = dict(video_id=vid, targetRatioWH=ratio, predictions=preds)
    return rec, meta, gt, extra_clip


FILLER_DESC = dict(
    black="black (near-black level)", title="title card (plain or gradient background, fade-in, optional second line)",
    freeze="frozen still (first or last frame of the clip)", blur="out-of-focus (blurred, darkened frame, breathing blur)",
    bars="SMPTE colour bars (with 1 kHz tone)", credits="scrolling end credits",
    logo="animated logo with a sliding lower third", screen="fake screen recording / UI (window, sidebar, lines appearing, moving pointer)",
    fadewhite="fade to white (from the clip's edge frame)",
    static="TV static / noise with a rolling dark band (new)",
    kenburns="Ken-Burns pan/zoom over a still photo (a real frame of a pool sequence, moved; new)",
    slideshow="slideshow of 2-4 stills (real frames, letterboxed) with crossfades (new)",
    countdown="film countdown leader (sweeping sector, rings, numbers; new)",
    ticker="news ticker: headline on a plain/gradient background with a text crawl (new)",
    plasma="animated plasma / gradient (new)",
    testcard="test card: grid, circle, grey steps, colour strip, frequency gratings (not SMPTE bars; new)",
    buffering="\"buffering\" spinner over a darkened frozen frame (new)",
    fadecolor="fade from the clip's edge frame to a random colour (new)",
)


def _iou(a, b, ratio):
    tw, th = ratio
    ax, ay, aw = a
    bx, by, bw = b
    ah, bh = aw * th / tw, bw * th / tw
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def reference_scores(metas, gts):
    """SPEC section 4 metric (x100) of four trivial prediction sets, as dev2's README reports."""
    out = {}
    for name in ("every frame, centred largest window", "only the ground-truth frames, centred largest window",
                 "every frame, ground-truth window on its frames", "nothing at all"):
        fs = []
        for m, g in zip(metas, gts):
            W, H, n = m["width"], m["height"], m["frames"]
            r = g["targetRatioWH"]
            gtm = {p["frame"]: p["bboxes"] for p in g["predictions"]}
            c = gt_window(W, H, W / 2, H / 2, r)
            if name.startswith("every frame, centred"):
                pred = {k: c for k in range(n)}
            elif name.startswith("only"):
                pred = {k: c for k in gtm}
            elif name.startswith("every frame, ground"):
                pred = {k: gtm.get(k, c) for k in range(n)}
            else:
                pred = {}
            if not pred and not gtm:
                fs.append(1.0)
                continue
            S = sum(_iou(pred[k], gtm[k], r) for k in pred if k in gtm)
            fs.append(2 * S / (len(pred) + len(gtm)))
        out[name] = 100 * sum(fs) / len(fs)
    return out


def write_readme(out, pool, recs, metas, gts):
    from collections import Counter
    nv = len(recs)
    nf = sum(m["frames"] for m in metas)
    ng = sum(len(g["predictions"]) for g in gts)
    types = Counter(r["type"] for r in recs)
    shapes = Counter((m["width"], m["height"]) for m in metas)
    ratios = Counter(tuple(g["targetRatioWH"]) for g in gts)
    kinds = Counter(f["kind"] for r in recs for f in r["fillers"])
    cls = Counter(p["class"] for p in pool)
    L = []
    L.append(CONF["title"])
    L.append(f"{nv} videos, {nf:,} frames, {ng:,} ground-truth frames ({100 * ng / max(1, nf):.0f}%). " + CONF["built"])
    L.append(f"- **single** ({types['single']}): one real annotated sequence (at most 240 frames of it), every frame "
             "a ground-truth frame, sometimes with filler before and/or after (1-6 s, one or two kinds per gap).")
    L.append(f"- **compilation** ({types['compilation']}): 2-4 clips (2-8 s, shorter when the sequence is shorter) of "
             "*different* sequences, hard cuts, one canvas (each clip scaled to fit and padded). ACTIVE clips are "
             "the ground truth; CALM clips are real footage that is *not* a highlight. Some start with a filler lead-in.")
    L.append(f"- **filler only** ({types['filler-only']}): the right answer is an empty list.\n")
    L.append("Picture sizes (WxH: videos): " + ", ".join(f"{w}x{h}: {c}" for (w, h), c in sorted(shapes.items())) + ".")
    L.append("Single videos crop the source to the picture's shape around the subject's median position "
             "(portrait 9:16 and 3:4 strips around the median x, wide 2:1 / 2.4:1 bands around the median y) and scale it; "
             "target ratios: " + ", ".join(f"{a}:{b}: {c}" for (a, b), c in sorted(ratios.items())) + ".")
    L.append("Every video has an AAC track (48 kHz mono) of stationary low-level noise through real and filler parts "
             "alike (colour bars carry a 1 kHz tone as in dev2): the audio says nothing about the answer. "
             "H.264 yuv420p with B-frames, 25 or 30 fps.\n")
    L.append("## Activity rule\nExactly dev2's (world-v1): per pair of consecutive frames, world speed = |Δ box centre − Δ "
             "background| / diagonal × fps, Δ background by phase correlation of grey frames scaled to 160 px wide "
             "(Hann window, subject box +20% weighted out, of several strong peaks the one farthest from the subject's "
             "own motion); activity = median world speed + median |Δ log sqrt(w·h)| × fps (playback fps). dev2's "
             f"thresholds are kept: active ≥ {ACTIVE_T:.3f}, calm ≤ {CALM_T:.3f}, middle otherwise (singles only). "
             f"Pool classes: {dict(cls)}. The scale term follows box jitter (integer OTB boxes on small faces, "
             "axis-aligned boxes of rotated VOT polygons, mask boxes of deforming DAVIS objects), so some "
             "slow subjects rate active; it is the rule, not a judgement.\n")
    L.append("## Filler kinds (randomised parameters); counts of segments in this set")
    for k in OLD_KINDS + NEW_KINDS:
        L.append(f"- `{k}` ({kinds.get(k, 0)}): {FILLER_DESC[k]}")
    L.append("")
    L.append(f"## Sources ({len(pool)} sequences; per-frame boxes of the main subject)")
    L.append(CONF["sources_note"])
    L.append("| sequence | dataset | repository @ commit (path) | frames (used) | activity | class |")
    L.append("|---|---|---|---|---|---|")
    for p in pool:
        used = f"{p['frames_total']}" + (f" ({p['frames_used']})" if p["frames_used"] != p["frames_total"] else "")
        L.append(f"| {p['name']} | {p['dataset']} | {p['repo']} @ {p['commit'][:10]} ({p['path']}) | {used} | "
                 f"{p['activity']:.3f} | {p['class']} |")
    L.append(CONF["credits"])
    L.append("Ground truth: on a ground-truth frame, the largest window of the target ratio inside the picture, "
             "centred on the subject box centre (mapped into the picture) and clamped inside it.\n")
    L.append("## Reference scores (metric of SPEC.md section 4, x100)\n| predictions | score |\n|---|---|")
    for k, v in reference_scores(metas, gts).items():
        L.append(f"| {k} | {v:.1f} |")
    L.append("")
    L.append("## Files\nAs dev2: `video/<id>.mp4`, `jsonl/<id>.jsonl` (per-video index), `index.jsonl`, `gt.jsonl`, "
             "`meta.jsonl`, `sources.jsonl` (`parts`, `fillers` with frame ranges [start, end), `clips` with role "
             "real/active/calm), `pool.json` (per source: repo, commit, path, fps, frames used, activity, class). "
             "Debugging/analysis only; do not read them from the project's code.\n")
    open(os.path.join(out, "README.md"), "w").write("\n".join(L) + "\n")


# --set NAME: (seed, README wording over CONF's, pool entries).
SETS = {"extra": (SEED, {}, SOURCES), "extra2": (SEED2, CONF2, SOURCES2), "extra3": (SEED3, CONF3, SOURCES3),
        "extra4": (SEED4, CONF4, SOURCES4), "extra5": (SEED5, CONF5, SOURCES5)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=list(SETS), default="extra",
                    help="which set: extra (SOURCES, SEED), extra2 (SOURCES2, SEED2), extra3 (SOURCES3, SEED3), "
                         "extra4 (SOURCES4, SEED4) or extra5 (SOURCES5, SEED5)")
    ap.add_argument("--out", default=None, help="default /work/<set>")
    ap.add_argument("--mirror", default="/work/.mirror")
    ap.add_argument("--videos", type=int, default=None, help="default 66 (extra) / 40 (extra2) / 2 per extra3 source, at most 50 (extra3)"
                    " / 2 per extra4 or extra5 source, at most 50 (extra4, extra5)")
    ap.add_argument("--only-pool", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite README.md from an existing build")
    ap.add_argument("--limit", type=int, default=0, help="build only the first N videos (debug)")
    args = ap.parse_args()
    global SEED
    SEED, conf, specs = SETS[args.set]
    CONF.update(conf)
    out = args.out or "/work/" + args.set
    if args.videos is None and args.set in ("extra4", "extra5"):
        args.videos = min(50, 2 * len(specs))
    if args.videos is None:
        args.videos = {"extra": 66, "extra2": 40}.get(args.set) or min(50, 2 * len(SOURCES3))
    if args.readme_only:
        rd = lambda n: [json.loads(l) for l in open(os.path.join(out, n))]
        write_readme(out, json.load(open(os.path.join(out, "pool.json")))["sources"], rd("sources.jsonl"),
                     rd("meta.jsonl"), rd("gt.jsonl"))
        return
    os.makedirs(os.path.join(out, "video"), exist_ok=True)
    os.makedirs(os.path.join(out, "jsonl"), exist_ok=True)

    sources, pool = {}, []
    cache_path = os.path.join(out, ".activity_cache.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    for spec in specs:
        low = spec["name"].lower().split("_")[0].replace("-still", "")
        if low in HELD_OUT or spec["name"].lower() in HELD_OUT or spec["name"].lower() in DEV_USED:
            print("skip (held out / dev):", spec["name"], file=sys.stderr)
            continue
        if {spec["name"].lower().replace("-still", ""), low} & EARLIER_USED.get(args.set, set()):
            print("skip (already in an earlier extra set):", spec["name"], file=sys.stderr)
            continue
        if spec.get("exclude_window_of"):
            other = sources.get(spec["exclude_window_of"])
            if other is None:
                continue
            spec = dict(spec, _exclude=[other.first, other.first + other.used])
        try:
            src = Source(spec, args.mirror)
        except Exception as e:  # missing mirror etc.
            print("skip", spec["name"], repr(e), file=sys.stderr)
            continue
        if spec.get("_exclude") and src.used < MIN_STILL:
            print("skip (still window too short):", spec["name"], src.used, file=sys.stderr)
            continue
        j = lambda v: v if isinstance(v, str) else " + ".join(v)
        key = "|".join(["world-v1", spec["repo"], src.repo.commit, j(spec["img"]), j(spec.get("masks") or spec["gt"]), str(src.first),
                        str(src.used), str(spec["play"])])
        if spec.get("span"):
            key += "|span=%d-%d" % tuple(spec["span"])
        if key not in cache:
            cache[key] = activity(src, spec["play"])
            json.dump(cache, open(cache_path, "w"), indent=1)
        a = cache[key]
        sources[spec["name"]] = src
        pool.append(dict(name=spec["name"], dataset=spec["dataset"], repo=spec["repo"], commit=src.repo.commit,
                         path=j(spec["img"]), gt=spec["gt"], licence=spec["licence"], subject=spec.get("subject", ""),
                         setting=spec.get("setting", ""), native_fps=spec["fps"], play_fps=spec["play"],
                         frames_total=src.total, frames_used=src.used, first_used=src.first,
                         size=list(src.size), activity=round(a["activity"], 4), activity_rule="world-v1",
                         activity_detail=a["detail"], activity_picture=round(a["activity_picture"], 4),
                         activity_raw=a["activity"], cache_key=key, **{"class": classify(a["activity"])}))
        print(f"{spec['name']:14s} {src.size} used {src.used}/{src.total} act {a['activity']:.3f} {classify(a['activity'])}",
              file=sys.stderr)
    json.dump(dict(active_threshold=ACTIVE_T, calm_threshold=CALM_T, sources=pool),
              open(os.path.join(out, "pool.json"), "w"), indent=1)
    if args.only_pool:
        return
    pool_by = {p["name"]: p for p in pool}
    rng = random.Random(SEED)
    videos = plan(pool, rng, args.videos)
    recs, metas, gts = [], [], []
    for i, v in enumerate(videos):
        if args.limit and i >= args.limit:
            break
        vid = f"{i + 1:03d}"
        vr = random.Random(SEED * 1000 + i)
        rec, meta, gt, _ = build_video(vid, v, sources, pool_by, vr, out)
        recs.append(rec)
        metas.append(meta)
        gts.append(gt)
        with open(os.path.join(out, "jsonl", f"{vid}.jsonl"), "w") as f:
            f.write(json.dumps(dict(video_id=vid, targetRatioWH=v["ratio"])) + "\n")
        # rewrite the indexes after every video so a partial run is usable
        with open(os.path.join(out, "index.jsonl"), "w") as f:
            for g in gts:
                f.write(json.dumps(dict(video_id=g["video_id"], video=f"video/{g['video_id']}.mp4",
                                        targetRatioWH=g["targetRatioWH"])) + "\n")
        for name, rows in (("gt.jsonl", gts), ("meta.jsonl", metas), ("sources.jsonl", recs)):
            with open(os.path.join(out, name), "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
        print(vid, v["type"], meta["width"], meta["height"], meta["frames"], len(gt["predictions"]), file=sys.stderr)
        write_readme(out, pool, recs, metas, gts)


if __name__ == "__main__":
    main()
