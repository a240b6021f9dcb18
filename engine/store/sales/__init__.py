"""The sales ledger: tasks handed to sales, their timelines and outcomes, the inbox's pages
and sign-in tokens, and what routing reads (owners' open load, the round-robin turn).

`SalesLedger` is the part of `Store` that keeps them, one module per concept: `tasks`
(opening and changing a task), `inbox` (pages of tasks with their leads), `routing` (open
load and the turn) and `tokens` (sign-in tokens).
"""

from engine.store.sales.inbox import SalesTaskView
from engine.store.sales.ledger import SalesLedger

__all__ = ["SalesLedger", "SalesTaskView"]
