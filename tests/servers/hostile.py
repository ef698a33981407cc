"""Servers that echo the credentials a client sent back in their error text.

Real ones do: a Redis older than 6 answers a command it does not know with
`-ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' 'pw'`, and
proxies quote the login they refused. A probe that puts the server's error into its message
would carry the password into status, pages and logs; these servers prove it does not.

* `EchoingRespServer`: speaks RESP; every command (AUTH, HELLO, PING...) is answered with
  the old Redis "unknown command" error quoting the command and its arguments.
* `QuotingHttpServer`: a GET gets a broken status line quoting the request's
  `Authorization` header (http.client reports the line); a POST gets 401 with the header
  quoted in the body (channels report the body of a rejection).
"""

from __future__ import annotations

import socketserver
import threading
from http.server import BaseHTTPRequestHandler

from tests.servers.http_thread import HttpThread
from tests.servers.stop_on_exit import StopOnExit


class _RespHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            command = self._read_command()
            if not command:
                return
            name, *args = command
            quoted = " ".join(f"'{a}'" for a in args)
            error = f"-ERR unknown command '{name}', with args beginning with: {quoted}\r\n"
            self.wfile.write(error.encode())
            self.wfile.flush()

    def _read_command(self) -> list[str]:
        header = self.rfile.readline()
        if not header.startswith(b"*"):
            return header.decode(errors="replace").split()
        words = []
        for _ in range(int(header[1:])):
            length = int(self.rfile.readline()[1:])
            words.append(self.rfile.read(length + 2)[:-2].decode(errors="replace"))
        return words


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EchoingRespServer(StopOnExit):
    """redis://127.0.0.1:`port`: quotes every command back in an error."""

    def __init__(self) -> None:
        self._server = _ThreadingTCPServer(("127.0.0.1", 0), _RespHandler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


class QuotingHttpServer(StopOnExit):
    """http://127.0.0.1:`port`/: quotes the request's Authorization header back."""

    def __init__(self) -> None:
        self._http = HttpThread(self._handler_class(), name="quoting-http").start()
        self.port = self._http.port

    def url(self, path: str = "/", userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}{path}"

    @staticmethod
    def _handler_class() -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                sent = self.headers.get("Authorization", "nothing")
                self.wfile.write(f"HTTP/1.1 4O1 refused {sent}\r\nContent-Length: 0\r\n\r\n".encode())
                self.close_connection = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = f"refused credentials {self.headers.get('Authorization', 'nothing')}".encode()
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest output stays readable."""

        return Handler

    def stop(self) -> None:
        self._http.stop()
