"""Application services: what happens when an incident opens, changes, resolves, gets guidance or is published.

Each service is an outbox subscriber over ports (Protocols), standard library only; bot/ builds them and
registers chat platforms (services/platforms.py), and decides nothing itself.
"""
