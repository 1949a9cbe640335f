"""Per event: what runs for every input.

The Destination (transform, process, explain), the per-settings state and its cache (settings),
look-ups (lookups), batching, the request's wire shape (wire) and the value helpers the generated
code calls (values). explain.py renders the traces that a traced compilation records.
"""
