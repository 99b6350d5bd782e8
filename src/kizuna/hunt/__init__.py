"""Indicator hunting: join telemetry against keys derived from STIX patterns.

``kizuna.hunt.keys`` turns a parsed pattern into a :class:`KeyPlan` (equality keys that any
match must hit) and normalises telemetry values so that both sides meet in a join.
"""

from kizuna.hunt.keys import Key, KeyPlan, normalise, path_text, plan_keys, sco_keys

__all__ = ["Key", "KeyPlan", "normalise", "path_text", "plan_keys", "sco_keys"]
