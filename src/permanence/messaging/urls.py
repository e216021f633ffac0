from django.urls import path

from permanence.messaging import app_views, views

urlpatterns = [
    path("app/", app_views.home, name="app_home"),
    path("app/manifest.webmanifest", app_views.manifest, name="app_manifest"),
    path("app/sw.js", app_views.service_worker, name="app_service_worker"),
    path("app/push/subscribe", app_views.subscribe, name="app_push_subscribe"),
    path("app/push/unsubscribe", app_views.unsubscribe, name="app_push_unsubscribe"),
    path("ack/<str:token>/", views.message_ack, name="message_ack"),
    path("hooks/sms/twilio/<uuid:key>/", views.twilio_status, name="sms_status_twilio"),
    path("hooks/sms/twilio/inbound/", views.sms_inbound_twilio, name="sms_inbound_twilio"),
    path("hooks/sms/inbound/", views.sms_inbound, name="sms_inbound"),
    path("messages/failed/", views.failed_messages, name="failed_messages"),
    path("a/<slug:slug>/messages/", views.message_list, name="messages"),
    path("a/<slug:slug>/messages/<int:pk>/resend", views.message_resend, name="message_resend"),
    path("a/<slug:slug>/messages/<int:pk>/flag", views.message_flag, name="message_flag"),
    path("a/<slug:slug>/messages/<int:pk>/sensitive/", views.message_sensitive, name="message_sensitive"),
    path(
        "a/<slug:slug>/messages/<int:pk>/acknowledge", views.message_acknowledge, name="message_acknowledge"
    ),
    path("a/<slug:slug>/messages/settings/", views.message_settings, name="message_settings"),
    path(
        "a/<slug:slug>/messages/settings/people/<int:pk>",
        views.person_preferences,
        name="message_person_preferences",
    ),
    path("a/<slug:slug>/messages/settings/escalation", views.escalation_settings, name="message_escalation"),
]
