"""The REST client's HTTP transport: httpx2's own, with TLS set up only where it is spoken.

An ``httpx2.AsyncHTTPTransport`` loads the CA bundle into its TLS context when it is made
(about 20 ms of CPU), whatever the URLs it will serve. ``SchemeTransport`` makes one per URL
scheme instead, on first use (``RestClient.open`` prepares its base URL's): ``https`` exactly
as httpx2 would (the default verification, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured),
``http`` (a local proxy, a test double) without loading certificates, since no TLS happens
there.
"""

from __future__ import annotations

import ssl

import httpx2

__all__ = ["SchemeTransport"]


class SchemeTransport(httpx2.AsyncBaseTransport):
    """Routes each request to its scheme's ``httpx2.AsyncHTTPTransport``, made on first use."""

    def __init__(self, *, http2: bool = False, limits: httpx2.Limits | None = None) -> None:
        self._http2 = http2
        self._limits = limits if limits is not None else httpx2.Limits()
        self._transports: dict[str, httpx2.AsyncHTTPTransport] = {}

    def prepare(self, scheme: str) -> httpx2.AsyncHTTPTransport:
        """The transport for ``scheme`` (``"https"``, ``"http"``), made now if not yet."""
        transport = self._transports.get(scheme)
        if transport is None:
            verify: ssl.SSLContext | bool = True  # httpx2's default context: the CA bundle
            if scheme == "http":  # never wraps a socket: no certificates to load
                verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            transport = httpx2.AsyncHTTPTransport(
                verify=verify, http2=self._http2, limits=self._limits
            )
            self._transports[scheme] = transport
        return transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.prepare(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()
