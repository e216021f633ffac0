from django.contrib import admin
from django.urls import include, path

from permanence import ops
from permanence.api.endpoints import api
from permanence.portal.admin_site import protect_admin

protect_admin(admin.site)

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("", include("permanence.portal.urls")),
    path("", include("permanence.scenarios.urls")),
    path("", include("permanence.desk.urls")),
    path("", include("permanence.calls.urls")),
    path("", include("permanence.messaging.urls")),
    path("", include("permanence.agenda.urls")),
    path("", include("permanence.reporting.urls")),
    path("", include("permanence.planning.urls")),
    path("", include("permanence.privacy.urls")),
    path("", include("permanence.billing.urls")),
]

handler403 = "permanence.portal.views._forbidden"
handler404 = "permanence.portal.views._not_found"
handler500 = "permanence.portal.views._server_error"
