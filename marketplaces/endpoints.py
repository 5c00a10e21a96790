"""Where the product may send a seller's credentials and fetch or put Amazon documents.

A channel's refresh token and the application's client secret go to its SP-API and Login with
Amazon endpoints, so those must be Amazon's own hosts, over https. Report and feed documents
live at pre-signed URLs Amazon hands out; they must be https and must not resolve to a private,
loopback or otherwise non-public address (a URL naming the local network would have the
worker fetch or post inside it).

The local simulator is none of these: ``AMAZON_ALLOW_SIMULATOR_HOSTS`` (on by default only
with ``DEBUG``) lets every endpoint and document URL through. The rules are checked where a
channel is validated (the model fields' validators) and again by the client just before it sends
anything (``marketplaces/amazon/client.py``), so a row changed behind the product's back sends
nothing either.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

# Amazon's three SP-API regions (North America, Europe, Far East).
SPAPI_HOSTS = frozenset(
    {
        "sellingpartnerapi-na.amazon.com",
        "sellingpartnerapi-eu.amazon.com",
        "sellingpartnerapi-fe.amazon.com",
    }
)
# Login with Amazon's token endpoint (https://api.amazon.com/auth/o2/token).
LWA_HOSTS = frozenset({"api.amazon.com"})


class UntrustedUrl(ValueError):
    """A URL the product refuses to send credentials or documents to (or fetch from)."""


def simulator_hosts_allowed() -> bool:
    return bool(getattr(settings, "AMAZON_ALLOW_SIMULATOR_HOSTS", False))


def _https_host(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        raise UntrustedUrl(f"The {what} must be an https URL, not {url!r}.")
    if parts.username or parts.password or parts.port not in (None, 443):
        raise UntrustedUrl(f"The {what} must name the host alone (no user, password or port).")
    return (parts.hostname or "").lower()


def _amazon_host(url: str, what: str, hosts: frozenset[str]) -> None:
    try:
        host = _https_host(url, what)
    except UntrustedUrl:
        host = ""
    if host not in hosts:
        allowed = ", ".join(f"https://{h}" for h in sorted(hosts))
        raise UntrustedUrl(f"The {what} must be one of Amazon's hosts ({allowed}), not {url!r}.")


def check_spapi_endpoint(url: str) -> None:
    """Amazon's SP-API hosts only (unless the simulator is allowed)."""
    if not simulator_hosts_allowed():
        _amazon_host(url, "SP-API endpoint", SPAPI_HOSTS)


def check_lwa_endpoint(url: str) -> None:
    """Login with Amazon's host only (unless the simulator is allowed)."""
    if not simulator_hosts_allowed():
        _amazon_host(url, "Login with Amazon endpoint", LWA_HOSTS)


def validate_spapi_endpoint(url: str) -> None:
    """The model field's validator (a channel's ``spapi_endpoint``)."""
    try:
        check_spapi_endpoint(url)
    except UntrustedUrl as untrusted:
        raise ValidationError(str(untrusted), code="untrusted_endpoint") from None


def validate_lwa_endpoint(url: str) -> None:
    """The model field's validator (a channel's ``lwa_endpoint``)."""
    try:
        check_lwa_endpoint(url)
    except UntrustedUrl as untrusted:
        raise ValidationError(str(untrusted), code="untrusted_endpoint") from None


def check_document_url(url: str) -> None:
    """https, and every address the host resolves to is a public one (unless the simulator is
    allowed). Amazon's document URLs are on S3, whose hosts vary, so no host list here."""
    if simulator_hosts_allowed():
        return
    host = _https_host(url, "document URL")
    if not host:
        raise UntrustedUrl("The document URL names no host.")
    try:
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        }
    except (socket.gaierror, UnicodeError):
        raise UntrustedUrl(f"The document host {host!r} does not resolve.") from None
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
        if not ip.is_global or ip.is_multicast:
            raise UntrustedUrl(
                f"The document host {host!r} resolves to a non-public address ({ip}); refused."
            )
