"""Holds idle connections to the daemon's API inside the container (stdlib only, system python3).

Usage: idle_holder.py PORT COUNT. Opens COUNT connections to 127.0.0.1:PORT — every other
one stops half-way through a request line, the rest send nothing — prints `holding N` (N:
how many the daemon has not closed yet) for the test to read from the journal, and keeps
them open until stopped. A connection the daemon sheds or refuses is opened again, so the
daemon stays under the whole load.
"""

from __future__ import annotations

import resource
import signal
import socket
import sys
import time


def connect(port: int, index: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if index % 2:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\n")
    return sock


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    held = [connect(port, i) for i in range(count)]
    while True:
        closed = 0
        for i, sock in enumerate(held):
            sock.setblocking(False)
            try:
                gone = True  # closed, or answered (503 past the bound, 408 after the read timeout)
                sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                gone = False
            except OSError:
                pass
            if gone:
                sock.close()
                held[i] = connect(port, i)
                closed += 1
        print(f"holding {count - closed}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main()
