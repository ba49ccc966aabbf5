# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/tls.py: when a host's self-signed certificate is kept or made again, and what a
made one holds (read back with the same code, and checked by Python's own TLS verification)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading

import pytest

from ansible_collections.visiquate.ccproxy.plugins.plugin_utils import tls

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
NAMES = ["mac-mini-1.example.internal", "198.18.0.11"]


@pytest.fixture(scope="module")
def made():
    return tls.make(NAMES, 825, NOW)


@pytest.fixture(scope="module")
def live():
    """Made now: valid for a real handshake."""
    return tls.make(NAMES, 825, datetime.datetime.now(datetime.timezone.utc))


def current(names=("mac-mini-1.example.internal", "198.18.0.11"), days_left=400, key_matches=True):
    return {"names": list(names), "not_after": NOW + datetime.timedelta(days=days_left), "self_signed": True,
            "key_matches": key_matches}


@pytest.mark.parametrize("case, there, names, reason", [
    ("nothing there", None, NAMES, "no certificate yet"),
    ("kept", current(), NAMES, ""),
    ("order, case and repeats do not matter", current(),
     ["198.18.0.11", "MAC-MINI-1.example.internal", "198.18.0.11"], ""),
    ("a name more", current(), NAMES + ["mac-mini-1"],
     "its names are mac-mini-1.example.internal, 198.18.0.11, not mac-mini-1, mac-mini-1.example.internal, "
     "198.18.0.11"),
    ("an address changed", current(), ["mac-mini-1.example.internal", "198.18.0.12"],
     "its names are mac-mini-1.example.internal, 198.18.0.11, not mac-mini-1.example.internal, 198.18.0.12"),
    ("expires within renew_days", current(days_left=29), NAMES, "it expires on 2026-12-26, within 30 days"),
    ("expires just after renew_days", current(days_left=31), NAMES, ""),
    ("a key of another certificate", current(key_matches=False), NAMES,
     "the key is missing or does not belong to the certificate"),
])
def test_needs(case, there, names, reason):
    assert tls.needs(there, names, NOW, 30) == reason, case


def test_a_made_certificate_reads_back_as_kept(made):
    cert_pem, key_pem = made
    read = tls.read(cert_pem, key_pem)
    assert read["names"] == ["mac-mini-1.example.internal", "198.18.0.11"]
    assert read["key_matches"] and read["self_signed"]
    assert read["not_after"] == NOW + datetime.timedelta(days=825)
    assert tls.needs(read, NAMES, NOW, 30) == ""
    assert "PRIVATE KEY" in key_pem and "PRIVATE KEY" not in cert_pem


def test_another_key_or_garbage_is_not_kept(made):
    cert_pem, _key = made
    _other_cert, other_key = tls.make(NAMES, 825, NOW)
    assert tls.read(cert_pem, other_key)["key_matches"] is False
    assert tls.read(cert_pem, "")["key_matches"] is False
    assert tls.read("", "") is None
    assert tls.read("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n", "") is None


def handshake(cert_pem, key_pem, tmp_path, name, trusted=None):
    """A TLS handshake with a server on 127.0.0.1 that serves the certificate, from a client that
    trusts only ``trusted`` (by default the certificate itself) with Python 3.13's strict checks,
    for ``name``: None, or the client's verification error."""
    (tmp_path / "cert.pem").write_text(cert_pem)
    (tmp_path / "key.pem").write_text(key_pem)
    (tmp_path / "trusted.pem").write_text(trusted or cert_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cafile=str(tmp_path / "trusted.pem"))
    client_context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve():
            try:
                connection, _address = listener.accept()
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except OSError:  # ssl.SSLError too: the client may refuse the certificate
                pass

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with client_context.wrap_socket(raw, server_hostname=name):
                    return None
        except ssl.SSLCertVerificationError as exc:
            return exc.verify_message
        finally:
            server.join(10)


@pytest.mark.parametrize("name", NAMES)
def test_a_client_trusting_it_connects_by_each_name(live, tmp_path, name):
    assert handshake(*live, tmp_path, name) is None


@pytest.mark.parametrize("name", ["mac-mini-2.example.internal", "198.18.0.12"])
def test_a_client_trusting_it_refuses_it_for_another_name(live, tmp_path, name):
    assert "mismatch" in handshake(*live, tmp_path, name)


def test_a_client_trusting_another_host_s_certificate_refuses_it(live, tmp_path):
    other_cert, _other_key = tls.make(NAMES, 825, datetime.datetime.now(datetime.timezone.utc))
    assert handshake(*live, tmp_path, NAMES[0], trusted=other_cert) == "self-signed certificate"


def rsa_pair():
    """A CA-signed style RSA pair, as a user may give one (not what tls.make makes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mac1.lan")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=90)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode())


@pytest.mark.parametrize("case, given, problem", [
    ("a pair made here", lambda made: made, ""),
    ("neither: a self-signed certificate is made", lambda made: ("", ""), ""),
    ("a certificate without its key", lambda made: (made[0], ""),
     "ccproxy_traefik_tls_cert and ccproxy_traefik_tls_key go together: give both, or neither for a "
     "self-signed certificate"),
    ("a key without its certificate", lambda made: ("", made[1]),
     "ccproxy_traefik_tls_cert and ccproxy_traefik_tls_key go together: give both, or neither for a "
     "self-signed certificate"),
    ("an RSA pair", lambda made: rsa_pair(), ""),
    ("a path instead of the certificate", lambda made: ("/etc/ssl/mac1.crt", made[1]),
     "ccproxy_traefik_tls_cert is not a PEM certificate: give the text of the certificate file "
     "(-----BEGIN CERTIFICATE----- ...), not its path"),
    ("the key of another certificate", lambda made: (made[0], rsa_pair()[1]),
     "ccproxy_traefik_tls_key is not the unencrypted PEM private key of ccproxy_traefik_tls_cert: "
     "give the text of the key file that belongs to the certificate"),
    ("the certificate given as its key", lambda made: (made[0], made[0]),
     "ccproxy_traefik_tls_key is not the unencrypted PEM private key of ccproxy_traefik_tls_cert: "
     "give the text of the key file that belongs to the certificate"),
])
def test_given_pair_problem(made, case, given, problem):
    assert tls.given_pair_problem(*given(made), NOW + datetime.timedelta(days=1)) == problem, case


def test_given_pair_problem_names_an_expired_certificate(made):
    assert tls.given_pair_problem(*made, NOW + datetime.timedelta(days=826)) == (
        "ccproxy_traefik_tls_cert expired on 2029-03-01: give a current certificate")


def test_given_pair_problem_names_the_variables_it_is_given():
    assert tls.given_pair_problem("/etc/ssl/gw.crt", "x", NOW, "ccproxy_gateway_tls") == (
        "ccproxy_gateway_tls_cert is not a PEM certificate: give the text of the certificate file "
        "(-----BEGIN CERTIFICATE----- ...), not its path")
