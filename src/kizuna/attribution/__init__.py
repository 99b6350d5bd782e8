"""Joint attribution: agree, co-sign and publish attributions that anyone can verify.

``workflow`` (draft, review, approve, publish, withdraw, correct), ``keys`` (the node's
Ed25519 keys), ``jws`` and ``canonical`` (what a signature covers), ``verify`` (offline
verification of a published bundle), ``campaigns`` (deterrence campaign records).
"""
