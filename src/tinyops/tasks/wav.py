"""PCM .wav reading and writing (the standard library's ``wave``), with one-line errors.

Samples come back as float in [-1, 1) (int16 / 32768); the feature presets apply their own
normalisation (MLPerf KWS: x / max(x)) on top.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.backends.tflite_writer import write_atomically


def read_wav(path: str | Path, rate_hz: int | None = 16000) -> np.ndarray:
    """Mono float samples (first channel of multi-channel files); ``rate_hz`` None accepts any rate."""
    try:
        with wave.open(str(path), "rb") as stream:
            rate, width, channels = stream.getframerate(), stream.getsampwidth(), stream.getnchannels()
            raw = stream.readframes(stream.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise TinyOpsError(f"{path}: not a PCM .wav file ({exc}); convert it to 16-bit PCM") from None
    if rate_hz is not None and rate != rate_hz:
        raise TinyOpsError(f"{path}: sampled at {rate} Hz; resample to {rate_hz} Hz first")
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        samples = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    else:
        raise TinyOpsError(f"{path}: {8 * width}-bit samples are not supported; use 16-bit PCM")
    return samples.reshape(-1, channels)[:, 0]


def wav_bytes(audio: np.ndarray, rate_hz: int = 16000) -> bytes:
    import io

    pcm = np.clip(np.round(np.asarray(audio) * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(rate_hz)
        stream.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, rate_hz: int = 16000) -> None:
    """16-bit PCM mono, written atomically (tests and the synthetic data sets use it)."""
    write_atomically(path, wav_bytes(audio, rate_hz))
