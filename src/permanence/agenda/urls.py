from django.urls import path

from permanence.agenda import views

urlpatterns = [
    path("agenda/feed/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("a/<slug:slug>/agenda/", views.agenda_week, name="agenda"),
    path("a/<slug:slug>/agenda/feed/<int:pk>", views.agenda_feed, name="agenda_feed"),
]
