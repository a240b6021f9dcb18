"""The sales ledger: tasks handed to sales, their timelines and outcomes, the inbox's pages
and sign-in tokens, and what routing reads (owners' open load, the round-robin turn)."""

from engine.store.sales.tasks import SalesLedger, SalesTaskView

__all__ = ["SalesLedger", "SalesTaskView"]
