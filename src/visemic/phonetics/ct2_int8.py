"""A CTranslate2 model file with its weights already int8, written once, a block at a time.

Why: the packaged Whisper models store float16 weights. CTranslate2 reads the whole file into
memory, then quantises each weight to int8 through a float32 copy, so loading ``base`` peaked at
+259 MB (145 MB of float16, +106 MB for the float32 copy of its 51,865 × 512 token embedding,
+27 MB of int8) to keep 80 MB. Loading a file already int8 reads only what is kept.

The quantisation is CTranslate2's own, done ahead of time: every variable whose name ends in
``weight`` (its ``Model::is_quantizable``) gets one scale per output row, ``127 / max|row|``
(1 for an all-zero row), and the weight rounded half to even after scaling (binary version ≥ 5:
``round_before_cast``), stored with a ``<name>_scale`` float32 variable, as its converters write
int8 models. Everything else (biases, layer norms, scalars, aliases) is copied byte for byte, and
CTranslate2 converts those at load exactly as before. The encoder's output from the file written
here is bit-identical to the one from the float16 file quantised at load (``tests/test_whisper``).

:func:`write_half` writes a Whisper model's encoder or decoder alone (the other half's large
variables cut to one row): CTranslate2 builds both halves but only reads the weights of the one in
use, so the encoder runs with only its own weights resident (base: 22 of 75 MB) and the decoder
with its own; their outputs equal the whole model's bit for bit (``tests/test_whisper_memory``).

The file layout (``ctranslate2/specs/model_spec.py``, ``_serialize``): binary version (u32),
spec name (string), spec revision (u32), the number of variables (u32), each variable as name,
rank (u8), dims (u32 each), dtype id (u8), byte count (u32) and data; then the aliases (u32 count,
pairs of strings). Strings are a u16 length (with the NUL) and the NUL-terminated bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

# CTranslate2's DataType enum (include/ctranslate2/types.h), by id.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
INT8, FLOAT32 = 1, 0
FLOATS = (0, 4)  # float32, float16: what can be quantised here (bfloat16 is left as it is)
# Binary versions this reader knows: 5 and later round before the cast, as done here.
VERSIONS = (5, 6)
ROWS = 2048  # rows quantised at a time: a few MB whatever the weight's size
HALVES = ("encoder", "decoder")  # a Whisper model's variables are named "encoder/…", "decoder/…"
SMALL = 4096  # bytes: the other half's variables up to this size are kept whole (scalars, flags)


class FormatError(ValueError):
    """The file is not a CTranslate2 model this module can rewrite."""


def _u(fp: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = fp.read(size)
    if len(data) != size:
        raise FormatError("truncated")
    return int(struct.unpack("<" + fmt, data)[0])


def _string(fp: BinaryIO) -> str:
    n = _u(fp, "H")
    data = fp.read(n)
    if len(data) != n or not data.endswith(b"\0"):
        raise FormatError("bad string")
    return data[:-1].decode("utf-8")


def _put_string(out: BinaryIO, text: str) -> None:
    data = text.encode("utf-8")
    out.write(struct.pack("<H", len(data) + 1) + data + b"\0")


def _put_header(out: BinaryIO, name: str, shape: tuple[int, ...], dtype: int,
                nbytes: int) -> None:
    _put_string(out, name)
    out.write(struct.pack("<B", len(shape)) + struct.pack(f"<{len(shape)}I", *shape))
    out.write(struct.pack("<BI", dtype, nbytes))


def quantizable(name: str, shape: tuple[int, ...], dtype: int) -> bool:
    """Whether CTranslate2 quantises this variable when loading with compute type int8."""
    return name.endswith("weight") and "conv" not in name and dtype in FLOATS and len(shape) >= 2


def is_int8(path: Path) -> bool:
    """Whether the model file's weights are int8 already (or it has none to quantise)."""
    with open(path, "rb") as fp:
        _version, count = _preamble(fp)
        for _ in range(count):
            name, shape, dtype, nbytes = _header(fp)
            if quantizable(name, shape, dtype):
                return False
            fp.seek(nbytes, 1)
    return True


def _preamble(fp: BinaryIO) -> tuple[int, int]:
    version = _u(fp, "I")
    if version not in VERSIONS:
        raise FormatError(f"binary version {version} (known: {VERSIONS})")
    _string(fp)
    _u(fp, "I")
    return version, _u(fp, "I")


