from django.urls import path

from permanence.privacy import views

urlpatterns = [
    path("a/<slug:slug>/privacy/", views.retention, name="privacy"),
    path("a/<slug:slug>/privacy/holds/", views.hold_list, name="privacy_holds"),
    path("a/<slug:slug>/privacy/holds/<int:pk>/lift", views.hold_lift, name="privacy_hold_lift"),
    path("a/<slug:slug>/privacy/requests/", views.request_list, name="privacy_requests"),
    path("a/<slug:slug>/privacy/requests/<int:pk>/", views.request_detail, name="privacy_request"),
    path("a/<slug:slug>/privacy/requests/<int:pk>/export", views.request_export,
         name="privacy_request_export"),
    path("a/<slug:slug>/privacy/requests/<int:pk>/erase", views.request_erase, name="privacy_request_erase"),
    path("a/<slug:slug>/privacy/requests/<int:pk>/rectify", views.request_rectify,
         name="privacy_request_rectify"),
    # the operator's register, and the requests about every account
    path("privacy/", views.operator, name="privacy_operator"),
    path("privacy/requests/<int:pk>/", views.request_detail, name="privacy_request_all"),
    path("privacy/requests/<int:pk>/export", views.request_export, name="privacy_request_export_all"),
    path("privacy/requests/<int:pk>/erase", views.request_erase, name="privacy_request_erase_all"),
    path("privacy/requests/<int:pk>/rectify", views.request_rectify, name="privacy_request_rectify_all"),
]
