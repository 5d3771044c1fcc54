"""Live Link Face UDP packets: what Epic's Live Link Face app sends to Unreal Engine (port 11111).

Wire format, packet version 6 (Unreal's ``FNboSerializeToBuffer``: network byte order, strings as
a big-endian int32 byte count followed by the bytes, no terminator):

========================  ==========================================================
version                   uint8, 6
device id                 string (identifies the sender; Unreal tells devices apart by it)
subject name              string (the Live Link subject Unreal shows, e.g. "visemic")
frame time                int32 frame number, float32 sub-frame, int32 rate numerator,
                          int32 rate denominator (an ``FQualifiedFrameTime``)
count                     uint8, 61
values                    61 float32: the 52 ARKit blendshapes in Apple's order
                          (``EARFaceBlendShape``), then HeadYaw, HeadPitch, HeadRoll,
                          LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch,
                          RightEyeRoll
========================  ==========================================================

Head angles travel in the same encoding as visemic's Live Link Face CSV (degrees / 180, see
:mod:`visemic.outputs.livelink`); eye rotations are 0 (the gaze is in the eyeLook* curves).
"""

from __future__ import annotations

import errno
import socket
import struct
import uuid
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from visemic.errors import VisemicError
from visemic.motion.arkit import BLENDSHAPES
from visemic.outputs.livelink import HEAD_UNITS, ROTATIONS
from visemic.stream.engine import StreamFrame

VERSION = 6
PORT = 11111          # Live Link Face's default target port
COUNT = len(BLENDSHAPES) + len(ROTATIONS)   # 61
NAMES: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in BLENDSHAPES) + ROTATIONS
_TIME = struct.Struct("!ifii")
_VALUES = struct.Struct(f"!B{COUNT}f")
_LENGTH = struct.Struct("!i")
MAX_NAME = 255        # Unreal reads at most 256 characters per string

assert COUNT == 61


@dataclass(frozen=True)
class Packet:
    """One decoded (or to-be-encoded) Live Link Face packet; ``values`` is float32 [61]."""

    device_id: str
    subject: str
    frame: int
    sub_frame: float
    rate: tuple[int, int]
    values: np.ndarray

    def value(self, name: str) -> float:
        """A value by its Live Link name (``"JawOpen"``, ``"HeadYaw"``) or ARKit name."""
        key = name[0].upper() + name[1:]
        return float(self.values[NAMES.index(key)])


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > MAX_NAME:
        raise VisemicError(f"Live Link names are at most {MAX_NAME} bytes: {text[:40]!r}…")
    return _LENGTH.pack(len(data)) + data


def encode(packet: Packet) -> bytes:
    """The packet's bytes, as Unreal's Live Link Face source reads them."""
    values = np.asarray(packet.values, np.float32)
    if values.shape != (COUNT,):
        raise VisemicError(f"a Live Link packet holds {COUNT} values, got {values.shape}")
    return (bytes([VERSION]) + _string(packet.device_id) + _string(packet.subject)
            + _TIME.pack(packet.frame, packet.sub_frame, *packet.rate)
            + _VALUES.pack(COUNT, *values.tolist()))


def decode(data: bytes) -> Packet:
    """Parse one packet; raises ``VisemicError`` when it is not a version-6 Live Link packet."""
    try:
        if data[0] != VERSION:
            raise VisemicError(f"not a Live Link Face packet (version {data[0]}, expected "
                               f"{VERSION})")
        at = 1
        names = []
        for _ in range(2):
            (n,) = _LENGTH.unpack_from(data, at)
            if not 0 <= n <= MAX_NAME or at + 4 + n > len(data):
                raise VisemicError("Live Link packet: bad string length")
            names.append(data[at + 4:at + 4 + n].decode("utf-8"))
            at += 4 + n
        frame, sub, num, den = _TIME.unpack_from(data, at)
        at += _TIME.size
        count, *values = _VALUES.unpack_from(data, at)
        if count != COUNT or at + _VALUES.size != len(data):
            raise VisemicError(f"Live Link packet: {count} values in {len(data)} bytes")
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise VisemicError(f"truncated or malformed Live Link packet ({exc})") from None
    return Packet(names[0], names[1], frame, sub, (num, den), np.array(values, np.float32))


def rate_of(fps: float) -> tuple[int, int]:
    """A frame rate as (numerator, denominator): 60 → (60, 1), 29.97 → (30000, 1001)."""
    for base in (24, 30, 60):  # the NTSC rates, 1000/1001 of the whole ones
        if abs(fps - base * 1000 / 1001) < 5e-3:
            return base * 1000, 1001
    f = Fraction(fps).limit_denominator(1000)
    return f.numerator, f.denominator


def packet_for(frame: StreamFrame, fps: float, subject: str, device_id: str,
               head_units: str = "normalized") -> Packet:
    """The packet showing one stream frame; its frame number is the frame's index."""
    values = np.zeros(COUNT, np.float32)
    values[:len(BLENDSHAPES)] = frame.values
    values[len(BLENDSHAPES):len(BLENDSHAPES) + 3] = np.array(frame.head) * HEAD_UNITS[head_units]
    return Packet(device_id, subject, frame.index, 0.0, rate_of(fps), values)


def parse_address(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (or ``"HOST"``, port 11111; ``"[::1]:11111"`` for IPv6) → (host, port)."""
    host, port = text, str(PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise VisemicError(f"expected HOST:PORT, got {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise VisemicError(f"expected HOST:PORT, got {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise VisemicError(f"bad UDP port in {text!r}")
    return host, int(port)


class Sender:
    """Sends stream frames to ``host:port`` as Live Link Face packets over UDP.

    UDP never blocks on a slow receiver: packets it cannot take are lost on the wire, not queued
    here, so a stalled Unreal cannot grow this process's memory.
    """

    def __init__(self, host: str, port: int = PORT, subject: str = "visemic",
                 fps: float = 60.0, device_id: str | None = None,
                 head_units: str = "normalized") -> None:
        if not subject or len(subject.encode("utf-8")) > MAX_NAME:
            raise VisemicError(f"the Live Link subject name must be 1–{MAX_NAME} bytes")
        if head_units not in HEAD_UNITS:
            raise VisemicError(f"head_units must be one of {', '.join(HEAD_UNITS)}")
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise VisemicError(f"cannot resolve Live Link host {host!r} ({exc})") from None
        self.address = info[4]
        self.subject = subject
        self.fps = float(fps)
        self.device_id = device_id or str(uuid.uuid4()).upper()
        self.head_units = head_units
        self.sent = 0
        self._sock = socket.socket(info[0], socket.SOCK_DGRAM)

    def send(self, frame: StreamFrame) -> None:
        data = encode(packet_for(frame, self.fps, self.subject, self.device_id,
                                 self.head_units))
        try:
            self._sock.sendto(data, self.address)
        except OSError as exc:
            # A closed port on localhost reports ECONNREFUSED for an earlier packet: harmless
            # for a fire-and-forget stream (Unreal may simply not be listening yet).
            if exc.errno not in _TRANSIENT:
                raise VisemicError(f"cannot send to {self.address[0]}:{self.address[1]} "
                                   f"({exc.strerror or exc})") from None
        self.sent += 1

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TRANSIENT = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH}
