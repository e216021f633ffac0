"""Workforce planning: staffing (Erlang C and A), later forecasts and the traffic simulator."""
