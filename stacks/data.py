"""DynamoDB tables derived from the pynamodb models in ``text311.adapters.dynamodb``.

Keys, attribute types, indexes and the TTL attribute come from the models themselves, so the
stack, the local run and the code can never disagree about a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from text311.adapters.dynamodb import TABLES, ttl_attribute

# Tables whose loss would lose residents' conversations, the cities' registration or their records
# (service requests, the audit trail): kept when the stack is deleted, and protected from deletion.
# The idempotency table only holds 7-day records.
RETAINED = frozenset(
    {
        "subscribers_table",
        "residents_table",
        "conversations_table",
        "messages_table",
        "requests_table",
        "audit_table",
    }
)

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


@dataclass(frozen=True)
class TableShape:
    partition: dynamodb.Attribute
    sort: dynamodb.Attribute | None
    ttl: str | None
    global_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_indexes: list[dict[str, Any]] = field(default_factory=list)


def _projection(index: dict[str, Any]) -> dict[str, Any]:
    projection = index.get("projection", {"ProjectionType": "ALL"})
    kind = dynamodb.ProjectionType[projection["ProjectionType"]]
    extra = {"non_key_attributes": projection["NonKeyAttributes"]} if "NonKeyAttributes" in projection else {}
    return {"projection_type": kind, **extra}


def table_shape(model: Any) -> TableShape:
    """The CDK attributes of a pynamodb model: keys, GSIs, LSIs, TTL."""
    schema = model._get_schema()
    types = {a["AttributeName"]: _TYPES[a["AttributeType"]] for a in schema["attribute_definitions"]}

    def key(key_schema: list[dict[str, str]], kind: str) -> dynamodb.Attribute | None:
        names = [k["AttributeName"] for k in key_schema if k["KeyType"] == kind]
        return dynamodb.Attribute(name=names[0], type=types[names[0]]) if names else None

    def index(spec: dict[str, Any], local: bool) -> dict[str, Any]:
        for definition in spec.get("attribute_definitions", []):
            types.setdefault(definition["AttributeName"], _TYPES[definition["AttributeType"]])
        keys = {"sort_key": key(spec["key_schema"], "RANGE")}
        if not local:
            keys["partition_key"] = key(spec["key_schema"], "HASH")
        return {"index_name": spec["index_name"], **keys, **_projection(spec)}

    partition = key(schema["key_schema"], "HASH")
    assert partition is not None, f"{model.__name__} has no hash key"
    return TableShape(
        partition=partition,
        sort=key(schema["key_schema"], "RANGE"),
        ttl=ttl_attribute(model),
        global_indexes=[index(i, local=False) for i in schema["global_secondary_indexes"]],
        local_indexes=[index(i, local=True) for i in schema["local_secondary_indexes"]],
    )


class Data(Construct):
    """One table per entry of ``TABLES``: on-demand, PITR, the region's CMK, TTL from the model."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for setting, model in TABLES.items():
            shape = table_shape(model)
            retained = setting in RETAINED
            table = dynamodb.Table(
                self,
                _construct_id(setting),
                partition_key=shape.partition,
                sort_key=shape.sort,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=shape.ttl,
                deletion_protection=retained,
                removal_policy=RemovalPolicy.RETAIN if retained else RemovalPolicy.DESTROY,
            )
            for gsi in shape.global_indexes:
                table.add_global_secondary_index(**gsi)
            for lsi in shape.local_indexes:
                table.add_local_secondary_index(**lsi)
            self.tables[setting] = table

    def environment(self) -> dict[str, str]:
        """``SUBSCRIBERS_TABLE`` … ``IDEMPOTENCY_TABLE`` → deployed table names."""
        return {setting.upper(): table.table_name for setting, table in self.tables.items()}


def _construct_id(setting: str) -> str:
    return "".join(part.title() for part in setting.removesuffix("_table").split("_")) + "Table"
