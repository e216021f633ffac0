from django.urls import path

from permanence.scenarios import views

urlpatterns = [
    path("a/<slug:slug>/scenarios/", views.scenario_list, name="scenarios"),
    path("a/<slug:slug>/scenarios/<int:pk>/", views.scenario_detail, name="scenario"),
    path("a/<slug:slug>/scenarios/<int:pk>/diff/", views.scenario_diff, name="scenario_diff"),
    path("a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/", views.scenario_version, name="scenario_version"),
    path(
        "a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/check", views.scenario_check, name="scenario_check"
    ),
    path("a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/test", views.scenario_test, name="scenario_test"),
    path("a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/replay", views.scenario_replay,
         name="scenario_replay"),
    path(
        "a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/print", views.scenario_print, name="scenario_print"
    ),
    path(
        "a/<slug:slug>/scenarios/<int:pk>/v/<int:number>/<slug:action>",
        views.scenario_action,
        name="scenario_action",
    ),
]
