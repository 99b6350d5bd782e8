"""Incident support channel (issue 6): incident reports on the NCSC scale, their timelines,
and the assistance channel between partner nodes, all as STIX objects in the store, so the
access module and federation carry them like everything else.

Modules: :mod:`extensions` (the declared STIX extensions), :mod:`model` (building and
checking the objects, status rules), :mod:`service` (the rules, no HTTP),
:mod:`assistance` (request state and SLA clocks), :mod:`notify` (duty-officer
notifications), :mod:`report` (timeline export), :mod:`models` (tables).
"""
