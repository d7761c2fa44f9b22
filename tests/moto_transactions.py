"""Let moto roll back a cancelled DynamoDB transaction by the items it names, not by copying whole tables.

moto 5.2's ``transact_write_items`` deep-copies every table a transaction names before it runs, so that it
can put the copies back if the transaction is cancelled. The copy grows with the table: in the soak
(tests/reliability/soak.py) a thread's mailed write, a transaction on the messages and conversations
tables, cost 15 ms per thousand items, and those copies were 16 % of the soak's time. A transaction
changes only the items it names, so saving those (at most 100) and putting them back on a cancellation
leaves the tables exactly as the whole-table copy did. Streams, which no Text311 table has, are not
rolled back here.

Proof that the rollback still holds: tests/unit/test_moto_transactions.py.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table

_ORIGINAL = dynamodb_models.DynamoDBBackend.transact_write_items


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    # Inside moto's transact_write_items, the backup of a table is the table itself: the items are
    # saved and restored by _rolled_back_by_item instead. Every other copy moto's module makes is real.
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    source = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(source, dict):
        return None
    key = {table.hash_key_attr: source.get(table.hash_key_attr)}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = source.get(table.range_key_attr)
    return key if all(value is not None for value in key.values()) else None


def _rolled_back_by_item(self: Any, transact_items: list[dict[str, Any]]) -> None:
    saved: list[tuple[Table, Any, Any, Any]] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        key = _key_of(table, op_type, op) if table is not None and op_type != "ConditionCheck" else None
        if key is None:
            continue  # moto refuses the transaction itself, before any change
        hash_value, range_value = self.get_keys_value(table, key)
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    try:
        _ORIGINAL(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(saved):
            _put_back(table, hash_value, range_value, item)
        raise


def _put_back(table: Table, hash_value: Any, range_value: Any, item: Any) -> None:
    """The item as it was before the transaction, or no item if there was none (the layout of
    moto's ``Table.items``: hash → item, or hash → range → item)."""
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    if item is not None:
        table.items.setdefault(hash_value, {})[range_value] = item
        return
    by_range = table.items.get(hash_value, {})
    by_range.pop(range_value, None)
    if not by_range:
        table.items.pop(hash_value, None)


def roll_back_transactions_by_item() -> None:
    """Install the item-wise rollback in moto's DynamoDB backend, once per process."""
    if getattr(dynamodb_models.DynamoDBBackend, "_text311_item_rollback", False):
        return
    dynamodb_models.copy = SimpleNamespace(deepcopy=_deepcopy_but_tables, copy=copy.copy)  # type: ignore[assignment]
    dynamodb_models.DynamoDBBackend.transact_write_items = _rolled_back_by_item  # type: ignore[method-assign]
    dynamodb_models.DynamoDBBackend._text311_item_rollback = True  # type: ignore[attr-defined]
