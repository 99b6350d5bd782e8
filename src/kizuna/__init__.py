"""kizuna: sovereign nodes that share STIX 2.1 over TAXII 2.1 under TLP 2.0."""

__version__ = "0.1.0"
