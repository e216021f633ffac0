from django.urls import path

from permanence.agenda import views

urlpatterns = [
    path("agenda/feed/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
