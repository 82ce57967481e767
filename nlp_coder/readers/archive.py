"""Reading zip archives (.docx, .qdpx) in memory, within the safety limits.

Nothing is extracted to disk, so no member name can escape a folder. Before a member is unpacked
its sizes are checked against :mod:`nlp_coder.readers.limits` (member count, unpacked size,
total, compression ratio); while it is unpacked no more than its declared size is read, and its
checksum is verified. Every problem is an :class:`~nlp_coder.errors.InputError`.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from pathlib import Path

from nlp_coder.errors import InputError
from nlp_coder.readers import limits
from nlp_coder.readers.limits import exceeded, size_text

# The methods zipfile unpacks; others (deflate64, PPMd, ...) raise NotImplementedError.
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_METHOD_NAMES = {9: "Deflate64", 10: "PKWARE implode", 14: "LZMA", 93: "Zstandard", 95: "XZ", 97: "WavPack",
                 98: "PPMd", 99: "AES encryption"}
# What a broken archive can raise from zipfile and its decompressors.
_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error, lzma.LZMAError, struct.error,
           ValueError, OverflowError)


def read_zip(data: bytes, where: str, *, code: str, fix: str,
             broken: str = "not a zip archive") -> list[tuple[str, bytes]]:
    """Every file of a zip archive, as (name as stored, unpacked bytes), in archive order.

    Args:
        data: the archive's bytes.
        where: the file's name, for messages.
        code: the error code of a broken archive (``E120`` for a project, ``E102`` for Word).
        fix: what to do about a broken archive.
        broken: what to say of bytes that are not a zip archive.

    Raises:
        InputError: the bytes are not a zip archive or a member cannot be unpacked (``code``), a
            member is packed in a way that cannot be read, such as Deflate64 or encryption
            (``E104``), or the archive exceeds a limit (``E105``).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except NotImplementedError as error:  # a zip format version zipfile does not read
        raise InputError(f"is a zip archive that cannot be read ({_reason(error)})", where,
                         "Save it again with ordinary (Deflate) compression", code="E104") from None
    except _BROKEN as error:
        raise InputError(f"{broken} ({_reason(error)})", where, fix, code=code) from None
    out: list[tuple[str, bytes]] = []
    total = 0
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > limits.MAX_ZIP_MEMBERS:
            raise exceeded(f"the archive holds {len(infos):,} files, more than {limits.MAX_ZIP_MEMBERS:,}",
                           where, "MAX_ZIP_MEMBERS", "Is this the right file? Remove files it does not need")
        for info in infos:
            _check_member(info, total, where)
            try:
                with archive.open(info) as handle:
                    # zipfile reads no more than the declared size and checks the CRC at the end.
                    member = handle.read(limits.MAX_ZIP_MEMBER_BYTES + 1)
            except NotImplementedError as error:
                raise InputError(f"{info.filename} is packed in a way that cannot be read ({_reason(error)})",
                                 where, "Save it again with ordinary (Deflate) compression", code="E104") from None
            except RuntimeError as error:  # encrypted
                raise InputError(f"{info.filename} is encrypted ({_reason(error)})", where,
                                 "Save it again without a password", code="E104") from None
            except _BROKEN as error:
                raise InputError(f"cannot unpack {info.filename} ({_reason(error)})", where, fix, code=code) from None
            if len(member) > limits.MAX_ZIP_MEMBER_BYTES:
                raise exceeded(f"{info.filename} unpacks to more than {size_text(limits.MAX_ZIP_MEMBER_BYTES)}",
                               where, "MAX_ZIP_MEMBER_BYTES", "Refused: the archive may be a zip bomb")
            total += len(member)
            out.append((info.filename, member))
    return out


def _check_member(info: zipfile.ZipInfo, total: int, where: str) -> None:
    """Refuse a member from its header alone: unreadable method, encryption, size, ratio."""
    name = info.filename
    if info.compress_type not in _METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise InputError(f"{name} is packed with {method}, which cannot be read", where,
                         "Save it again with ordinary (Deflate) compression, or unpack and repack it",
                         code="E104")
    if info.flag_bits & 0x1:
        raise InputError(f"{name} is encrypted", where, "Save it again without a password", code="E104")
    if info.file_size > limits.MAX_ZIP_MEMBER_BYTES:
        raise exceeded(f"{name} is too large ({size_text(info.file_size)} unpacked, more than "
                       f"{size_text(limits.MAX_ZIP_MEMBER_BYTES)})", where, "MAX_ZIP_MEMBER_BYTES",
                       "Remove it from the archive, or split the archive")
    if total + info.file_size > limits.MAX_ZIP_TOTAL_BYTES:
        raise exceeded(f"the archive is too large (more than {size_text(limits.MAX_ZIP_TOTAL_BYTES)} unpacked)",
                       where, "MAX_ZIP_TOTAL_BYTES", "Split it into smaller archives")
    if (info.file_size >= limits.ZIP_RATIO_MIN_BYTES
            and info.file_size > limits.MAX_ZIP_RATIO * max(info.compress_size, 1)):
        raise exceeded(f"{name} unpacks to {info.file_size // max(info.compress_size, 1):,} times its packed "
                       f"size, more than {limits.MAX_ZIP_RATIO}", where, "MAX_ZIP_RATIO",
                       "Refused: the archive may be a zip bomb; save it again from the program that made it")


def read_file_bytes(path: Path, where: str, *, what: str) -> bytes:
    """An archive's bytes, within :data:`~nlp_coder.readers.limits.MAX_ZIP_TOTAL_BYTES`."""
    return limits.read_limited(path, where, limit="MAX_ZIP_TOTAL_BYTES", what=what,
                               fix="Split it into smaller archives")


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 80 else text[:79] + "…"
