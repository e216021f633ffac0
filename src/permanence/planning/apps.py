from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "permanence.planning"
    label = "planning"
    verbose_name = "Planning"
