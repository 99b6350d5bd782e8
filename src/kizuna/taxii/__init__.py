"""TAXII 2.1: endpoints, media types, paging cursors and status resources."""
