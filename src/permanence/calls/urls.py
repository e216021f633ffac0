from django.urls import path

from permanence.calls import log_views, phone_views, supervision, voice_views

urlpatterns = [
    path("desk/phone/", phone_views.phone, name="phone"),
    path("desk/phone/credentials", phone_views.phone_credentials, name="phone_credentials"),
    path("desk/voicemails/<int:pk>/", voice_views.desk_voicemail, name="desk_voicemail"),
    path("desk/voicemails/<int:pk>/audio", voice_views.desk_voicemail_audio, name="desk_voicemail_audio"),
    path(
        "desk/voicemails/<int:pk>/message",
        voice_views.desk_voicemail_message,
        name="desk_voicemail_message",
    ),
    path(
        "desk/voicemails/<int:pk>/called-back",
        voice_views.desk_voicemail_called_back,
        name="desk_voicemail_called_back",
    ),
    path("a/<slug:slug>/calls/", log_views.call_log, name="account_calls"),
    path("a/<slug:slug>/voicemails/", voice_views.account_voicemails, name="account_voicemails"),
    path(
        "a/<slug:slug>/voicemails/<int:pk>/audio",
        voice_views.account_voicemail_audio,
        name="account_voicemail_audio",
    ),
    path("a/<slug:slug>/recordings/", voice_views.account_recordings, name="account_recordings"),
    path(
        "a/<slug:slug>/recordings/<int:pk>/audio",
        voice_views.account_recording_audio,
        name="account_recording_audio",
    ),
    path("a/<slug:slug>/prompts/", voice_views.account_prompts, name="account_prompts"),
    path("a/<slug:slug>/voice-menu/", voice_views.account_voice_menu, name="account_voice_menu"),
    path("a/<slug:slug>/prompts/preview", voice_views.account_prompt_preview, name="account_prompt_preview"),
    path(
        "a/<slug:slug>/prompts/<str:name>.wav", voice_views.account_prompt_audio, name="account_prompt_audio"
    ),
    path("supervision/", supervision.supervision, name="supervision"),
    path("supervision/calls/<int:pk>/supervise", supervision.supervise_call, name="supervise_call"),
]
