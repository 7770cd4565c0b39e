"""Every httpx client of the process shares one verifying TLS context (built once, not per client)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from scraper import tls
from scraper.publish.download import HttpFetcher
from scraper.sources.arctic_shift import ArcticShiftClient


def _context_of(client: httpx.Client) -> Any:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_one_verifying_context_for_every_client() -> None:
    context = tls.context()
    assert context is tls.context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded
    fetcher = HttpFetcher("https://example.invalid/tree/")
    archive = ArcticShiftClient(base_url="https://example.invalid/api")
    try:
        assert _context_of(fetcher.client) is context
        assert _context_of(archive._http) is context
    finally:
        fetcher.client.close()
        archive.close()
