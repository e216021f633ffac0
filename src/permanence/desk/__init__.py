"""The secretary's desk: domain actions (``actions``: answer a step, book, transfer, hold, finish...) that
apply what the scenario engine asks for, and the thin pages that call them (``views``)."""
