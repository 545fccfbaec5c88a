"""The files tapegrad writes and reads back: one place for atomic writes, for checksums and for
reading NumPy archives as untrusted input.

A file is written to a temporary ``.NAME.<hex>.tmp`` beside it (locked while its writer lives),
synced and renamed over the target, so a crash leaves the old file or the new one; the next write to
that folder removes the temporaries of writers that died.  What is read back is checked before any
parser trusts it: ``.npz`` members are read whole (zip checks each one's CRC-32) and their ``.npy``
headers are parsed here with every size bounded; a ``.weights.h5`` file carries the SHA-256 of its
HDF5 bytes in its HDF5 user block, verified before h5py sees the file.  Every sign of damage becomes
the caller's documented error, naming the file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import stat
import zipfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be removed, which protects a live writer anyway
    fcntl = None

_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


# -- writing ------------------------------------------------------------------------------------------

class TempFile:
    """A temporary file beside `filepath` that ``commit()`` renames over it, durably.

    Its name is ``.NAME.<12 hex digits>.tmp`` and its writer holds a lock on it, so that a later
    writer in the same folder can tell a dead writer's file (removed) from a live one's (kept).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> temp = TempFile(path)
    >>> _ = temp.file.write(b"ok")
    >>> temp.commit()
    >>> open(path, "rb").read(), os.listdir(os.path.dirname(path))
    (b'ok', ['data.bin'])
    """

    def __init__(self, filepath):
        self.target = os.fspath(filepath)
        self.directory = os.path.dirname(os.path.abspath(self.target))
        remove_dead_temporaries(self.directory)
        base = os.path.basename(self.target)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        while True:
            self.path = os.path.join(self.directory, f".{base}.{secrets.token_hex(6)}.tmp")
            try:
                fd = os.open(self.path, flags, 0o666)  # 0o666 less the umask, as open() would give
            except FileExistsError:
                continue
            if _lock(fd) is not False:
                break
            os.close(fd)  # a cleaner took this new file for a dead writer's and removes it: next name
        self.file = os.fdopen(fd, "w+b")

    def commit(self) -> None:
        """Sync the file and rename it over the target; then sync the folder entry."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            if os.path.exists(self.target):
                os.chmod(self.path, stat.S_IMODE(os.stat(self.target).st_mode))
            os.replace(self.path, self.target)
        except BaseException:
            self.abort()
            raise
        self.file.close()  # after the rename: the lock guards the name until it is gone
        fsync_directory(self.directory)

    def abort(self) -> None:
        """Remove the temporary file; the target keeps its previous content."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            self.file.close()


def atomic_write(filepath, write) -> None:
    """Call ``write(binary file)`` on a temporary file, then move it over `filepath` atomically.

    If anything fails, `filepath` keeps its previous content and the temporary file is removed.
    The file's data and the folder entry are synced to disk before this returns.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> atomic_write(path, lambda f: f.write(b"ok"))
    >>> open(path, "rb").read()
    b'ok'
    """
    temp = TempFile(filepath)
    try:
        write(temp.file)
    except BaseException:
        temp.abort()
        raise
    temp.commit()


def remove_dead_temporaries(directory) -> list:
    """Remove the temporary files that writers which died left in `directory`; returns their names.

    A live writer's file is locked (POSIX) or cannot be removed while open (Windows): it is kept.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, ".w.npz.0123456789ab.tmp"), "wb").close()  # a killed writer's
    >>> remove_dead_temporaries(folder), os.listdir(folder)
    (['.w.npz.0123456789ab.tmp'], [])
    """
    try:
        names = [n for n in os.listdir(directory) if _TEMP.match(n)]
    except OSError:
        return []
    removed = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError:
            continue
        try:
            if fcntl is not None and _lock(fd) is not True:
                continue
            os.unlink(path)
            removed.append(name)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def _lock(fd):
    """Take the writer's lock on `fd` without waiting: True when taken, False when another holds it,
    None where the file system has no locks (then nothing is ever removed as dead)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def fsync_directory(directory) -> None:
    """Make a rename durable (POSIX; Windows cannot open folders, and needs not)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- checksums ------------------------------------------------------------------------------------------

def array_digest(items, prefix: str = "") -> str:
    """The SHA-256 (hex) of `prefix` and then each ``(name, array)``'s name, dtype, shape and bytes.

    >>> a = array_digest([("w", np.zeros(2))]); a == array_digest([("w", np.zeros(2))])
    True
    >>> a == array_digest([("w", np.zeros((2, 1)))])
    False
    """
    sha = hashlib.sha256(prefix.encode("utf-8"))
    for name, array in items:
        array = np.asarray(array)
        sha.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        sha.update(np.ascontiguousarray(array).data)
    return sha.hexdigest()


# An HDF5 user block: bytes before the HDF5 data that the library (and so Keras) skips
USER_BLOCK = 512
_SEAL = re.compile(rb"^tapegrad sha256=([0-9a-f]{64}) size=(\d{1,15})\n\0*$")


def seal(file) -> None:
    """Write the SHA-256 and size of everything after `file`'s user block into that block.

    `file` is an open binary file holding an HDF5 file written with ``userblock_size=USER_BLOCK``.
    """
    sha, size = _hash_from(file, USER_BLOCK)
    line = f"tapegrad sha256={sha} size={size}\n".encode()
    file.seek(0)
    file.write(line.ljust(USER_BLOCK, b"\0"))


def check_seal(filepath) -> bool:
    """True when `filepath` carries a seal that matches it; False when it has none (a file from
    another writer); ``ValueError`` saying what differs when the seal does not match.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "f")
    >>> with open(path, "w+b") as f:
    ...     _ = f.write(bytes(USER_BLOCK) + b"data"); seal(f)
    >>> check_seal(path)
    True
    >>> with open(path, "r+b") as f:
    ...     _ = f.seek(-1, os.SEEK_END); _ = f.write(b"D")
    >>> check_seal(path)
    Traceback (most recent call last):
    ...
    ValueError: its SHA-256 checksum does not match its contents
    """
    with open(filepath, "rb") as f:
        match = _SEAL.match(f.read(USER_BLOCK))
        if match is None:
            return False
        sha, size = _hash_from(f, USER_BLOCK)
    if size != int(match.group(2)):
        raise ValueError(f"it holds {size} bytes after its header, where {int(match.group(2))} were written "
                         f"(truncated or extended)")
    if sha != match.group(1).decode():
        raise ValueError("its SHA-256 checksum does not match its contents")
    return True


def _hash_from(file, offset: int) -> tuple:
    file.seek(offset)
    sha, size = hashlib.sha256(), 0
    while chunk := file.read(1 << 20):
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), size


# -- reading ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def guard(corrupt):
    """Turn any error a decoder raises on a damaged file into ``corrupt(reason)`` (the caller's
    documented error, naming the file); a ``DataLossError`` raised inside passes through.

    >>> with guard(lambda why: ValueError(f"bad file: {why}")):
    ...     b"\\xff".decode("utf-8")
    Traceback (most recent call last):
    ...
    ValueError: bad file: it cannot be decoded (UnicodeDecodeError: ...)
    """
    try:
        yield
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes a decoder raise
        if _is_documented(e, corrupt):
            raise
        raise corrupt(f"it cannot be decoded ({type(e).__name__}: {e})") from None


def _is_documented(error, corrupt) -> bool:
    from .errors import DataLossError  # what every damaged-file error of tapegrad is
    return isinstance(error, DataLossError) or isinstance(corrupt, type) and isinstance(error, corrupt)


# -- reading .npz archives --------------------------------------------------------------------------------

class NpzReader:
    """The members of an ``.npz`` file, read as untrusted input.

    `corrupt(reason)` makes the caller's documented error (a ``DataLossError``); every sign of damage (not a zip, a bad
    CRC, a malformed ``.npy`` header, data shorter or longer than the header says, a member larger
    than `limit`) raises it.  Object arrays are refused: nothing is ever unpickled.

    >>> import io, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(path, x=np.arange(3))
    >>> with NpzReader(path, ValueError) as npz:
    ...     npz.names, npz.read("x")
    (['x'], array([0, 1, 2]))
    """

    def __init__(self, filepath, corrupt):
        self.filepath, self.corrupt = os.fspath(filepath), corrupt
        self._file = open(self.filepath, "rb")  # noqa: SIM115 - closed by close()
        try:
            magic = self._file.read(4)
            if magic != b"PK\x03\x04":  # np.load would guess at other formats, pickles among them
                raise corrupt(f"it is not a zip archive (.npz): it starts with {magic!r}")
            self._file.seek(0)
            with self.guard():
                self._zip = zipfile.ZipFile(self._file)
                self.names = [n[:-4] for n in self._zip.namelist() if n.endswith(".npy")]
        except BaseException:
            self._file.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._zip.close()
        self._file.close()

    def guard(self):
        """Turn any error decoding the file into the caller's documented error."""
        return guard(self.corrupt)

    def size(self, name: str) -> int:
        """The size in bytes (header included) that the archive states for member `name`."""
        with self.guard():
            return self._zip.getinfo(name + ".npy").file_size

    def read(self, name: str, limit: int | None = None) -> np.ndarray:
        """Member `name` as a (writable) array; its stated size must be at most `limit` bytes."""
        size = self.size(name)
        if limit is not None and size > limit:
            raise self.corrupt(f"its member {name!r} is larger than expected ({size} bytes; at most {limit})")
        with self.guard():
            data = self._zip.read(name + ".npy")  # read whole, so that zip checks its CRC-32
            return _npy(data, name, self.corrupt)


def _npy(data: bytes, name: str, corrupt) -> np.ndarray:
    import io
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise corrupt(f"its member {name!r} has .npy format version {version}, which is not read")
    if dtype.hasobject or dtype.fields is not None:
        raise corrupt(f"its member {name!r} holds {dtype} data, which is never unpickled")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    offset = stream.tell()
    if count < 0 or count * dtype.itemsize != len(data) - offset:
        raise corrupt(f"its member {name!r} holds {len(data) - offset} bytes of data, where its header "
                      f"says {dtype}{list(shape)}")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset).copy()
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
