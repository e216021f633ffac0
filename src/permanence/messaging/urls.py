from django.urls import path

from permanence.messaging import views

urlpatterns = [
    path("ack/<str:token>/", views.message_ack, name="message_ack"),
]
