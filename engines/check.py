#!/usr/bin/env python3
"""Check engines/: every model variant listed in manifest.json exists, matches its sha256, loads in
onnxruntime and runs one inference on a sample input; prints the output shapes. Exits non-zero on
any failure. With --demo, also runs each model's decoding on real pictures and prints what it found
(faces/persons on skimage's astronaut, text on a frame with rendered text, YAMNet's top classes).

  engines/.venv/bin/python engines/check.py [--demo] [--variant fp32|int8|all]
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sample_rgb():
    """A sample frame: the astronaut picture if the build cached it, else a synthetic gradient."""
    p = HERE / ".cache" / "samples" / "astronaut.png"
    if p.exists():
        from PIL import Image
        return np.asarray(Image.open(p).convert("RGB"))
    y, x = np.mgrid[0:360, 0:640]
    return np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)


def feed_for(model, rgb):
    import build
    name = model["name"]
    if name == "yamnet":
        import yamnet_frontend
        return {"audio": yamnet_frontend.patches(yamnet_frontend.reference_waveform())[:1]}
    if name == "scorer":
        # A batch of frames of standardised features: the graph standardises them itself.
        return {i["name"]: np.zeros([3] + i["shape"][1:], np.float32) for i in model["inputs"]}
    return {"unisal": build.pre_unisal, "centerface": build.pre_centerface, "ssdlite": build.pre_ssd,
            "ppocr_det": build.pre_ocr}[name](rgb)


def demo(manifest, variant):
    import build
    import yamnet_frontend
    from PIL import Image
    cache = HERE / ".cache" / "samples"
    models = {m["name"]: m for m in manifest["models"]}

    def sess(name):
        v = variant if variant != "all" else models[name]["default_cpu"]
        return build.session(HERE / models[name]["variants"][v]["file"]), v

    astro = np.asarray(Image.open(cache / "astronaut.png").convert("RGB"))
    H, W = astro.shape[:2]
    s, v = sess("centerface")
    boxes, scores = build.centerface_decode(s.run(None, build.pre_centerface(astro)), thr=0.5)
    sy, sx = H / build.CF_H, W / build.CF_W
    for b, sc in zip(boxes, scores):
        print(f"centerface[{v}] astronaut.png {W}x{H}: face x1={b[1]*sx:.0f} y1={b[0]*sy:.0f} "
              f"x2={b[3]*sx:.0f} y2={b[2]*sy:.0f} score={sc:.3f}")
    s, v = sess("ssdlite")
    boxes, scores = build.ssd_decode(s.run(None, build.pre_ssd(astro)), thr=0.5)
    for b, sc in zip(boxes, scores):
        print(f"ssdlite[{v}] astronaut.png: person (class 1) x1={b[1]*W:.0f} y1={b[0]*H:.0f} "
              f"x2={b[3]*W:.0f} y2={b[2]*H:.0f} score={sc:.3f}")
    s, v = sess("unisal")
    out = s.run(None, build.pre_unisal(astro))[0][0, 0, 0]
    sal = np.exp(out)
    yy, xx = np.unravel_index(np.argmax(sal), sal.shape)
    print(f"unisal[{v}] astronaut.png: sum(exp)={sal.sum():.4f}, peak at x={xx * W / 416:.0f} y={yy * H / 256:.0f}")
    tf = cache / "text_frame.png"
    if tf.exists():
        rgb = np.asarray(Image.open(tf).convert("RGB"))
        s, v = sess("ppocr_det")
        prob = s.run(None, build.pre_ocr(rgb))[0][0, 0]
        fh, fw = rgb.shape[:2]
        mask = prob > 0.3
        rows = np.where(mask.any(1))[0]
        bands, start = [], None
        for k, r in enumerate(rows):
            if start is None:
                start = r
            if k + 1 == len(rows) or rows[k + 1] != r + 1:
                bands.append((start, r))
                start = None
        sx, sy = fw / build.OCR_W, fh / build.OCR_H
        for y0, y1 in bands:
            cols = np.where(mask[y0:y1 + 1].any(0))[0]
            band = prob[y0:y1 + 1, cols[0]:cols[-1] + 1]
            print(f"ppocr_det[{v}] text_frame.png {fw}x{fh}: text band x={cols[0] * sx:.0f}..{cols[-1] * sx:.0f} "
                  f"y={y0 * sy:.0f}..{(y1 + 1) * sy:.0f} (shrunk DB kernel; unclip to get the box), "
                  f"max prob {band.max():.3f}, mean prob in band {band[band > 0.3].mean():.3f}")
        print(f"ppocr_det[{v}] text_frame.png: rendered lines " +
              "; ".join(f"'{t}' at x={x} y={y} size {sz}px" for t, (x, y), sz in build.TEXT_LINES) +
              f"; pixels > 0.3 outside bands: 0 by construction, overall fraction > 0.3: {mask.mean():.4f}")
    names = [l.split(",", 2)[2].strip('"') for l in (HERE / "models" / "yamnet_class_map.csv").read_text().splitlines()[1:]]
    s, v = sess("yamnet")
    _, audio = build.prepare_samples()
    for key in sorted(audio):
        wav = audio[key]
        p = yamnet_frontend.patches(wav)
        logits = np.concatenate([s.run(None, {"audio": p[i:i + 1]})[0] for i in range(len(p))])
        prob = (1 / (1 + np.exp(-logits))).max(0)
        top = np.argsort(-prob)[:5]
        print(f"yamnet[{v}] {key} ({len(wav) / 16000:.1f} s, {len(p)} patches): " +
              ", ".join(f"{names[i]} {prob[i]:.2f}" for i in top))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--variant", default="all", choices=["fp32", "int8", "all"])
    ap.add_argument("--manifest", default=str(HERE / "manifest.json"))
    args = ap.parse_args()
    import onnxruntime as ort
    manifest = json.loads(Path(args.manifest).read_text())
    if ort.__version__ != manifest["onnxruntime_version"]:
        print(f"warning: onnxruntime {ort.__version__}, manifest built with {manifest['onnxruntime_version']}")
    rgb = sample_rgb()
    failures = 0
    for m in manifest["models"]:
        for v, info in sorted(m["variants"].items()):
            if args.variant != "all" and v != args.variant:
                continue
            path = HERE / info["file"]
            try:
                if not path.exists():
                    raise FileNotFoundError(path)
                got = sha256_file(path)
                if got != info["sha256"]:
                    raise ValueError(f"sha256 {got} != manifest {info['sha256']}")
                so = ort.SessionOptions()
                so.intra_op_num_threads = 2
                so.log_severity_level = 3
                sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                feed = feed_for(m, rgb)
                def fits(shape, spec):  # a named dimension ("N") takes any size
                    return len(shape) == len(spec) and all(isinstance(d, str) or d == s for s, d in zip(shape, spec))
                for i in m["inputs"]:
                    assert fits(feed[i["name"]].shape, i["shape"]), (i, feed[i["name"]].shape)
                outs = sess.run(None, feed)
                for o, spec in zip(outs, m["outputs"]):
                    assert fits(o.shape, spec["shape"]), (spec, o.shape)
                    assert np.isfinite(o).all(), spec["name"]
                print(f"ok   {m['name']:<11} {v:<5} " + " ".join(
                    f"{spec['name']}{list(o.shape)}" for o, spec in zip(outs, m["outputs"])))
            except Exception as e:  # noqa: BLE001
                failures += 1
                print(f"FAIL {m['name']:<11} {v:<5} {e}")
    if args.demo:
        demo(manifest, args.variant)
    total = sum(len(m["variants"]) for m in manifest["models"]) if args.variant == "all" else len(manifest["models"])
    print(f"{total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
