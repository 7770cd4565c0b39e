"""The one TLS context of the process, shared by every httpx client the tool opens.

``httpx.Client()`` builds a new ``ssl.SSLContext`` and loads certifi's CA bundle into
it each time: about 25 ms of CPU per client, for a context that is the same every
time.  A context is safe to share between clients and threads (each connection
wraps its own socket), so clients pass ``verify=context()`` instead; the context is
built once, by httpx's own rules (certifi's bundle, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` from the environment).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build for ``verify=True``, built once per process."""
    return httpx.create_ssl_context()
