"""http against a private nginx (plain and TLS), a hanging, a slow and a recording server."""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from checks.base import Status
from checks.http import MAX_BODY_BYTES
from tests.checks.building import config_problems, make_check
from tests.servers.certs import CertificateAuthority, self_signed
from tests.servers.hanging import HangingTCPServer
from tests.servers.nginx import NginxServer
from tests.servers.recording_http import RecordingHTTPServer
from tests.servers.slow_http import SlowHTTPServer

MakeRecorder = Callable[..., RecordingHTTPServer]


@pytest.fixture
def make_recorder(server_stack: ExitStack) -> MakeRecorder:
    """make_recorder(host="127.0.0.1") -> a running RecordingHTTPServer on that loopback address."""

    def make(host: str = "127.0.0.1") -> RecordingHTTPServer:
        return server_stack.enter_context(RecordingHTTPServer(host))

    return make


def test_healthy_page_is_ok_with_status_and_time(nginx: NginxServer) -> None:
    result = make_check("http", url=nginx.healthz_url, expect_body="ok").run(timeout=5)
    assert result.status is Status.OK, result.message
    assert result.measurements["status_code"] == 200
    assert 0 < result.measurements["response_seconds"] < 1
    assert result.message.startswith("HTTP 200 in ")


def test_body_without_expected_text_is_critical(nginx: NginxServer) -> None:
    result = make_check("http", url=nginx.healthz_url, expect_body="ready").run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message == "HTTP 200 but body does not contain 'ready'"


def test_body_regex_between_slashes(nginx: NginxServer) -> None:
    nginx.write_file("status.txt", "orders: 17\nqueue: 3\n")
    url = f"{nginx.url}/status.txt"
    assert make_check("http", url=url, expect_body=r"/^queue: \d+$/m").run(timeout=5).status is Status.OK
    result = make_check("http", url=url, expect_body=r"/^queue: 0$/").run(timeout=5)
    assert result.status is Status.CRITICAL
    assert "does not match" in result.message


def test_server_error_is_critical_and_expected_codes_are_configurable(nginx: NginxServer) -> None:
    result = make_check("http", url=f"{nginx.url}/error").run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message == "HTTP 500 (expected 2xx)"
    missing = f"{nginx.url}/missing"
    assert make_check("http", url=missing, expect_status=[200]).run(timeout=5).status is Status.CRITICAL
    assert make_check("http", url=missing, expect_status=[404]).run(timeout=5).status is Status.OK


def test_redirect_is_followed_unless_disabled(nginx: NginxServer) -> None:
    url = f"{nginx.url}/redirect"
    followed = make_check("http", url=url, expect_body="ok").run(timeout=5)
    assert followed.status is Status.OK and followed.measurements["status_code"] == 200
    not_followed = make_check("http", url=url, follow_redirects=False).run(timeout=5)
    assert not_followed.status is Status.CRITICAL
    assert not_followed.message == "HTTP 302 (expected 2xx)"
    assert make_check("http", url=url, follow_redirects=False, expect_status=["3xx"]).run(timeout=5).status is Status.OK


def test_stopped_server_is_critical_connection_refused(nginx: NginxServer) -> None:
    nginx.kill()
    result = make_check("http", url=nginx.healthz_url).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert result.message == f"connection refused: {nginx.healthz_url}"


def test_password_in_the_url_never_reaches_the_message(nginx: NginxServer) -> None:
    url = f"http://monitor:url-pw-9@127.0.0.1:{nginx.port}/healthz"
    assert make_check("http", url=url).run(timeout=5).status is Status.OK
    nginx.kill()
    down = make_check("http", url=url).run(timeout=5)
    assert down.status is Status.CRITICAL
    assert down.message == f"connection refused: http://monitor:***@127.0.0.1:{nginx.port}/healthz"


