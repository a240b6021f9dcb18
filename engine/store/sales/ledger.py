"""The sales ledger: everything the store keeps for the sales side, as one class."""

from __future__ import annotations

from engine.store.sales.inbox import SalesInbox
from engine.store.sales.routing import RoutingState
from engine.store.sales.tasks import SalesTaskLedger
from engine.store.sales.tokens import SignInTokens


class SalesLedger(SalesTaskLedger, SalesInbox, RoutingState, SignInTokens):
    """Sales tasks from opening to outcome, the inbox's pages and tokens, and the
    round-robin turn."""
