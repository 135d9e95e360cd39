"""Headers on every response of the dashboard's server: no framing by other pages (an
operator tricked into clicking Cancel inside someone else's page), no MIME sniffing, and no
run ids leaking to other sites in the Referer."""

from __future__ import annotations

from tornado.httputil import HTTPHeaders
from tornado.web import OutputTransform

#: Bokeh's pages need inline and evaluated script, so the policy restricts what it can
#: without breaking them: framing, plugins, the base URL and where forms post
PAGE_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders(OutputTransform):
    """A Tornado output transform (``Application(transforms=[...])``) adding ``HEADERS``
    to every response that does not set them itself."""

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        return status_code, headers, chunk
