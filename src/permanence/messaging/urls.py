from django.urls import path

from permanence.messaging import views

urlpatterns = [
    path("ack/<str:token>/", views.message_ack, name="message_ack"),
    path("a/<slug:slug>/messages/", views.message_list, name="messages"),
    path("a/<slug:slug>/messages/<int:pk>/resend", views.message_resend, name="message_resend"),
    path(
        "a/<slug:slug>/messages/<int:pk>/acknowledge", views.message_acknowledge, name="message_acknowledge"
    ),
]
