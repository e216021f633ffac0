"""The API's browsable docs page at /api/v1/docs: Swagger UI from the vendored copy
(``static/vendor/swagger-ui``, its version and licence beside it), never a CDN, so that the page
works offline and tells no other host who reads it.

django-ninja's own page loads Swagger UI from a CDN unless ``ninja`` is an installed app; this
page renders its own template instead, with the same settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from ninja.openapi.docs import Swagger, _csrf_needed

if TYPE_CHECKING:
    from ninja import NinjaAPI

TEMPLATE = Path(__file__).resolve().parent / "templates" / "swagger.html"


class LocalSwagger(Swagger):
    default_settings = {
        "layout": "BaseLayout",
        "deepLinking": True,
        "validatorUrl": None,  # no badge fetched from the online validator
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        template = engines["django"].from_string(TEMPLATE.read_text(encoding="utf-8"))
        context = {"api": api, "swagger_settings": settings, "add_csrf": _csrf_needed(api)}
        return HttpResponse(template.render(context, request))
