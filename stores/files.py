"""The files commands write (exports, training data): whole, or not at all."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def whole_file(path, binary=False):
    """A file to write `path` through, which becomes `path` only when the block ends without an error.

    It is written beside `path` under a hidden temporary name and renamed
    over it at the end, keeping the former file's permissions (a new one
    gets what `open` would give it): a command that fails half-way (a store
    gone, a bad filter) leaves no part of its output where the whole was
    expected, and an earlier file stays as it was. What is no regular file
    (a terminal, a pipe, /dev/null) is written to directly.
    """
    target = Path(os.path.realpath(path))  # a symbolic link stays one: the file it names is replaced
    options = {} if binary else {"encoding": "utf-8", "newline": ""}
    if target.exists() and not target.is_file():
        with open(target, "wb" if binary else "w", **options) as file:
            yield file
        return
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w", **options) as file:
            yield file
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _mode_for(target):
    """The file's own permissions when it exists, else what a new file gets (mkstemp's are 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
