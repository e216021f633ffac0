from django.urls import path

from permanence.reporting import views

urlpatterns = [
    path("reports/", views.overview, name="reports"),
    path("a/<slug:slug>/reports/", views.account_report, name="account_report"),
    path("a/<slug:slug>/reports/monthly.pdf", views.monthly_pdf, name="monthly_report"),
]
