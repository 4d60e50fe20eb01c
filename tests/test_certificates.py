"""certificates.fetch against local servers: a TLS one with a self-signed certificate, and
the ways a server can fail to be one."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ovirt_node_setup import certificates
from ovirt_node_setup.errors import ValidationError


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cert")
    key, pem = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/O=Example Lab/CN=engine.example.test",
                    "-keyout", str(key), "-out", str(pem)], check=True, capture_output=True)
    return pem, key


def _serve(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server on 127.0.0.1 that handles connections until the test ends; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                handle(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture
def tls_port(cert: tuple[Path, Path]) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    yield from _serve(handle)


def test_fetch_shows_the_fingerprint_openssl_computes(cert: tuple[Path, Path],
                                                      tls_port: int) -> None:
    got = certificates.fetch("127.0.0.1", tls_port)
    out = subprocess.run(["openssl", "x509", "-in", str(cert[0]), "-noout", "-fingerprint",
                          "-sha256"], check=True, capture_output=True, text=True).stdout
    assert got.fingerprint == out.strip().split("=", 1)[1]
    assert got.subject == "CN=engine.example.test,O=Example Lab"
    assert got.issuer == got.subject  # self-signed


def test_fetch_by_name_sends_it(tls_port: int) -> None:
    assert certificates.fetch("localhost", tls_port).subject.startswith("CN=engine")


def test_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pytest.raises(ValidationError, match=rf"^127\.0\.0\.1:{port} refused the connection"):
        certificates.fetch("127.0.0.1", port)


def test_plain_tcp_is_not_tls() -> None:
    def handle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nnot tls here\r\n")

    server = _serve(handle)
    port = next(server)
    try:
        with pytest.raises(ValidationError, match="did not complete a TLS handshake"):
            certificates.fetch("127.0.0.1", port)
    finally:
        server.close()


def test_silent_server_times_out() -> None:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        while conn.recv(4096):  # reads the client's hello, never answers it
            pass

    server = _serve(handle)
    port = next(server)
    try:
        with pytest.raises(ValidationError, match=r"did not answer within 0\.3 s"):
            certificates.fetch("127.0.0.1", port, timeout=0.3)
    finally:
        server.close()


def test_unknown_name() -> None:
    with pytest.raises(ValidationError, match="could not be resolved"):
        certificates.fetch("no-such-engine.invalid", 443)


def test_fingerprint_format() -> None:
    shown = certificates.fingerprint(b"x")
    assert len(shown) == 95 and shown.count(":") == 31 and shown == shown.upper()
