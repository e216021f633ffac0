from django.urls import path

from permanence.desk import views

urlpatterns = [
    path("desk/", views.desk, name="desk"),
    path("desk/status", views.desk_status, name="desk_status"),
    path("desk/poll", views.desk_poll, name="desk_poll"),
    path("desk/training", views.desk_training, name="desk_training"),
    path("desk/callbacks/<int:pk>/done", views.desk_callback_done, name="desk_callback_done"),
    path("desk/calls/<int:pk>/", views.desk_call, name="desk_call"),
    path("desk/calls/<int:pk>/accept", views.desk_accept, name="desk_accept"),
    path("desk/calls/<int:pk>/transfer", views.desk_transfer, name="desk_transfer"),
    path("desk/calls/<int:pk>/finish", views.desk_finish, name="desk_finish"),
    path("desk/calls/<int:pk>/hold", views.desk_hold, name="desk_hold"),
    path("desk/calls/<int:pk>/remark", views.desk_remark, name="desk_remark"),
]
