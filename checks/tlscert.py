"""The expiry date of a server's real certificate, read from a TLS handshake.

`ssl.getpeercert()` only decodes a certificate when verification is on, so the end of the
validity period is taken from the DER form directly: a minimal walk of the X.509
structure (Certificate -> tbsCertificate -> validity -> notAfter) that works the same
with and without verification and needs no third-party package.
"""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime


class CertificateFormatError(ValueError):
    """The peer's certificate is not the DER X.509 this parser understands."""


def _read_tlv(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`."""
    if pos + 2 > len(der):
        raise CertificateFormatError("truncated certificate")
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(der):
            raise CertificateFormatError("bad length in certificate")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > len(der):
        raise CertificateFormatError("truncated certificate")
    return tag, pos, pos + length


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    while start < end:
        item = _read_tlv(der, start)
        items.append(item)
        start = item[2]
    return items


def not_after(der: bytes) -> datetime:
    """The `notAfter` time (UTC) of a DER-encoded X.509 certificate."""
    _, cert_start, cert_end = _read_tlv(der, 0)
    _, tbs_start, tbs_end = _children(der, cert_start, cert_end)[0]
    fields = _children(der, tbs_start, tbs_end)
    # tbsCertificate: [0] version (optional), serial, signature, issuer, validity, ...
    offset = 1 if fields and fields[0][0] == 0xA0 else 0
    if len(fields) < offset + 4:
        raise CertificateFormatError("certificate without validity")
    _, v_start, v_end = fields[offset + 3]
    validity = _children(der, v_start, v_end)
    if len(validity) != 2:
        raise CertificateFormatError("bad validity in certificate")
    tag, start, end = validity[1]
    text = der[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise CertificateFormatError("bad notAfter time in certificate")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def peer_certificate_expiry(host: str, port: int, context: ssl.SSLContext, timeout: float) -> datetime:
    """notAfter of the certificate `host:port` presents in a handshake bounded by `timeout`.

    Raises OSError (refused, timeout) or ssl.SSLError (handshake or verification failed).
    """
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise CertificateFormatError("server sent no certificate")
    return not_after(der)