def _header(fp: BinaryIO) -> tuple[str, tuple[int, ...], int, int]:
    name = _string(fp)
    rank = _u(fp, "B")
    shape = tuple(_u(fp, "I") for _ in range(rank))
    return name, shape, _u(fp, "B"), _u(fp, "I")


def write_int8(source: Path, target: Path) -> None:
    """Write ``source`` (a CTranslate2 model.bin) to ``target`` with its weights int8.

    Memory: one block of ``ROWS`` rows at a time, and the scales of one weight."""
    with open(source, "rb") as fp, open(target, "wb") as out:
        version = _u(fp, "I")
        if version not in VERSIONS:
            raise FormatError(f"binary version {version} (known: {VERSIONS})")
        spec, revision = _string(fp), _u(fp, "I")
        count = _u(fp, "I")
        out.write(struct.pack("<I", version))
        _put_string(out, spec)
        out.write(struct.pack("<I", revision))
        count_at = out.tell()
        out.write(struct.pack("<I", count))
        written = 0
        for _ in range(count):
            name, shape, dtype, nbytes = _header(fp)
            if not quantizable(name, shape, dtype):
                _put_header(out, name, shape, dtype, nbytes)
                _copy(fp, out, nbytes)
                written += 1
                continue
            rows, width = shape[0], int(np.prod(shape[1:]))
            item = np.dtype(DTYPES[dtype]).itemsize
            if nbytes != rows * width * item:
                raise FormatError(f"{name}: {nbytes} bytes for shape {shape}")
            _put_header(out, name, shape, INT8, rows * width)
            scales = np.empty(rows, np.float32)
            for start in range(0, rows, ROWS):
                n = min(ROWS, rows - start)
                block = np.frombuffer(_read(fp, n * width * item), DTYPES[dtype])
                q, scales[start:start + n] = quantize_rows(block.reshape(n, width))
                out.write(q.tobytes())
            _put_header(out, name + "_scale", (rows,), FLOAT32, scales.nbytes)
            out.write(scales.tobytes())
            written += 2
        out.write(fp.read())  # the aliases, as they are
        out.seek(count_at)
        out.write(struct.pack("<I", written))


def write_half(source: Path, target: Path, half: str) -> None:
    """Write ``source`` (a CTranslate2 Whisper model.bin) to ``target`` with ``half`` ("encoder"
    or "decoder") whole and the other half's variables over SMALL bytes cut to their first row
    (their rank kept). Raises FormatError for a file that is not a Whisper model's."""
    if half not in HALVES:
        raise ValueError(half)
    other = HALVES[1 - HALVES.index(half)] + "/"
    with open(source, "rb") as fp, open(target, "wb") as out:
        version = _u(fp, "I")
        if version not in VERSIONS:
            raise FormatError(f"binary version {version} (known: {VERSIONS})")
        spec, revision = _string(fp), _u(fp, "I")
        if "whisper" not in spec.lower():
            raise FormatError(f"not a Whisper model ({spec})")
        count = _u(fp, "I")
        out.write(struct.pack("<I", version))
        _put_string(out, spec)
        out.write(struct.pack("<I", revision))
        out.write(struct.pack("<I", count))
        for _ in range(count):
            name, shape, dtype, nbytes = _header(fp)
            size = int(np.prod(shape)) if shape else 1
            if name.startswith(other) and shape and nbytes > SMALL and nbytes % size == 0:
                row = nbytes // shape[0]
                _put_header(out, name, (1, *shape[1:]), dtype, row)
                _copy(fp, out, row)
                fp.seek(nbytes - row, 1)
                continue
            _put_header(out, name, shape, dtype, nbytes)
            _copy(fp, out, nbytes)
        out.write(fp.read())  # the aliases, as they are


def quantize_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row int8 quantisation, as CTranslate2's ``ops::Quantize`` does it on the CPU."""
    x = rows.astype(np.float32)
    amax = np.abs(x).max(axis=1)
    scale = np.where(amax != 0, np.float32(127) / np.where(amax != 0, amax, 1),
                     np.float32(1)).astype(np.float32)
    x *= scale[:, None]
    return np.rint(x).astype(np.int8), scale


def _read(fp: BinaryIO, n: int) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise FormatError("truncated")
    return data


def _copy(fp: BinaryIO, out: BinaryIO, n: int) -> None:
    while n > 0:
        block = _read(fp, min(n, 1 << 20))
        out.write(block)
        n -= len(block)
