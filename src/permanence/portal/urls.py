from django.contrib.auth.views import LogoutView
from django.urls import path

from permanence.portal import self_service, views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/verify/", views.verify_second_factor, name="verify_second_factor"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("security/two-factor/", views.two_factor, name="two_factor"),
    path("", views.home, name="home"),
    path("a/<slug:slug>/", views.account_detail, name="account"),
    path("a/<slug:slug>/contacts/", views.contact_list, name="contacts"),
    path("a/<slug:slug>/contacts/<int:pk>/", views.contact_detail, name="contact"),
    path("a/<slug:slug>/contacts/import/", views.contact_import, name="contact_import"),
    path("a/<slug:slug>/contacts/export.csv", views.contact_export, name="contact_export"),
    path("a/<slug:slug>/identify/", views.identify_caller, name="identify"),
    path("a/<slug:slug>/audit/", views.audit_log, name="audit"),
    path("a/<slug:slug>/instructions/", self_service.instructions, name="account_instructions"),
    path("a/<slug:slug>/instructions/<int:pk>/", self_service.instruction_detail, name="account_instruction"),
    path("a/<slug:slug>/instructions/<int:pk>/withdraw", self_service.instruction_withdraw,
         name="account_instruction_withdraw"),
    path("a/<slug:slug>/absences/", self_service.absences, name="account_absences"),
    path("a/<slug:slug>/absences/<int:pk>/end", self_service.absence_end, name="account_absence_end"),
    path("a/<slug:slug>/on-call/", self_service.on_call, name="account_on_call"),
    path("a/<slug:slug>/hours/", self_service.opening_hours, name="account_hours"),
    path("a/<slug:slug>/api-keys/", self_service.api_keys, name="account_api_keys"),
    path("a/<slug:slug>/api-keys/<int:pk>/revoke", self_service.api_key_revoke,
         name="account_api_key_revoke"),
    path("a/<slug:slug>/hours/exceptions/<int:pk>/remove", self_service.hours_exception_remove,
         name="account_hours_exception_remove"),
    path("a/<slug:slug>/on-call/swaps/<int:pk>/remove", self_service.on_call_swap_remove,
         name="account_on_call_swap_remove"),
]
