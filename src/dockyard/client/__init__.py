"""Typed Engine-API client over a unix socket (used by the CLI and compose).

Kept import-light: the CLI's start-up time is benchmarked.
"""

from dockyard.client.api import MAX_API_VERSION, Client, encode_filters, negotiate, quote, urlencode
from dockyard.client.transport import DEFAULT_HOST, ConnectError, ProtocolError, resolve_host

__all__ = [
    "Client",
    "ConnectError",
    "DEFAULT_HOST",
    "MAX_API_VERSION",
    "ProtocolError",
    "encode_filters",
    "negotiate",
    "quote",
    "resolve_host",
    "urlencode",
]
