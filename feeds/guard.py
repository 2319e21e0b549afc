"""Refusing moderator-supplied feed URLs that point inside our own network.

A moderator can type any URL into ``/postings source add``; without a check the bot would
fetch ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:6379`` or a router's
admin page on their behalf and report what came back. So such URLs must be http(s), and
every address their host resolves to must be public, at add time and again at every fetch
and redirect (DNS can change). ``CAREERBOT_ALLOW_PRIVATE_FEEDS=1`` lifts the address rule
for tests and for people who really run a feed on their own machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UrlRefused(Exception):
    """The URL may not be fetched; the message says why in words a moderator understands."""


def check_shape(url: str) -> str:
    """Scheme and host only (no DNS): returns the URL stripped, or raises UrlRefused."""
    url = url.strip().strip("<>")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRefused("only http:// and https:// URLs can be polled")
    if not parts.hostname:
        raise UrlRefused("the URL has no host name")
    if parts.username or parts.password:
        raise UrlRefused("URLs with a user name or password are not accepted (anyone could read them in the source list)")
    if len(url) > 2000:
        raise UrlRefused("the URL is over 2000 characters")
    return url


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def check_url(url: str, allow_private: bool) -> str:
    """Shape, then every resolved address public (unless allowed); raises UrlRefused."""
    url = check_shape(url)
    if allow_private:
        return url
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise UrlRefused(f"the host {host[:80]} cannot be found") from None
        addresses = sorted({info[4][0] for info in infos})
    private = [a for a in addresses if not is_public(a)]
    if private:
        raise UrlRefused(f"{host[:80]} is a private, loopback or link-local address ({private[0]}); only public feeds can be polled")
    return url
