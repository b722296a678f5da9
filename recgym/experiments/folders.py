"""The plumbing of a result folder: creating it, locking it, its settings, stopping cleanly.

Every resumable sweep (``recgym reproduce``, ``recgym design``, ``recgym information``,
``recgym coevolve``) writes into one ``--out`` folder through these functions, which the
one loop they share (``recgym.experiments.runner.run_tasks``) calls:

* ``make_folder``: creates it, or says why it cannot (a file, inside a file);
* ``folder_lock``: ``sweep.lock`` holds ``"pid host"`` of the sweep writing the folder;
  a second sweep is refused while that process runs, a lock whose process has ended
  on this host is taken over (not atomically);
* ``write_or_check_config``: ``config.json`` records the settings the results were
  computed with; other result settings, or results without a readable
  ``config.json`` next to them, are refused;
* ``sigterm_as_interrupt``: SIGTERM unwinds like Ctrl-C (``SweepTerminated``), so
  finished rows stay on disk and workers are terminated;
* ``warn_damaged``: one warning naming the file and the damaged rows left out.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recgym._validation import check_folder
from recgym.experiments.results import Problems, check_regular_file, replace_file

CONFIG_FILE = "config.json"
LOCK_FILE = "sweep.lock"
#: Damaged rows listed in a warning (the rest are counted).
SHOWN_PROBLEMS = 10


class SweepTerminated(KeyboardInterrupt):
    """SIGTERM received during ``run_sweep``; handled like Ctrl-C.

    Attributes
    ----------
    signum : int
        ``signal.SIGTERM``; a command line exits with ``128 + signum``.
    """

    signum = int(signal.SIGTERM)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, the first SIGTERM raises ``SweepTerminated`` in the main thread.

    Python's default for SIGTERM ends the process without unwinding, leaving the
    pool's workers behind. Later SIGTERMs are ignored while the first one unwinds
    (terminating the workers); the previous handler is restored on leaving. Off
    the main thread, where handlers cannot be set, this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise SweepTerminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def make_folder(out: Path) -> None:
    """Create ``out`` (and its parents); a ``ValueError`` naming ``--out`` if it cannot be."""
    check_folder("--out", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create the folder ({exc.strerror})") from exc


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out/sweep.lock`` (``"pid host"`` of this process) while the block runs.

    Raises ``ValueError`` if another live process holds it (or it names no
    process); a lock whose process has ended on this host is taken over.
    """
    path = out / LOCK_FILE
    mine = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(2):  # the second try follows the removal of a stale lock
        try:
            with open(path, "x") as handle:
                handle.write(mine)
            break
        except FileExistsError:
            holder = lock_holder(path)
            if holder is not None:
                raise ValueError(f"{out} is in use by another sweep ({holder}, recorded in "
                                 f"{path}); wait for it to end, or delete {path} if no sweep "
                                 "runs there") from None
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise ValueError(f"--out {out}: cannot write there ({exc.strerror})") from exc
    else:
        raise ValueError(f"{out}: another sweep took {path} at the same time; try again")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text() == mine:
                path.unlink()


def lock_holder(path: Path) -> str | None:
    """Who holds the lock file ``path``, or None if its process has ended (or it is gone)."""
    try:
        fields = path.read_text().split()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return "an unknown process"
    if len(fields) != 2 or not fields[0].isdigit():
        return "an unknown process"
    pid, host = int(fields[0]), fields[1]
    if host != socket.gethostname():
        return f"process {pid} on {host}"
    return f"process {pid}" if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine (or cannot be checked)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


#: Settings that sweeps started by earlier versions do not record (the data file's
#: sha256): accepted when missing from a ``config.json``, and recorded from then on.
RECORDED_LATER = ("data_sha256",)


def write_or_check_config(out: Path, wanted: dict[str, Any], non_result: Iterable[str],
                          held_files: Iterable[str]) -> None:
    """Write ``wanted`` as ``config.json``, or check that the one there describes the same
    results (settings named in ``non_result`` may differ).

    Results (any of ``held_files``) without a ``config.json`` next to them are
    refused: their settings cannot be known. Settings of ``RECORDED_LATER`` missing
    from it are accepted and recorded.
    """
    path = out / CONFIG_FILE
    found = read_config(path)
    if found is None:
        held = [name for name in held_files if os.path.lexists(out / name)]
        if held:
            raise ValueError(f"{out} holds {', '.join(held)} but no {CONFIG_FILE}, which "
                             "records the settings they were computed with; restore it, or "
                             "choose another --out folder")
    else:
        skip = set(non_result) | {k for k in RECORDED_LATER if k not in found}
        differ = sorted(k for k in set(found) | set(wanted)
                        if k not in skip and found.get(k) != wanted.get(k))
        if differ:
            raise ValueError(f"{out} holds a sweep with other settings (different: "
                             f"{', '.join(differ)}); resume it with the same settings or "
                             "choose another --out folder")
    replace_file(path, lambda handle: handle.write(json.dumps(wanted, indent=2) + "\n"))


def read_config(path: Path) -> dict | None:
    """The settings in ``config.json``, or None if there is none; ``ValueError`` if unreadable."""
    if not check_regular_file(path):
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); it records the settings of "
                         f"the results in {path.parent}: restore it, or choose another --out "
                         "folder") from exc
    if not isinstance(found, dict):
        raise ValueError(f"{path} holds a JSON {type(found).__name__}, not an object of "
                         "sweep settings; restore it, or choose another --out folder")
    return found



def warn_damaged(path: Path, problems: Problems) -> None:
    """One ``RuntimeWarning`` naming ``path`` and the first damaged rows, if any."""
    if not problems:
        return
    listed = "; ".join(f"{where} {what}" for where, what in
                       itertools.islice(problems.items(), SHOWN_PROBLEMS))
    more = f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS \
        else ""
    warnings.warn(f"{path}: {len(problems)} damaged row(s) left out, their runs are "
                  f"recomputed: {listed}{more}", RuntimeWarning, stacklevel=4)
