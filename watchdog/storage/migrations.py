"""The one schema chain of the state database, versioned with `PRAGMA user_version`.

`MIGRATIONS[n]` takes a database from version n to n+1 in one transaction; the tuple only
ever grows, and no entry is edited once released (a database written by that release
already carries its result). A database newer than this code is never read: its meaning
is unknown, so the caller moves it aside (see database.py).

Version 1 is the incident store of the first release. That release also created the outbox
tables with `CREATE TABLE IF NOT EXISTS` outside any version, so its files are at version 1
with or without them: version 2 creates them the same way, which adopts the existing ones
unchanged and creates them where they are missing.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: incidents, their timelines, restarts, restart budgets, silences
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        check_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        since TEXT NOT NULL,
        closed_at TEXT,
        resolution TEXT,
        summary TEXT NOT NULL DEFAULT '',
        paged_channels TEXT NOT NULL DEFAULT '[]',
        paged_at TEXT,
        last_reminder_at TEXT,
        escalated_at TEXT,
        acked_by TEXT,
        acked_at TEXT,
        notifications INTEGER NOT NULL DEFAULT 0,
        tried TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX incidents_open ON incidents(closed_at);
    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX timeline_incident ON timeline(incident_id, seq);
    CREATE TABLE restarts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        check_name TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        result TEXT NOT NULL,
        returncode INTEGER,
        duration REAL NOT NULL,
        output TEXT NOT NULL
    );
    CREATE TABLE budgets (
        check_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        count INTEGER NOT NULL,
        ok_since TEXT
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        until TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        ended_at TEXT
    );
    """,
    # 2: the outbox, as the first release created it outside the versions
    """
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        fallback TEXT NOT NULL DEFAULT '[]',
        fallback_of TEXT,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        fell_back INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (notification_id, channel)
    );
    CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, channel, seq);
    CREATE INDEX IF NOT EXISTS outbox_by_incident ON outbox (incident_id);
    CREATE TABLE IF NOT EXISTS outbox_firing (
        channel TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (channel, incident_id)
    );
    """,
    # 3: a key per appended row, so writing a change down again after a failed commit (which
    # may have reached the disk after all) adds nothing twice; rows of older versions have none
    """
    ALTER TABLE timeline ADD COLUMN entry_key TEXT;
    CREATE UNIQUE INDEX timeline_entry_key ON timeline(entry_key);
    ALTER TABLE restarts ADD COLUMN entry_key TEXT;
    CREATE UNIQUE INDEX restarts_entry_key ON restarts(entry_key);
    CREATE INDEX restarts_check ON restarts(check_name, seq);
    """,
    # 4: the sender's name for a message (incident id / message number), so a message repeated
    # after a crash is stored once while its notification id (what receivers dedupe on) is
    # random; rows of older versions have none
    """
    ALTER TABLE outbox ADD COLUMN message_key TEXT;
    CREATE UNIQUE INDEX outbox_message_key ON outbox(message_key, channel);
    """,
    # 5: availability history for the error budget: seconds good and seconds watched per
    # critical check ('' = the shop as a whole) and hour (unix time of the hour's start),
    # pruned after watchdog.storage.availability.RETENTION; the periods whose working-hours
    # digest was sent (one row per period, so a restart never sends one twice)
    """
    CREATE TABLE availability (
        check_name TEXT NOT NULL,
        hour INTEGER NOT NULL,
        good REAL NOT NULL,
        total REAL NOT NULL,
        PRIMARY KEY (check_name, hour)
    ) WITHOUT ROWID;
    CREATE INDEX availability_hour ON availability(hour);
    CREATE TABLE digests (
        period TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
    );
    """,
    # 6: releases deploy-guard recorded (POST /api/v1/releases), one row per release id
    """
    CREATE TABLE releases (
        id TEXT PRIMARY KEY,
        started_at TEXT,
        finished_at TEXT,
        commit_sha TEXT,
        branch TEXT,
        released_by TEXT,
        hotfix INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX releases_recorded ON releases(recorded_at);
    """,
)

LATEST = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer shop-watchdog; its meaning is unknown here."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    """Brings `conn` (autocommit mode, no open transaction) to LATEST, one version per
    transaction. Raises SchemaTooNew for a newer database and sqlite3.Error when a step
    cannot be written (that step is rolled back; the earlier ones stay)."""
    version = schema_version(conn)
    if version > LATEST:
        raise SchemaTooNew(f"schema version {version} is newer than this shop-watchdog knows ({LATEST})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
