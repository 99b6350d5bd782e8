"""Federation: node-to-node sync over standard TAXII 2.1.

`client` is a small, strict TAXII 2.1 client for talking to a peer (another kizuna node or
any TAXII 2.1 server); `secrets` seals the peer's credentials at rest under the node's
secret key. The sync engine builds on both.
"""
