"""The certificate a management engine presents, for the admin to confirm by fingerprint.

The node cannot know the engine's CA before it is registered, so the connection is made
without verifying anything: what matters is the SHA-256 fingerprint of what the server
sent, which the admin compares with the one the engine shows and accepts (or not).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl

from installer.commands import CommandFailed, run

from .console_backend import Certificate
from .errors import ValidationError


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as colon-separated upper-case hex pairs."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _names(der: bytes) -> tuple[str, str]:
    """Subject and issuer as RFC 2253 strings, read by openssl from the PEM on stdin."""
    pem = ssl.DER_cert_to_PEM_cert(der).encode("ascii")
    try:
        result = run(["openssl", "x509", "-noout", "-subject", "-issuer",
                      "-nameopt", "RFC2253"], input=pem, timeout=30)
    except CommandFailed as err:
        raise ValidationError(
            f"The server's certificate could not be read: {str(err).rstrip('.')}.") from None
    found = {}
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip().lower()] = value.strip()
    return found.get("subject", ""), found.get("issuer", "")


def _server_name(host: str) -> str | None:
    """The name to send for SNI: none for an IP address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the admin verifies the fingerprint instead
    return context


def fetch(host: str, port: int, timeout: float = 5.0) -> Certificate:
    """Connect to ``host:port`` with TLS and return the certificate it presents.

    Every way of not getting one (unknown name, refused, silent, not TLS) is a
    ``ValidationError`` with one sentence naming the server.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                _unverified_context().wrap_socket(
                    raw, server_hostname=_server_name(host)) as tls:
            der = tls.getpeercert(binary_form=True)
    except socket.gaierror:
        raise ValidationError(f"The name {host} could not be resolved: check the server "
                              "name and the node's DNS servers.") from None
    except ConnectionRefusedError:
        raise ValidationError(f"{where} refused the connection: check the port and that "
                              "the engine is running.") from None
    except (TimeoutError, socket.timeout):
        raise ValidationError(f"{where} did not answer within {timeout:g} s: check the "
                              "address and the node's network.") from None
    except (ssl.SSLError, ConnectionResetError):
        raise ValidationError(f"{where} did not complete a TLS handshake: give the engine's "
                              "HTTPS port (443 by default).") from None
    except OSError as err:
        reason = (err.strerror or str(err)).rstrip(".").lower()
        raise ValidationError(f"{where} could not be reached ({reason}): check the address "
                              "and the node's network.") from None
    if not der:
        raise ValidationError(f"{where} presented no certificate: give the engine's HTTPS "
                              "port (443 by default).")
    subject, issuer = _names(der)
    return Certificate(fingerprint=fingerprint(der), subject=subject, issuer=issuer)
