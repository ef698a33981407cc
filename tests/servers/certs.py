"""Test TLS certificates from the openssl CLI: a private CA and server certificates it signs.

A leaf valid for a chosen number of days ("expires in 3 days" = `days=3`) lets the http
probe's expiry thresholds be tested against a real handshake; the CA file is what a probe
gets as `ca_file` so verification stays on. (The `cryptography` package is not installed
here, so the CLI it is.)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def _subject_alt_names(hosts: tuple[str, ...]) -> str:
    return ",".join(f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}" for h in hosts)


class CertificateAuthority:
    """A throw-away CA in `directory`; `issue()` makes server certificates signed by it."""

    def __init__(self, directory: Path, *, days: int = 3650) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.cert = directory / "ca.pem"
        self.key = directory / "ca.key"
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(self.key), "-out", str(self.cert), "-days", str(days),
            "-subj", "/CN=shop-watchdog test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip

    def issue(self, name: str, *, days: int, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> CertFiles:
        """A server certificate `name`.pem/.key valid from now for `days` days for `hosts`."""
        key = self.directory / f"{name}.key"
        csr = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.pem"
        ext = self.directory / f"{name}.ext"
        alt = _subject_alt_names(hosts)
        ext.write_text(f"subjectAltName={alt}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hosts[0]}",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-CAcreateserial", "-out", str(cert), "-days", str(days), "-extfile", str(ext),
        )  # fmt: skip
        return CertFiles(cert=cert, key=key)


def self_signed(
    directory: Path, name: str, *, days: int, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> CertFiles:
    """A self-signed server certificate (its own CA file) valid for `days` days."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / f"{name}.key"
    cert = directory / f"{name}.pem"
    alt = _subject_alt_names(hosts)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", f"/CN={hosts[0]}",
        "-addext", f"subjectAltName={alt}",
    )  # fmt: skip
    return CertFiles(cert=cert, key=key)
