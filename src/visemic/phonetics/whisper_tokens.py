"""Whisper's tokens → text without the ``tokenizers`` library's tables resident.

faster-whisper keeps a ``tokenizers.Tokenizer`` (``WhisperModel.hf_tokenizer``) for the model's
lifetime: 15 MB resident for its vocabulary, merges and caches, beside the model while it
encodes and decodes (the peak of an analysis without a transcript, issue 22). While recognising,
it only turns ids into text (byte-level BPE: each token stands for fixed bytes), looks up special
tokens' ids, and encodes a few fixed strings (the prompt, the symbols it suppresses).
:class:`LeanTokenizer` stands in for it: each token's bytes (3 MB), the added tokens' ids, and
the encodings of those strings, worked out once with the library's tokenizer before it is let go
(another string: the library's tokenizer loaded for the moment). Text is the library's, bit for
bit (``tests/test_whisper_memory``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet (``tokenizers``' ByteLevel): character → the byte it
    stands for."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars = list(kept)
    n = 0
    for b in range(256):
        if b not in kept:
            kept.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(kept, chars, strict=True)}


_BYTES = _byte_decoder()


def token_bytes(token: str) -> bytes:
    """The bytes a byte-level token stands for; a token with a character outside the alphabet
    stands for its own UTF-8 (as ``tokenizers``' ByteLevel decoder does)."""
    try:
        return bytes(_BYTES[c] for c in token)
    except KeyError:
        return token.encode("utf-8")


@dataclass(frozen=True)
class Encoded:
    """What ``tokenizers.Tokenizer.encode`` returns, as far as faster-whisper reads it."""

    ids: list[int]


# Encodings already worked out, by tokenizer file and text (a few dozen short strings).
_encoded: dict[tuple[str, str], list[int]] = {}
_lock = threading.Lock()


class LeanTokenizer:
    """Stands in for faster-whisper's ``hf_tokenizer`` (see the module's docstring)."""

    def __init__(self, hf: Any, path: Path) -> None:
        vocab: dict[str, int] = hf.get_vocab(with_added_tokens=True)
        self._bytes: list[bytes] = [b""] * (max(vocab.values()) + 1)
        for token, i in vocab.items():
            self._bytes[i] = token_bytes(token)
        added = hf.get_added_tokens_decoder()
        self._added = {t.content: i for i, t in added.items()}
        self._special = frozenset(i for i, t in added.items() if t.special)
        self._path = str(path)
        self._hf: Any = hf  # until done(): what is encoded meanwhile is remembered

    def done(self) -> None:
        """Let the library's tokenizer go (encode the strings recognition asks for first)."""
        self._hf = None

    def token_to_id(self, token: str) -> int | None:
        if token in self._added:
            return self._added[token]
        return self._real().token_to_id(token)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._special]
        return b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="replace")

    def encode(self, text: str, add_special_tokens: bool = True) -> Encoded:
        key = (f"{self._path}:{add_special_tokens}", text)
        with _lock:
            if key not in _encoded:
                _encoded[key] = list(self._real().encode(
                    text, add_special_tokens=add_special_tokens).ids)
            return Encoded(list(_encoded[key]))

    def _real(self) -> Any:
        """The library's tokenizer: the one given until :meth:`done`, then loaded for the
        moment (a string not asked before: freed when the caller is done)."""
        if self._hf is not None:
            return self._hf
        import tokenizers

        return tokenizers.Tokenizer.from_file(self._path)
