"""A healthchecks.io-like ping receiver run inside the container (stdlib only, system python3).

Usage: heartbeat_receiver.py PORT. Answers every GET/POST with 200 and prints one line
`ping PATH` per request, which journald records for the test to count.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        print(f"ping {self.path}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
