"""``GET /v2/webhook_portal`` and the page its one-time link opens (Svix's app portal, in small).

The link carries a key that opens the page once; the page shows the endpoint and its signing
secret and takes a new endpoint (its form posts the key back, so only an opened link may).
"""

import html
import secrets

from aiohttp import web

from .api import V2Api
from .oauth import AccessToken
from .views import Views
from .webhooks import Webhooks

PAGE = "/_sim/webhook_portal"


class WebhookPortal:
    """The portal link endpoint and the portal page, for one simulator's webhooks."""

    def __init__(self, webhooks: Webhooks, v2: V2Api) -> None:
        """Configure ``webhooks``; the link endpoint has ``v2``'s token and rate-limit checks."""
        self.webhooks = webhooks
        self.v2 = v2
        self.opened: dict[str, bool] = {}  # issued key -> whether its link was opened

    def routes(self) -> list[web.RouteDef]:
        """Route table; the spec names no scope for the link."""
        return [
            self.v2._route("GET", "/webhook_portal", self.link),  # token and rate limit
            web.get(PAGE, self.open),
            web.post(PAGE, self.save),
        ]

    async def link(self, request: web.Request, _: AccessToken, __: Views) -> web.Response:
        """GET /v2/webhook_portal: ``{"url"}``, a link that opens the portal once."""
        key = secrets.token_urlsafe(16)
        self.opened[key] = False
        return web.json_response({"url": f"{request.url.origin()}{PAGE}?key={key}"})

    async def open(self, request: web.Request) -> web.Response:
        """GET the portal page with a link's key, which is then used up."""
        key = request.query.get("key", "")
        if self.opened.get(key) is not False:
            return _page("<p>This link has expired. Ask for a new one.</p>", 403)
        self.opened[key] = True
        return self._portal(key)

    async def save(self, request: web.Request) -> web.Response:
        """POST the form: set the endpoint (a blank secret gets a new one)."""
        form = await request.post()
        key = str(form.get("key", ""))
        if not self.opened.get(key):
            return _page("<p>This link has expired. Ask for a new one.</p>", 403)
        try:
            self.webhooks.configure(str(form.get("url", "")), str(form.get("secret", "")) or None)
        except ValueError as exc:
            return self._portal(key, f"Not saved: {exc}", 400)
        return self._portal(key, "Saved.")

    def _portal(self, key: str, notice: str = "", status: int = 200) -> web.Response:
        endpoint = self.webhooks.endpoint
        shown = (
            f"<p>Endpoint: <code>{html.escape(endpoint.url)}</code><br>"
            f"Signing secret: <code>{html.escape(endpoint.secret)}</code></p>"
            if endpoint
            else "<p>No endpoint yet.</p>"
        )
        return _page(
            (f"<p><strong>{html.escape(notice)}</strong></p>" if notice else "")
            + shown
            + f'<form method="post" action="{PAGE}">'
            f'<input type="hidden" name="key" value="{html.escape(key)}">'
            '<p><label>Endpoint URL <input name="url" type="url" required size="60"></label></p>'
            '<p><label>Signing secret (blank: a new one) <input name="secret" size="40"></label>'
            '</p><p><button type="submit">Save</button></p></form>',
            status,
        )


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=f"<!doctype html><title>Webhooks · ev.energy simulator</title><h1>Webhooks</h1>{body}",
        status=status,
        content_type="text/html",
    )