def test_hanging_server_times_out_within_the_timeout(hanging_tcp: HangingTCPServer) -> None:
    started = time.monotonic()
    result = make_check("http", url=hanging_tcp.url).run(timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.status is Status.CRITICAL and result.timed_out
    assert "timeout after 0.5s" in result.message
    assert 0.5 <= elapsed < 1.0


def test_tls_handshake_that_never_comes_is_a_timeout(hanging_tcp: HangingTCPServer) -> None:
    result = make_check("http", url=f"https://127.0.0.1:{hanging_tcp.port}/healthz").run(timeout=0.3)
    assert result.status is Status.CRITICAL and result.timed_out
    assert result.message == f"timeout after 0.3s: https://127.0.0.1:{hanging_tcp.port}/healthz"


def test_slow_answer_warns_and_too_slow_is_a_timeout(make_slow_http: Callable[..., SlowHTTPServer]) -> None:
    server = make_slow_http(0.3)
    slow = make_check("http", url=server.url, slow="100ms").run(timeout=5)
    assert slow.status is Status.WARNING, slow.message
    assert slow.message.startswith("slow: 3") and "limit 100ms" in slow.message
    assert make_check("http", url=server.url, slow="2s").run(timeout=5).status is Status.OK
    assert make_check("http", url=server.url).run(timeout=0.1).status is Status.CRITICAL


@pytest.mark.parametrize(
    ("days", "status", "text"),
    [
        (90, Status.OK, "certificate valid"),
        (15, Status.WARNING, "TLS certificate expires in 15.0 days"),
        (3, Status.CRITICAL, "TLS certificate expires in 3.0 days"),
    ],
)
def test_certificate_expiry_levels_from_the_real_handshake(
    test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer], days: int, status: Status, text: str
) -> None:
    server = make_nginx(tls=test_ca.issue(f"expiring{days}", days=days))
    result = make_check("http", url=server.healthz_url, ca_file=str(test_ca.cert)).run(timeout=5)
    assert result.status is status, result.message
    assert text in result.message
    assert abs(result.measurements["cert_expiry_seconds"] - days * 86400) < 120


def test_expiry_is_read_even_without_verification(
    test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer]
) -> None:
    server = make_nginx(tls=test_ca.issue("noverify", days=3))
    result = make_check("http", url=server.healthz_url, verify_tls=False).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert "expires in 3.0 days" in result.message


def test_untrusted_or_wrong_host_certificate_is_critical(
    test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer]
) -> None:
    untrusted = make_nginx(tls=test_ca.issue("untrusted", days=90))
    result = make_check("http", url=untrusted.healthz_url).run(timeout=5)
    assert result.status is Status.CRITICAL
    assert "certificate" in result.message and "rejected" in result.message
    wrong_host = make_nginx(tls=test_ca.issue("elsewhere", days=90, hosts=("shop.example",)))
    mismatch = make_check("http", url=wrong_host.healthz_url, ca_file=str(test_ca.cert)).run(timeout=5)
    assert mismatch.status is Status.CRITICAL
    assert "mismatch" in mismatch.message.lower()


def test_self_signed_certificate_trusted_via_ca_file(tmp_path: Path, make_nginx: Callable[..., NginxServer]) -> None:
    cert = self_signed(tmp_path / "tls", "shop", days=60)
    server = make_nginx(tls=cert)
    result = make_check("http", url=server.healthz_url, ca_file=str(cert.cert), expect_body="ok").run(timeout=5)
    assert result.status is Status.OK, result.message


def test_headers_are_sent(make_nginx: Callable[..., NginxServer]) -> None:
    server = make_nginx(
        extra_server_config='location = /needs-key { if ($http_x_probe_key != "s3") { return 403; } return 200 "yes"; }'
    )
    url = f"{server.url}/needs-key"
    assert make_check("http", url=url).run(timeout=5).status is Status.CRITICAL
    assert make_check("http", url=url, headers={"X-Probe-Key": "s3"}).run(timeout=5).status is Status.OK


def test_config_problems_are_reported() -> None:
    assert "expected http://HOST" in config_problems("http", url="ftp://x/")
    assert "expect_status" in config_problems("http", url="http://x/", expect_status=["2x"])
    assert "invalid regular expression" in config_problems("http", url="http://x/", expect_body="/(/")
    assert "cert_warn_days" in config_problems("http", url="https://x/", cert_warn_days=3, cert_crit_days=7)
    assert "unknown key" in config_problems("http", url="http://x/", expect_code=200)


