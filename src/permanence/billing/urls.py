from django.urls import path

from permanence.billing import views

urlpatterns = [
    path("a/<slug:slug>/invoices/", views.invoice_list, name="invoices"),
    path("a/<slug:slug>/invoices/<int:pk>/", views.invoice_detail, name="invoice"),
    path("a/<slug:slug>/invoices/<int:pk>/lines/<int:position>/", views.invoice_line, name="invoice_line"),
    path("a/<slug:slug>/invoices/<int:pk>/excluded/", views.invoice_excluded, name="invoice_excluded"),
    path("a/<slug:slug>/invoices/<int:pk>/pdf", views.invoice_pdf, name="invoice_pdf"),
    path("a/<slug:slug>/invoices/<int:pk>/calls/<int:call>/dispute", views.dispute_call,
         name="invoice_dispute"),
    # the operator
    path("billing/", views.operator, name="billing"),
    path("billing/run", views.operator_run, name="billing_run"),
    path("billing/issue", views.operator_issue, name="billing_issue"),
    path("billing/export.csv", views.operator_csv, name="billing_csv"),
    path("billing/disputes/", views.disputes, name="billing_disputes"),
    path("billing/disputes/<int:pk>/decide", views.decide, name="billing_decide"),
]
