from django.urls import path

from permanence.planning import views

urlpatterns = [
    path("planning/", views.staffing, name="staffing"),
]
