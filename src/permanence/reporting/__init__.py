"""Figures and reports: the KPI core (``kpis.py``); later the rollups, pages and exports (issue 7)."""
