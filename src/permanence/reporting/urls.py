from django.urls import path

from permanence.reporting import review_views, views

urlpatterns = [
    path("reports/", views.overview, name="reports"),
    path("reports/reviews/", review_views.review_list, name="reviews"),
    path("reports/reviews/<int:pk>/", review_views.review_call, name="review_call"),
    path("a/<slug:slug>/reports/", views.account_report, name="account_report"),
    path("a/<slug:slug>/reports/monthly.pdf", views.monthly_pdf, name="monthly_report"),
]
