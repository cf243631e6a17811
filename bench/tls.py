"""HTTPS for ``make bench``: a certificate made for the run, and what a TLS connection costs.

    python bench/tls.py [--requests 200]

``make_certificate`` writes a throwaway CA and a certificate for 127.0.0.1 signed by it (the
contenders trust the CA through ``SSL_CERT_FILE``, as a user would trust a private CA). The costs
are measured with blocking sockets, the one place Python's ``ssl`` lets a client offer a saved
session (``wrap_socket(session=...)``; asyncio's transports take no session, so an asyncio client,
ours and aiohttp alike, always makes a full handshake on a new connection): a GET /latest.json
on a new connection with a full handshake, on a new connection resuming the previous one's TLS
session, and on one connection reused. Client CPU (``time.process_time``) is given beside the
wall time: it does not depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST = b"GET /latest.json HTTP/1.1\r\nHost: 127.0.0.1\r\nApi-Key: bench-key\r\nApi-Username: system\r\n\r\n"


def make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate chain, server key), PEM files in ``directory``, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "discourse-async bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def _exchange(conn: ssl.SSLSocket) -> None:
    """One GET /latest.json on ``conn``, its answer read to the end of its body."""
    conn.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            raise ConnectionError("closed before the answer's head")
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    fields = (line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = next(int(value) for name, value in fields if name.strip().lower() == b"content-length")
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            raise ConnectionError("closed within the answer's body")
        body += piece


def connection_costs(port: int, ca_file: Path, requests: int) -> dict[str, dict[str, float]]:
    """Per request: milliseconds of wall time and of client CPU, for each way of getting a connection."""
    context = ssl.create_default_context(cafile=str(ca_file))
    address = ("127.0.0.1", port)

    def connect(session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        return context.wrap_socket(socket.create_connection(address), server_hostname="127.0.0.1", session=session)

    def new_connection(resume: bool) -> tuple[float, float, bool]:
        session: ssl.SSLSession | None = None
        if resume:  # a first connection for the session to resume
            with connect() as conn:
                _exchange(conn)
                session = conn.session
        resumed = 0
        wall = cpu = 0.0
        for _ in range(requests):
            start, start_cpu = time.perf_counter(), time.process_time()
            with connect(session if resume else None) as conn:
                _exchange(conn)  # TLS 1.3 sends its session tickets after the handshake: read them here
                resumed += conn.session_reused
                session = conn.session
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
        return wall, cpu, resumed == requests

    def reused() -> tuple[float, float, bool]:
        with connect() as conn:
            _exchange(conn)
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                _exchange(conn)
            return time.perf_counter() - start, time.process_time() - start_cpu, True

    ways = {
        "new connection, full handshake": lambda: new_connection(False),
        "new connection, TLS session resumed": lambda: new_connection(True),
        "one connection, reused": reused,
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    resumed_every_time = True
    for round_no in range(5):  # alternated, medians: the machine's speed drifts
        for name in ways if round_no % 2 == 0 else list(ways)[::-1]:
            wall, cpu, ok = ways[name]()
            samples[name].append((wall, cpu))
            if name == "new connection, TLS session resumed":
                resumed_every_time = resumed_every_time and ok
    result = {
        name: {
            "wall_ms": statistics.median(w for w, _ in got) / requests * 1000,
            "cpu_ms": statistics.median(c for _, c in got) / requests * 1000,
        }
        for name, got in samples.items()
    }
    result["new connection, TLS session resumed"]["resumed"] = float(resumed_every_time)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from run import server

    with tempfile.TemporaryDirectory() as tmp:
        ca_file, cert_file, key_file = make_certificate(Path(tmp))
        with server(tls=(cert_file, key_file)) as base:
            print(json.dumps(connection_costs(int(base.rsplit(":", 1)[1]), ca_file, args.requests), indent=1))


if __name__ == "__main__":
    main()
