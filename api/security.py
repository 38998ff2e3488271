"""Security headers added to every response, precomputed as raw ASGI header pairs."""

from __future__ import annotations

# JSON answers never need to load anything: the strictest policy.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# The docs pages run only scripts served by this service (no inline script, no eval).
# Inline *styles* are allowed: Swagger UI and ReDoc set style attributes and ReDoc injects
# <style> elements at run time; styles cannot run code. ReDoc's search runs in a blob: worker.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

# What a JSON answer needs (OWASP REST cheat sheet): no MIME sniffing, never framed. Each
# header costs the server time on every response, so document-only ones are not sent here.
API_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", API_CSP.encode()),
)
DOCS_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", DOCS_CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

# Pages that are HTML documents and need the docs policy.
DOCS_PAGES = frozenset({"/docs", "/redoc"})
