"""The http check's own HTTP/1.1 transport (h11 on a socket the check owns): what goes on the
wire, answers no well-behaved server gives, and that plain http:// never loads TLS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from checks.base import Status
from tests.checks.building import make_check
from tests.servers.canned_http import CannedHTTPServer
from tests.servers.certs import CertificateAuthority
from tests.servers.nginx import NginxServer
from tests.servers.recording_http import RecordingHTTPServer

ROOT = Path(__file__).resolve().parents[2]
TLS_MODULES = ("ssl", "_ssl", "http.client", "email", "checks.tlscert")

MakeCanned = Callable[..., CannedHTTPServer]


@pytest.fixture
def make_canned(server_stack: ExitStack) -> MakeCanned:
    """make_canned(answer, reset=False) -> a running CannedHTTPServer."""

    def make(answer: bytes, **kwargs: bool) -> CannedHTTPServer:
        return server_stack.enter_context(CannedHTTPServer(answer, **kwargs))

    return make


@pytest.fixture
def recorder() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as server:
        yield server


def test_requests_carry_host_identity_encoding_and_a_post_its_empty_length(recorder: RecordingHTTPServer) -> None:
    url = recorder.answer("/healthz")
    assert make_check("http", url=url).run(timeout=5).status is Status.OK
    assert make_check("http", url=url, method="POST").run(timeout=5).status is Status.OK
    get, post = recorder.received("/healthz")
    assert (get.headers["Host"], get.headers["Accept-Encoding"]) == (f"127.0.0.1:{recorder.port}", "identity")
    assert (get.headers["Content-Length"], post.headers["Content-Length"]) == (None, "0")


def test_head_reads_no_body_though_the_answer_announces_one(recorder: RecordingHTTPServer) -> None:
    url = recorder.answer("/page", b"a body HEAD does not get")
    result = make_check("http", url=url, method="HEAD").run(timeout=5)
    assert result.status is Status.OK, result.message
    assert [r.method for r in recorder.received("/page")] == ["HEAD"]


def test_non_ascii_in_the_url_and_in_a_redirect_is_sent_percent_encoded(
    recorder: RecordingHTTPServer, make_canned: MakeCanned
) -> None:
    recorder.answer("/sp%C3%A4ti?q=%C3%A4%20b")
    assert make_check("http", url=f"{recorder.url('/späti')}?q=ä b").run(timeout=5).status is Status.OK
    recorder.answer("/caf%C3%A9")
    location = recorder.url("/café").encode()
    redirect = make_canned(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n")
    assert make_check("http", url=redirect.url).run(timeout=5).status is Status.OK
    assert len(recorder.received("/sp%C3%A4ti?q=%C3%A4%20b")) == len(recorder.received("/caf%C3%A9")) == 1


@pytest.mark.parametrize(
    ("answer", "quoted"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "SSH-2.0-OpenSSH_9.2p1 Debian-2"),
        (b"HTTP/1.1 2OO " + b"x" * 300 + b"\r\nContent-Length: 0\r\n\r\n", ("HTTP/1.1 2OO " + "x" * 300)[:100]),
        (b"\x16\x03\x01\x00\x02\x02\x46", "\x16\x03\x01\x00\x02\x02\x46"),
        (b"\r\nHTTP/1.1 200 OK\r\n\r\n", "an empty line instead of the status line"),
    ],
    ids=["banner", "long-status-line", "tls-alert", "blank-line"],
)
def test_an_answer_without_a_status_line_is_quoted_as_invalid(
    make_canned: MakeCanned, answer: bytes, quoted: str
) -> None:
    server = make_canned(answer)
    result = make_check("http", url=server.url).run(timeout=5)
    assert (result.status, result.message) == (Status.CRITICAL, f"invalid HTTP response: {quoted}: {server.url}")


def test_a_banner_on_a_connection_kept_open_is_invalid_at_once_not_a_timeout(make_canned: MakeCanned) -> None:
    """An SSH server answers with its banner and waits: the first bytes already say it is no HTTP."""
    server = make_canned(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", hold=True)
    result = make_check("http", url=server.url).run(timeout=3)
    expected = f"invalid HTTP response: SSH-2.0-OpenSSH_9.2p1 Debian-2: {server.url}"
    assert (result.status, result.message) == (Status.CRITICAL, expected)


def test_a_malformed_header_is_named_without_python_reprs(make_canned: MakeCanned) -> None:
    server = make_canned(b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n")
    result = make_check("http", url=server.url).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message.startswith("invalid HTTP response: ")
    assert "bytearray" not in result.message and "b'" not in result.message
    assert "no colon here" in result.message


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly part\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_cut_short_is_critical(make_canned: MakeCanned, answer: bytes) -> None:
    server = make_canned(answer)
    result = make_check("http", url=server.url).run(timeout=5)
    assert (result.status, result.message) == (
        Status.CRITICAL,
        f"server closed the connection before the end of the body: {server.url}",
    )


def test_a_reset_instead_of_an_answer_is_critical(make_canned: MakeCanned) -> None:
    server = make_canned(b"", reset=True)
    result = make_check("http", url=server.url).run(timeout=5)
    assert (result.status, result.message) == (Status.CRITICAL, f"connection reset by peer: {server.url}")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshop open",
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nshop open",
    ],
    ids=["interim-answers-first", "body-until-close"],
)
def test_the_final_answer_and_its_whole_body_are_judged(make_canned: MakeCanned, answer: bytes) -> None:
    server = make_canned(answer)
    result = make_check("http", url=server.url, expect_body="shop open").run(timeout=5)
    assert result.status is Status.OK, result.message
    assert result.measurements["status_code"] == 200


def test_a_redirect_to_https_on_a_plain_port_is_a_failed_handshake(make_nginx: Callable[..., NginxServer]) -> None:
    plain = make_nginx(extra_server_config="location = /to-tls { return 302 https://127.0.0.1:$server_port/; }")
    url = f"{plain.url}/to-tls"
    result = make_check("http", url=url).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message.startswith(f"TLS handshake with 127.0.0.1:{plain.port} failed: "), result.message
    assert result.message.endswith(f": {url}")


def test_plain_http_loads_no_tls_and_https_still_works(
    nginx: NginxServer, test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer]
) -> None:
    """In a fresh interpreter (this one has everything loaded): an http:// check leaves
    OpenSSL, http.client and email unloaded; an https:// check then loads TLS and passes."""
    secure = make_nginx(tls=test_ca.issue("imports", days=90))
    script = (
        "import json, sys\n"
        "from tests.checks.building import make_check\n"
        "plain = make_check('http', url=sys.argv[1], expect_body='ok').run(timeout=5)\n"
        f"loaded = [m for m in {list(TLS_MODULES)!r} if m in sys.modules]\n"
        "tls = make_check('http', url=sys.argv[2], ca_file=sys.argv[3], expect_body='ok').run(timeout=5)\n"
        "print(json.dumps([plain.status.name, loaded, tls.status.name, tls.message, 'ssl' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, nginx.healthz_url, secure.healthz_url, str(test_ca.cert)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    plain, loaded, tls, message, ssl_loaded = json.loads(out.stdout)
    assert (plain, loaded) == ("OK", [])
    assert (tls, ssl_loaded) == ("OK", True), message
    assert "certificate valid" in message
