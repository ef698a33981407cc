"""The state database: one SQLite file under `state_dir` holds every table of the daemon,
behind one connection, one lock and one migration chain (migrations.py). Repositories
(state.StateStore, outbox.OutboxStore) run every change in `transaction()` and every read
through `query()` or `Tx.query()`.

Normal operation: WAL, `synchronous=FULL`; a transaction is on disk when it returns, so a
`kill -9` at any moment loses nothing that was acted on.

When the file cannot be written (disk full, I/O error, read-only file system, a lock held
elsewhere, damage found while running), no caller ever sees the error:

1. Disk full: the reserve (reserve.py) is deleted and the transaction tried again on the
   file. Usually that is enough, and the crisis is committed like any other day. (Often
   not even that is needed: the WAL restarts in space it already holds, see
   CHECKPOINT_PAGES, so only a database that grows needs new space.)
2. Otherwise the store goes into memory: a copy of the database in RAM (copied from the
   file when it can still be read) takes the failed transaction and every later one, and
   each transaction's statements are kept in order. Reads see the copy, so the outbox goes
   on sending within the usual seconds.
3. `maintain()`, called by the daemon's loop, tries every `retry_every` seconds to write the
   kept transactions down, in order and in one transaction. Every kept statement is
   idempotent (whole-row upserts, `INSERT OR IGNORE` on natural or per-row keys, updates by
   key), so a commit that failed but reached the disk after all (an fsync error can do
   that) is written again without effect. Then the copy is dropped and the file is used
   again, and the reserve is made again once space allows.

While in memory the file is closed, so a damaged file system can be unmounted and repaired
under the running daemon.

What a crash while in memory loses: the kept transactions (RAM only). The file then holds
the state at the moment of the fault: a message that was pending then and delivered since
is sent again after the restart (at least once, as after any crash between a send and its
record); an incident opened while in memory is forgotten
and, if its problem is still there, opened again under a new id (a second page). This is
what the reserve is for: with it, the usual full disk never gets to this step.

A file that cannot be used at start (not a database, damaged, written by a newer version,
not a regular or readable file) is moved aside with a timestamp (quarantine.py) and a fresh
one is started; `health()` lists what was moved so the daemon can page about it. A file
that cannot be opened for another reason (a read-only or failing disk) is left alone: the
store starts in memory and writes down once it can.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from watchdog.common.clock import Clock, SystemClock
from watchdog.common.logs import event
from watchdog.storage.faults import describe, is_damage, is_fault, is_full
from watchdog.storage.migrations import LATEST, SchemaTooNew, migrate, schema_version
from watchdog.storage.quarantine import move_aside
from watchdog.storage.reserve import RESERVE_BYTES, Reserve

log = logging.getLogger(__name__)

DB_NAME = "state.db"
BUSY_TIMEOUT = 5.0
"""Seconds a write waits for a lock held by another process (an admin's sqlite3 shell)
before the store treats the file as unwritable."""
CATCH_UP_BUSY_TIMEOUT = 0.1
"""The same while trying to write down what was kept: a lock still held is simply the next
try's business, and the daemon's loop must not wait for it every two seconds."""
RETRY_EVERY = 2.0
CHECKPOINT_PAGES = 16
"""WAL pages before a checkpoint: the WAL then starts again at its beginning, in space it
already holds, so on a full disk only the growth of the database itself needs new space.
Small, because the daemon writes little (a few transactions per incident)."""
WAL_LIMIT = 1024 * 1024

_MAGIC = b"SQLite format 3\x00"

Statement = tuple[str, tuple[Any, ...]]
T = TypeVar("T")


@dataclass(frozen=True)
class Quarantine:
    """A database file moved aside: where it went and why."""

    path: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class StoreHealth:
    """What the daemon reports about its store. `writing` is False while changes are kept in
    memory (`unsaved` transactions since `since`, `error` says why); `quarantined` lists
    every file moved aside by this process, oldest first."""

    path: str
    writing: bool
    error: str | None
    since: datetime | None
    unsaved: int
    quarantined: tuple[Quarantine, ...]
    reserve: bool


class Tx:
    """One transaction: `execute` for changes (kept, to be written down later if need be),
    `query` for reads. Obtained from `Database.transaction()` only."""

    def __init__(self, db: Database, conn: sqlite3.Connection) -> None:
        self._db = db
        self._conn = conn
        self._done: list[Statement] = []
        self._attempt(lambda c: None, begin=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        args = tuple(params)
        cursor = self._attempt(lambda c: c.execute(sql, args))
        self._done.append((sql, args))
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        args = tuple(params)
        return self._attempt(lambda c: c.execute(sql, args).fetchall())

    def _commit(self) -> tuple[Statement, ...] | None:
        """Commits; the statements when they went to memory (to be written down later)."""
        self._attempt(lambda c: c.execute("COMMIT"))
        return tuple(self._done) if self._db._in_memory(self._conn) and self._done else None

    def _rollback(self) -> None:
        _rollback_quietly(self._conn)

    def _attempt(self, op: Callable[[sqlite3.Connection], T], *, begin: bool = False) -> T:
        """Runs `op` in the transaction; on a fault, moves the transaction (its statements
        so far) to the connection the database falls over to and runs `op` there."""
        while True:
            try:
                if begin:
                    self._conn.execute("BEGIN IMMEDIATE")
                    for sql, args in self._done:
                        self._conn.execute(sql, args)
                    begin = False
                return op(self._conn)
            except sqlite3.Error as exc:
                self._conn = self._db._fail_over(self._conn, exc)
                begin = True


class Database:
    """The state database of `state_dir`; thread-safe. See the module docstring.

    `on_fault` is called (under the database's lock: it must only signal) when the store goes
    into memory, from whichever thread's write found the fault: the daemon wakes its loop
    to report it at once."""

    def __init__(
        self,
        state_dir: str,
        *,
        clock: Clock | None = None,
        reserve_limit: int = RESERVE_BYTES,
        retry_every: float = RETRY_EVERY,
        busy_timeout: float = BUSY_TIMEOUT,
        on_fault: Callable[[], None] = lambda: None,
    ) -> None:
        self.directory = state_dir
        self.path = os.path.join(state_dir, DB_NAME)
        self._clock = clock or SystemClock()
        self._reserve = Reserve(state_dir, reserve_limit)
        self._retry_every = retry_every
        self._busy_timeout = busy_timeout
        self._on_fault = on_fault
        self._lock = threading.RLock()
        self._file: sqlite3.Connection | None = None
        self._memory: sqlite3.Connection | None = None
        self._unsaved: list[tuple[Statement, ...]] = []
        self._error: str | None = None
        self._since: datetime | None = None
        self._retry_at = 0.0
        self._quarantined: list[Quarantine] = []
        self._copy_whole = False
        """The file was made anew while in memory: it gets the whole copy, not the kept changes."""
        with self._lock:
            try:
                self._file, _ = self._open(thorough=True)
            except (sqlite3.Error, OSError) as exc:
                if isinstance(exc, sqlite3.Error) and not is_fault(exc):
                    raise
                self._to_memory(exc)
            else:
                self._reserve.ensure()

    # --- what repositories use ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction, committed when the block ends (rolled back if it raises).
        Never raises a store fault: see the module docstring."""
        with self._lock:
            tx = Tx(self, self._current())
            try:
                yield tx
                kept = tx._commit()
            except BaseException:
                tx._rollback()
                raise
            if kept is not None:
                self._unsaved.append(kept)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        args = tuple(params)
        with self._lock:
            conn = self._current()
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                return self._fail_over(conn, exc).execute(sql, args).fetchall()

    # --- what the daemon uses ----------------------------------------------------------------

    def maintain(self, *, force: bool = False) -> None:
        """At most every `retry_every` seconds (or now with `force`): writes down what is kept
        in memory, and makes the reserve again when it is missing and space allows."""
        with self._lock:
            now = self._clock.monotonic()
            if not force and now < self._retry_at:
                return
            self._retry_at = now + self._retry_every
            if self._memory is not None:
                self._catch_up()
            if self._memory is None and self._file is not None:
                self._reserve.ensure()

    def health(self) -> StoreHealth:
        with self._lock:
            return StoreHealth(
                path=self.path,
                writing=self._memory is None,
                error=self._error,
                since=self._since,
                unsaved=len(self._unsaved),
                quarantined=tuple(self._quarantined),
                reserve=self._reserve.present,
            )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return schema_version(self._current())

    def close(self) -> None:
        """Writes down what is kept in memory if it can (a last try), then closes."""
        with self._lock:
            if self._memory is not None:
                self.maintain(force=True)
            if self._unsaved:
                event(
                    log,
                    "state_store_closed_unsaved",
                    logging.ERROR,
                    path=self.path,
                    changes=len(self._unsaved),
                    error=self._error,
                )
            for conn in (self._file, self._memory):
                if conn is not None:
                    conn.close()
            self._file = self._memory = None

    # --- falling over and back ---------------------------------------------------------------

    def _current(self) -> sqlite3.Connection:
        conn = self._memory or self._file
        if conn is None:
            raise sqlite3.ProgrammingError(f"{self.path}: the state database is closed")
        return conn

    def _in_memory(self, conn: sqlite3.Connection) -> bool:
        return conn is self._memory

    def _fail_over(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> sqlite3.Connection:
        """The connection to use after `exc` on `conn` (no transaction open on it): the file
        again once the reserve made room, else memory. Bugs and errors in memory are raised."""
        if conn is not self._file or not is_fault(exc):
            raise exc
        _rollback_quietly(conn)
        if (is_full(exc) or self._reserve.low_space()) and self._reserve.release():
            return conn
        self._to_memory(exc)
        assert self._memory is not None
        return self._memory

    def _to_memory(self, exc: BaseException) -> None:
        self._error = describe(exc, self.directory)
        self._since = self._clock.now()
        self._retry_at = self._clock.monotonic() + self._retry_every
        self._memory, copied = self._memory_copy()
        if self._file is not None:
            _close_quietly(self._file)
            self._file = None
        event(log, "state_store_failed", logging.ERROR, path=self.path, error=self._error, copied=copied)
        self._on_fault()

    def _memory_copy(self) -> tuple[sqlite3.Connection, bool]:
        """A database in RAM at the latest schema, with the file's content when it can be
        read (through the open connection, else read-only from the file itself)."""
        if self._file is not None:
            copy = _copied(self._file)
            if copy is not None:
                return copy, True
        source = self._read_only()
        if source is not None:
            try:
                copy = _copied(source)
            finally:
                source.close()
            if copy is not None:
                return copy, True
        memory = _memory_connection()
        migrate(memory)
        return memory, False

    def _read_only(self) -> sqlite3.Connection | None:
        if not os.path.isfile(self.path):
            return None
        try:
            return sqlite3.connect(Path(os.path.abspath(self.path)).as_uri() + "?immutable=1", uri=True)
        except sqlite3.Error:
            return None

    def _catch_up(self) -> None:
        """Writes the kept transactions to the file (a new file gets the whole copy), then
        uses the file again. On failure everything stays as it was, with the newest error."""
        assert self._memory is not None
        for _ in range(2):  # a second round after damage found here moved the file aside
            try:
                conn, new = self._open(thorough=False)
            except (sqlite3.Error, OSError) as exc:
                if isinstance(exc, sqlite3.Error) and not is_fault(exc):
                    raise
                self._still_failing(exc)
                return
            self._copy_whole |= new
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(CATCH_UP_BUSY_TIMEOUT * 1000)}")
                if self._copy_whole:
                    conn = self._copy_memory_to_file(conn)
                else:
                    write_down(conn, self._unsaved)
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            except sqlite3.Error as exc:
                _close_quietly(conn)
                if not is_damage(exc):
                    if not is_fault(exc):
                        raise
                    self._still_failing(exc)
                    return
                try:
                    self._move_aside("corrupt", str(exc))
                except OSError as moved:
                    self._still_failing(moved)
                    return
                continue
            self._recovered(conn)
            return

    def _copy_memory_to_file(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """The whole copy into a new file (`conn` on it is closed; a new one is returned)."""
        assert self._memory is not None
        conn.execute("PRAGMA journal_mode=DELETE")  # a WAL database refuses another page size
        self._memory.backup(conn)
        conn.close()
        return self._connect()

    def _still_failing(self, exc: BaseException) -> None:
        error = describe(exc, self.directory)
        if error != self._error:
            event(log, "state_store_still_failing", logging.ERROR, path=self.path, error=error)
        self._error = error

    def _recovered(self, conn: sqlite3.Connection) -> None:
        assert self._memory is not None and self._since is not None
        held = (self._clock.now() - self._since).total_seconds()
        event(log, "state_store_recovered", path=self.path, changes=len(self._unsaved), held_seconds=round(held, 1))
        self._memory.close()
        self._memory = None
        self._file = conn
        self._unsaved.clear()
        self._error = self._since = None
        self._copy_whole = False

    # --- opening the file --------------------------------------------------------------------

    def _open(self, *, thorough: bool) -> tuple[sqlite3.Connection, bool]:
        """The file, verified and migrated, and whether it is new (no tables of ours before).
        A file that cannot be used is moved aside first. Raises OSError or a fault."""
        try:
            return self._open_file(thorough)
        except sqlite3.Error as exc:
            if not (is_full(exc) and self._reserve.release()):
                raise
        return self._open_file(thorough)

    def _open_file(self, thorough: bool) -> tuple[sqlite3.Connection, bool]:
        os.makedirs(self.directory, mode=0o750, exist_ok=True)
        problem = _unusable(self.path)
        conn: sqlite3.Connection | None = None
        if problem is None:
            try:
                conn = self._connect()
                problem = _verify(conn, thorough)
            except sqlite3.Error as exc:
                if conn is not None:
                    _close_quietly(conn)
                if not is_damage(exc):
                    raise
                problem = ("corrupt", str(exc))
        if problem is not None:
            if conn is not None:
                _close_quietly(conn)
            self._move_aside(*problem)
            conn = self._connect()
        assert conn is not None
        try:
            new = schema_version(conn) == 0
            migrate(conn)
        except BaseException:
            _close_quietly(conn)
            raise
        return conn, new

    def _move_aside(self, label: str, reason: str) -> None:
        now = self._clock.now()
        target = move_aside(self.path, label, now)
        self._quarantined.append(Quarantine(target, reason, now))
        event(log, "state_db_moved_aside", logging.ERROR, path=self.path, to=target, reason=reason)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        except BaseException:
            conn.close()
            raise
        return conn


def _unusable(path: str) -> tuple[str, str] | None:
    """(label, reason) when `path` exists but SQLite cannot use it whatever the disk does.
    Looked at before SQLite opens it: SQLite would reset the companion files of a file it
    cannot read, and they belong with it."""
    if not os.path.lexists(path):
        return None
    if not os.path.isfile(path):
        return "unreadable", "not a regular file"
    if not os.access(path, os.R_OK):
        return "unreadable", "not readable by this user"
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(_MAGIC))
    except OSError:
        return None  # a failing disk: not the file's fault
    if header and header != _MAGIC:
        return "corrupt", "file is not a database (no SQLite header)"
    return None


def _verify(conn: sqlite3.Connection, thorough: bool) -> tuple[str, str] | None:
    """(label, reason) when the content cannot be used: a newer schema, or (thorough) damage
    found by SQLite's quick_check. Raises sqlite3 errors as SQLite reports them."""
    version = schema_version(conn)
    if version > LATEST:
        return "newer-schema", f"schema version {version} is newer than this shop-watchdog knows ({LATEST})"
    if thorough:
        found = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
        if found != ["ok"]:
            return "corrupt", "; ".join(found[:3])
    return None


def _copied(source: sqlite3.Connection) -> sqlite3.Connection | None:
    """A copy of `source` in RAM at the latest schema, or None when it cannot be read."""
    memory = _memory_connection()
    try:
        source.backup(memory)
        migrate(memory)
    except (sqlite3.Error, SchemaTooNew):
        memory.close()
        return None
    return memory


def write_down(conn: sqlite3.Connection, kept: Sequence[tuple[Statement, ...]]) -> None:
    """Runs kept transactions on `conn` (autocommit mode) in order, as one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statements in kept:
            for sql, args in statements:
                conn.execute(sql, args)
        conn.execute("COMMIT")
    except BaseException:
        _rollback_quietly(conn)
        raise


def _memory_connection() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _rollback_quietly(conn: sqlite3.Connection) -> None:
    """Ends a transaction that failed; SQLite may have rolled it back already."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.close()
