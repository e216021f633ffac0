from django.urls import path

from permanence.agenda import views

urlpatterns = [
    path("agenda/feed/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("a/<slug:slug>/agenda/", views.agenda_week, name="agenda"),
    path("a/<slug:slug>/agenda/feed/<int:pk>", views.agenda_feed, name="agenda_feed"),
    path("a/<slug:slug>/agenda/calendar/<int:pk>", views.agenda_calendar, name="agenda_calendar"),
    path("a/<slug:slug>/agenda/issues/<int:pk>/seen", views.agenda_issue_seen, name="agenda_issue_seen"),
    path("a/<slug:slug>/agenda/settings/", views.agenda_settings, name="agenda_settings"),
    path("a/<slug:slug>/agenda/types/new", views.agenda_type, name="agenda_type_new"),
    path("a/<slug:slug>/agenda/types/<int:pk>", views.agenda_type, name="agenda_type"),
    path("a/<slug:slug>/agenda/hours/<int:pk>", views.agenda_hours, name="agenda_hours"),
    path(
        "a/<slug:slug>/agenda/hours/<int:pk>/exceptions/<int:exception>/delete",
        views.agenda_exception_delete,
        name="agenda_exception_delete",
    ),
]