def test_https_server_down_or_hanging_is_critical_within_timeout(
    test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer], hanging_tcp: HangingTCPServer
) -> None:
    server = make_nginx(tls=test_ca.issue("down", days=90))
    server.kill()
    down = make_check("http", url=server.healthz_url, ca_file=str(test_ca.cert)).run(timeout=2)
    assert (down.status, down.message) == (Status.CRITICAL, f"connection refused: {server.healthz_url}")
    hung_url = f"https://127.0.0.1:{hanging_tcp.port}/healthz"
    started = time.monotonic()
    hung = make_check("http", url=hung_url, ca_file=str(test_ca.cert)).run(timeout=0.4)
    assert time.monotonic() - started < 0.9
    assert (hung.status, hung.message) == (Status.CRITICAL, f"timeout after 0.4s: {hung_url}")


def test_requests_name_the_watchdog_and_close_the_connection(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    url = server.answer("/healthz")
    assert make_check("http", url=url).run(timeout=5).status is Status.OK
    assert (
        make_check("http", url=url, headers={"user-agent": "probe/2", "Connection": "keep-alive"}).run(timeout=5).status
        is Status.OK
    )
    default, configured = (r.headers for r in server.received("/healthz"))
    assert (default["User-Agent"], default["Connection"]) == ("shop-watchdog", "close")
    assert (configured.get_all("User-Agent"), configured.get_all("Connection")) == (["probe/2"], ["close"])


def test_basic_auth_from_the_url_reaches_the_server_decoded_and_the_password_stays_hidden(
    make_recorder: MakeRecorder,
) -> None:
    server = make_recorder()
    server.answer("/private")
    url = f"http://shop%20monitor:p%40ss%3Aw0rd@127.0.0.1:{server.port}/private"
    assert make_check("http", url=url).run(timeout=5).status is Status.OK
    sent = server.received("/private")[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"shop monitor:p@ss:w0rd").decode()
    server.close_without_answer("/private")
    failed = make_check("http", url=url).run(timeout=5)
    assert failed.status is Status.CRITICAL
    assert (
        failed.message
        == f"server closed the connection without a response: http://shop%20monitor:***@127.0.0.1:{server.port}/private"
    )


def test_ten_redirects_are_followed_and_an_eleventh_is_critical(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    server.answer("/hop0", b"arrived")
    urls = [server.redirect(f"/hop{n}", f"/hop{n - 1}", status=(301, 302, 303, 307, 308)[n % 5]) for n in range(1, 12)]
    assert make_check("http", url=urls[9], expect_body="arrived").run(timeout=5).status is Status.OK
    too_many = make_check("http", url=urls[10]).run(timeout=5)
    assert (too_many.status, too_many.message) == (Status.CRITICAL, f"more than 10 redirects: {urls[10]}")


def test_credentials_follow_a_redirect_on_the_same_host_only(make_recorder: MakeRecorder) -> None:
    shop, elsewhere = make_recorder("127.0.0.1"), make_recorder("127.0.0.2")
    shop.answer("/home")
    shop.redirect("/same", "/home")
    shop.redirect("/away", elsewhere.url("/landing"))
    elsewhere.answer("/landing")
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=abc"}
    assert make_check("http", url=shop.url("/same"), headers=secrets).run(timeout=5).status is Status.OK
    assert make_check("http", url=shop.url("/away"), headers=secrets).run(timeout=5).status is Status.OK
    with_user = f"http://monitor:pw@127.0.0.1:{shop.port}/away"
    assert make_check("http", url=with_user).run(timeout=5).status is Status.OK
    followed = shop.received("/home")[0].headers
    assert (followed["Authorization"], followed["Cookie"]) == ("Bearer s3cret", "session=abc")
    assert shop.received("/away")[1].headers["Authorization"].startswith("Basic ")
    for landed in elsewhere.received("/landing"):
        assert (landed.headers["Authorization"], landed.headers["Cookie"]) == (None, None)


def test_post_continues_as_get_after_303_and_stays_post_after_307(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    server.answer("/done")
    see_other = server.redirect("/see-other", "/done", status=303)
    temporary = server.redirect("/temporary", "/done", status=307)
    assert make_check("http", url=see_other, method="POST").run(timeout=5).status is Status.OK
    assert make_check("http", url=temporary, method="POST").run(timeout=5).status is Status.OK
    assert [r.method for r in server.received("/done")] == ["GET", "POST"]
    assert server.received("/done")[0].headers["Content-Length"] is None


def test_chunked_body_is_matched_across_chunks(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    url = server.answer_chunked("/status", b"status: al", b"l systems ", b"go\n")
    assert make_check("http", url=url, expect_body="all systems go").run(timeout=5).status is Status.OK
    assert make_check("http", url=url, expect_body="/^status: all systems go$/m").run(timeout=5).status is Status.OK
    assert make_check("http", url=url, expect_body="no systems").run(timeout=5).status is Status.CRITICAL


def test_body_arriving_too_slowly_times_out_within_the_timeout(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    url = server.answer_chunked("/trickle", *[b"tick "] * 10, pause=0.2)
    started = time.monotonic()
    result = make_check("http", url=url, expect_body="tick").run(timeout=0.5)
    assert time.monotonic() - started < 0.9
    assert (result.status, result.message) == (Status.CRITICAL, f"timeout after 0.5s: {url}")


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_compressed_body_is_decoded_and_its_first_mebibyte_searched(
    make_recorder: MakeRecorder, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    server = make_recorder()
    small = server.answer("/small", compress(b"shop is open"), headers={"Content-Encoding": encoding})
    asked = {"Accept-Encoding": "gzip, deflate"}
    assert make_check("http", url=small, headers=asked, expect_body="shop is open").run(timeout=5).status is Status.OK
    assert server.received("/small")[0].headers.get_all("Accept-Encoding") == ["gzip, deflate"]
    huge = server.answer("/huge", compress(b"x" * 2 * MAX_BODY_BYTES + b"tail"), headers={"Content-Encoding": encoding})
    assert make_check("http", url=huge, headers=asked, expect_body="xxx").run(timeout=5).status is Status.OK
    assert make_check("http", url=huge, headers=asked, expect_body="tail").run(timeout=5).status is Status.CRITICAL


def test_only_the_first_mebibyte_of_the_body_is_searched(nginx: NginxServer) -> None:
    nginx.write_file("big.txt", "head " + "x" * MAX_BODY_BYTES + " tail")
    url = f"{nginx.url}/big.txt"
    assert make_check("http", url=url, expect_body="head").run(timeout=5).status is Status.OK
    assert make_check("http", url=url, expect_body="tail").run(timeout=5).status is Status.CRITICAL


def test_ipv6_loopback_url_works(make_recorder: MakeRecorder) -> None:
    server = make_recorder("::1")
    url = server.answer("/healthz")
    result = make_check("http", url=url, expect_body="ok").run(timeout=5)
    assert result.status is Status.OK, result.message
    assert server.received("/healthz")[0].headers["Host"] == f"[::1]:{server.port}"


def test_server_closing_without_an_answer_is_critical(make_recorder: MakeRecorder) -> None:
    server = make_recorder()
    url = server.close_without_answer("/healthz")
    result = make_check("http", url=url).run(timeout=5)
    assert (result.status, result.message) == (
        Status.CRITICAL,
        f"server closed the connection without a response: {url}",
    )


def test_untrusted_certificate_of_a_redirect_target_is_critical(
    test_ca: CertificateAuthority, make_nginx: Callable[..., NginxServer]
) -> None:
    secure = make_nginx(tls=test_ca.issue("redirect-target", days=90))
    plain = make_nginx(extra_server_config=f"location = /to-tls {{ return 302 {secure.healthz_url}; }}")
    url = f"{plain.url}/to-tls"
    rejected = make_check("http", url=url).run(timeout=5)
    assert rejected.status is Status.CRITICAL
    assert (
        rejected.message
        == f"TLS certificate of 127.0.0.1:{secure.port} rejected: unable to get local issuer certificate: {url}"
    )
    assert make_check("http", url=url, ca_file=str(test_ca.cert), expect_body="ok").run(timeout=5).status is Status.OK
