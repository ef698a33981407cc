"""Real servers for tests and benchmarks: private, on 127.0.0.1, random ports, own temp dirs.

Every server class is a context manager (`with X(...) as s:` starts it and waits until its
port really accepts; leaving stops it and waits until it is gone, zombies counting as dead)
and works outside pytest too (bench/ scripts). pytest fixtures: tests/servers/fixtures.py.

Common API of the process-backed servers (`ChildServer` in processes.py):
`port`, `pid`, `running`, `start()` (again after a stop/kill: same port, same data),
`stop()` (graceful, SIGKILL after 5 s), `kill()` (SIGKILL of the whole process group,
like a crash), `log()` (tail of its output). `stop()`/`kill()` return once the master and
all its workers/backends are dead. Database servers delete their directory on leaving the
`with` block (`remove()`); nginx and Redis use the directory you give them.

* `NginxServer(directory, tls=CertFiles|None, extra_server_config="", port=None)` (nginx.py):
  `url`, `healthz_url` (/healthz -> 200 "ok"; /redirect -> 302 to /healthz; /error -> 500;
  other paths -> files under html/, see `write_file(rel, text)`), `conf_path`, `pid_path`,
  `master_pid()`, `broken_config()` / `fix_config()` (start fails while broken),
  `ctl_argv(python, "restart")` -> the argv of the detached-restart CLI below.
  Fixtures: `nginx`, `make_nginx(**kwargs)`.
* `python -m tests.servers.nginx_ctl --dir D start|stop|restart|status` (nginx_ctl.py), run
  with the repo root as cwd: (re)starts the nginx of directory D detached (it outlives the
  command, like a service restarted by a remediation), exit 0 done / 1 failed (broken config:
  message on stderr). `NginxServer.stop()` / `kill()` also stop a detached instance.
* `RedisServer(directory, password=None, maxmemory=None, maxclients=None, extra_args=())`
  (redis.py): `url`. Fixtures: `redis_server`, `make_redis(**kwargs)`.
* `PostgresServer(template, port=None, max_connections=20)` (postgres.py): PostgreSQL 15 on a
  copy of the session template (`PostgresTemplate.create()`: initdb once, scram-sha-256;
  superuser `postgres` and login role `monitor`, both with password `.password`), data in
  RAM under /dev/shm; `connect_kwargs(user)`, `connect(user)`, `sql(query, user="postgres")`.
  `kill()` also drops the SysV segment a crash leaves. Fixtures: `postgres_template`
  (session), `postgres`, `make_postgres(**kwargs)`.
* `MariaDBServer(template, port=None, max_connections=20)` (mariadb.py): likewise from
  `MariaDBTemplate.create()`; user `monitor`@127.0.0.1 with `.password`, root without
  password over `socket` only: `sql_as_root(query)`, `connect_monitor()`. Fixtures:
  `mariadb_template` (session), `mariadb`, `make_mariadb(**kwargs)`.
* `HangingTCPServer()` (hanging.py): `port`, `url`; connections are accepted and never
  answered. Fixture: `hanging_tcp`.
* `SlowHTTPServer(delay, status=200, body="ok")` (slow_http.py): `port`, `url`, `requests`
  (count); answers every request after `delay` s. Fixture: `make_slow_http(delay, ...)`.
* `tmpfs_mount(size="8m", nr_inodes=None)` (tmpfs.py, context manager -> mount point),
  `fill_to(mountpoint, ratio)` (1.0 = full, stops at ENOSPC), `exhaust_inodes(mountpoint)`.
  Fixture: `make_tmpfs(size, nr_inodes=None)`.
* `CertificateAuthority(directory).issue(name, days=N)` -> `CertFiles(cert, key)`, CA file
  in `.cert`; `self_signed(directory, name, days=N)` (certs.py). Fixture: `test_ca` (session).
* `WatchdogDaemon(directory, config, cli=probe_cli(d), env={MODULES_FILE: path})`
  (module_probe.py): the real daemon, writing the modules it had imported to `path` when it
  exits (`terminate()`); `modules_at_exit(path)` reads them (what an idle daemon loads).
* `free_port()`, `accepts(port)`, `wait_until_accepting(port, timeout=...)` (ports.py);
  `is_dead(pid)`, `wait_dead(pid, timeout)`, `group_members(pgid)` (processes.py);
  `owned_tempdir(prefix, user)` (scratch.py). Fixture `server_stack`: an ExitStack closed
  at teardown, for anything else you start.
"""
