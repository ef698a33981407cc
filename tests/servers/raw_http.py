"""Raw HTTP/1.1 over a plain socket: what a hostile client sends, byte for byte.

urllib and http.client refuse to send most malformed requests (a negative Content-Length,
folded headers, a request that never ends); these helpers send exactly the given bytes and
read whatever comes back, so tests can attack a server the way a local user could.
"""

from __future__ import annotations

import json
import resource
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RawAnswer:
    """What came back on one connection: the bytes, and whether the server closed it."""

    data: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int:
        """The status code of the first response (0: no response at all)."""
        if not self.data.startswith(b"HTTP/1."):
            return 0
        return int(self.data.split(b" ", 2)[1])

    @property
    def statuses(self) -> list[int]:
        """The status codes of every response on the connection, in order."""
        return [int(part.split(b" ", 2)[0]) for part in self.data.split(b"HTTP/1.1 ")[1:]]

    def json(self) -> dict[str, object]:
        """The JSON body of the first response."""
        head, _, rest = self.data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        body: dict[str, object] = json.loads(rest[:length])
        return body


def exchange(port: int, data: bytes, *, timeout: float = 5.0, host: str = "127.0.0.1") -> RawAnswer:
    """Sends `data` and reads until the server closes the connection or `timeout` passes."""
    started = time.monotonic()
    received = bytearray()
    closed = False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        deadline = started + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                received += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    return RawAnswer(bytes(received), closed, time.monotonic() - started)


def request_bytes(method: str, path: str, *, host: str = "127.0.0.1", headers: dict[str, str] | None = None,
                  body: bytes = b"", close: bool = True) -> bytes:  # fmt: skip
    """A well-formed request (Content-Length set when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    all_headers = dict(headers or {})
    if body and "Content-Length" not in all_headers:
        all_headers["Content-Length"] = str(len(body))
    if close:
        all_headers.setdefault("Connection", "close")
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def open_idle(port: int, count: int, *, host: str = "127.0.0.1", send: bytes = b"") -> list[socket.socket]:
    """`count` connections that send `send` (nothing, or the start of a request) and then
    wait; the caller closes them. Connections the server refuses or sheds stay in the list."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(count + 256, hard), hard))
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=10)
            if send:
                sock.sendall(send)
            sockets.append(sock)
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
