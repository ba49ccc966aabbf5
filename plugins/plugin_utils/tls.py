# Copyright (c) 2026, VisiQuate ccproxy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A self-signed certificate for one Mac's Traefik entrypoint, made on the controller.

Used by the tls_certificate action only, which runs on the controller (plugin_utils: never sent to
a Mac): ``cryptography`` is there, since ansible-core depends on it. The decision (``needs``) is pure; the
clock is an argument.
"""

from __future__ import annotations

import datetime
import ipaddress


def split_names(names):
    """(DNS names, IP addresses) of ``names``, in order, without repeats; IPs normalised."""
    dns, ips = [], []
    for name in names:
        try:
            address = str(ipaddress.ip_address(name))
        except ValueError:
            if name.lower() not in dns:
                dns.append(name.lower())
        else:
            if address not in ips:
                ips.append(address)
    return dns, ips


def describe(cert):
    """What a certificate says, as ``needs`` compares it: names (sorted), not_after, self-signed."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
        ips = [str(address) for address in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    not_after = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    if not_after is None:
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return {"names": sorted(dns) + sorted(ips), "not_after": not_after, "self_signed": cert.issuer == cert.subject}


def needs(current, names, now, renew_days):
    """Why a new certificate is needed (a sentence), or "" when the current one will do.

    ``current``: ``describe`` of the certificate there, or None; ``key_matches``: whether the key
    file holds its private key (a key without its certificate, or the reverse, is replaced too)."""
    if current is None:
        return "no certificate yet"
    if not current.get("key_matches", False):
        return "the key is missing or does not belong to the certificate"
    dns, ips = split_names(names)
    wanted = sorted(dns) + sorted(ips)
    if current["names"] != wanted:
        return "its names are %s, not %s" % (", ".join(current["names"]) or "none", ", ".join(wanted))
    if current["not_after"] - now < datetime.timedelta(days=renew_days):
        return "it expires on %s, within %d days" % (current["not_after"].date().isoformat(), renew_days)
    return ""


def make(names, days, now):
    """(certificate PEM, key PEM) of a new self-signed certificate for ``names``: an EC P-256 key,
    the first name as CN, every name in subjectAltName, for TLS servers only (not a CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    dns, ips = split_names(names)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns + ips)[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ccproxy")])
    san = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    public = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def read(cert_pem, key_pem):
    """``describe`` of the certificate in ``cert_pem`` with ``key_matches``; None without one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        return None
    current = describe(cert)
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        current["key_matches"] = False
    else:
        # The public keys' SubjectPublicKeyInfo: the same for every key type (EC, RSA, Ed25519).
        der, info = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        current["key_matches"] = key.public_key().public_bytes(der, info) == cert.public_key().public_bytes(der, info)
    return current


def given_pair_problem(cert_pem, key_pem, now, variables="ccproxy_traefik_tls"):
    """What keeps a given certificate and key from serving (a sentence naming the variable to fix),
    or "" when they will, or when neither is given (a self-signed certificate, then): Traefik
    would otherwise serve its own default certificate instead. ``variables`` is the prefix of the
    two variables that give them, ``<prefix>_cert`` and ``<prefix>_key``."""
    cert, key = variables + "_cert", variables + "_key"
    if not cert_pem and not key_pem:
        return ""
    if not cert_pem or not key_pem:
        return "%s and %s go together: give both, or neither for a self-signed certificate" % (cert, key)
    current = read(cert_pem, key_pem)
    if current is None:
        return ("%s is not a PEM certificate: give the text of the certificate file "
                "(-----BEGIN CERTIFICATE----- ...), not its path" % cert)
    if not current["key_matches"]:
        return ("%s is not the unencrypted PEM private key of %s: "
                "give the text of the key file that belongs to the certificate" % (key, cert))
    if current["not_after"] <= now:
        return "%s expired on %s: give a current certificate" % (cert, current["not_after"].date())
    return ""
