"""/docs (Swagger UI) and /redoc (ReDoc), with every asset served by this service.

No CDN: the pages work offline, behind a proxy and under a strict Content-Security-Policy.
The JavaScript and CSS come from the fastapi-offline package (Swagger UI 5, which renders
OpenAPI 3.1, and ReDoc 2); the pages and their start-up scripts are this package's own,
because FastAPI's built-in pages start Swagger UI with an inline script.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

VENDOR_URL = "static/docs"
OWN_URL = "static/app"
OWN_DIR = Path(__file__).resolve().parent.parent / "static"


def vendor_dir() -> Path:
    """Directory holding swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def _page(title: str, head: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f'<link rel="icon" type="image/png" href="{VENDOR_URL}/favicon.png">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """Add /docs, /redoc and the static mounts they load from."""
    # Relative URLs: the pages keep working when a proxy serves the app under a prefix.
    spec = html.escape(openapi_url.lstrip("/"))
    swagger = _page(
        f"{app.title} - Swagger UI",
        f'<link rel="stylesheet" href="{VENDOR_URL}/swagger-ui.css">\n',
        f'<div id="swagger-ui" data-openapi-url="{spec}"></div>\n'
        f'<script src="{VENDOR_URL}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{OWN_URL}/swagger-init.js"></script>\n',
    )
    redoc = _page(
        f"{app.title} - ReDoc",
        "",
        f'<div id="redoc" data-spec-url="{spec}"></div>\n'
        f'<script src="{VENDOR_URL}/redoc.standalone.js"></script>\n'
        f'<script src="{OWN_URL}/redoc-init.js"></script>\n',
    )
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @router.get("/redoc", response_class=HTMLResponse)
    async def redoc_ui() -> HTMLResponse:
        return HTMLResponse(redoc)

    app.include_router(router)
    app.mount(f"/{VENDOR_URL}", StaticFiles(directory=vendor_dir()), name="docs-vendor")
    app.mount(f"/{OWN_URL}", StaticFiles(directory=OWN_DIR), name="docs-app")
