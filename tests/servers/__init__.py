"""Real servers for tests and benchmarks: private, on 127.0.0.1, random ports, own temp dirs.

Every server class is a context manager (`with X(...) as s:` starts it and waits until its
port really accepts; leaving stops it and waits until it is gone, zombies counting as dead)
and works outside pytest too (bench/ scripts). pytest fixtures: tests/servers/fixtures.py.

Common API of the process-backed servers (`ChildServer` in processes.py):
`port`, `pid`, `running`, `start()` (again after a stop/kill: same port, same data),
`stop()` (graceful, SIGKILL after 5 s), `kill()` (SIGKILL of the whole process group,
like a crash), `log()` (tail of its output).

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
* `PostgresServer(template, port=None)` (postgres.py): a copy of a session template made by
  `PostgresTemplate.create(password=...)` (initdb once, scram-sha-256; superuser `postgres`
  and login role `monitor`, both with `template.password`), `dsn_kwargs(user)`, `sql(query)`.
  Fixtures: `postgres_template` (session), `postgres`.
* `MariaDBServer(template, port=None)` (mariadb.py): likewise from `MariaDBTemplate.create(
  password=...)`; user `monitor`@127.0.0.1 with `template.password`, root without password
  on the socket only; `sql(query)`. Fixtures: `mariadb_template` (session), `mariadb`.
* `HangingTCPServer()` (hanging.py): `port`, `url`; connections are accepted and never
  answered. Fixture: `hanging_tcp`.
* `SlowHTTPServer(delay, status=200, body="ok")` (slow_http.py): `port`, `url`, `requests`
  (count); answers every request after `delay` s. Fixture: `make_slow_http(delay, ...)`.
* `tmpfs_mount(size="8m", nr_inodes=None)` (tmpfs.py, context manager -> mount point),
  `fill_to(mountpoint, ratio)` (1.0 = full, stops at ENOSPC), `exhaust_inodes(mountpoint)`.
  Fixture: `make_tmpfs(size, nr_inodes=None)`.
* `CertificateAuthority(directory).issue(name, days=N)` -> `CertFiles(cert, key)`, CA file
  in `.cert`; `self_signed(directory, name, days=N)` (certs.py). Fixture: `test_ca` (session).
* `free_port()`, `accepts(port)`, `wait_until_accepting(port, timeout=...)` (ports.py);
  `is_dead(pid)`, `wait_dead(pid, timeout)` (processes.py).
"""
