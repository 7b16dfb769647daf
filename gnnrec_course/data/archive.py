"""Safe extraction of a MovieLens zip: every entry is checked before anything is written.

A zip entry named ``../x``, ``/x``, ``C:/x`` or ``..\\x`` ("zip slip") is refused with
:class:`~gnnrec_course.errors.UnsafeArchiveError` and nothing is extracted. Python's
``zipfile`` would silently rewrite such names rather than refuse them, so the check is ours.
Extraction goes through a temporary folder and is moved into place with ``os.replace``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from gnnrec_course.data.registry import DatasetSpec
from gnnrec_course.errors import MalformedDataError, UnsafeArchiveError

__all__ = ["check_archive", "extract", "unsafe_member"]


def unsafe_member(member: str) -> bool:
    """True for a zip entry name that could land outside the folder it is extracted to."""
    posix = member.replace("\\", "/")
    path = PurePosixPath(posix)
    return (
        posix.startswith("/")
        or bool(re.match(r"^[A-Za-z]:", posix))
        or any(part == ".." for part in path.parts)
        or "\x00" in posix
    )


def _not_the_dataset(url: str, spec: DatasetSpec) -> MalformedDataError:
    return MalformedDataError(
        f"{url} holds no {spec.name}/{spec.ratings_file}: it is not the {spec.name} zip."
    )


def check_archive(
    zip_path: Path, target: Path, url: str, spec: DatasetSpec
) -> list[zipfile.ZipInfo]:
    """The archive's entries, after checking that none would leave ``target`` and that it
    holds the dataset's ratings file (at its top or in a ``name/`` folder).

    Raises:
        MalformedDataError: not a zip, or not this dataset's zip.
        UnsafeArchiveError: an entry that would be written outside ``target``.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as err:
        raise MalformedDataError(f"{url} is not a valid zip archive ({err}).") from err
    base = target.resolve()
    for info in members:
        resolved = (base / info.filename).resolve()
        if unsafe_member(info.filename) or not resolved.is_relative_to(base):
            raise UnsafeArchiveError(
                f"Refusing to extract {url}: entry {info.filename!r} would be written outside "
                f"{target}. Nothing was extracted; the archive is not a genuine MovieLens zip."
            )
    names = {info.filename.replace("\\", "/") for info in members}
    if not names & {spec.ratings_file, f"{spec.name}/{spec.ratings_file}"}:
        raise _not_the_dataset(url, spec)
    return members


def _complete_folder(source: Path, dest: Path, ratings_file: str) -> None:
    """Move every file of ``source`` into an existing ``dest``, the ratings file last (so a
    folder counts as present only once everything else is there)."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == ratings_file)
    for file in files:
        target = dest / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, target)


def extract(zip_path: Path, root: Path, spec: DatasetSpec, url: str) -> Path:
    """Extract a checked zip into ``root/name`` via a temporary folder; return ``root/name``.

    A ``root/name`` left by an interrupted run is completed rather than replaced.
    """
    members = check_archive(zip_path, root, url, spec)
    dest = root / spec.name
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", suffix=".extract", dir=root))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(staging, members)
        source = staging / spec.name if (staging / spec.name).is_dir() else staging
        if not (source / spec.ratings_file).is_file():
            raise _not_the_dataset(url, spec)
        if not dest.exists():
            os.replace(source, dest)
        else:
            _complete_folder(source, dest, spec.ratings_file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
