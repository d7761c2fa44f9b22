"""moto, with its transactions rolled back item by item (tests/moto_transactions.py, installed for every test
by tests/conftest.py), still leaves a cancelled transaction's tables exactly as they were."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models

REGION = "ca-central-1"


def _tables(client) -> None:
    client.create_table(
        TableName="threads",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="counters",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _everything(client) -> dict[str, list[dict]]:
    return {
        name: sorted(client.scan(TableName=name)["Items"], key=repr) for name in ("threads", "counters")
    }


def test_the_rollback_by_item_is_installed():
    assert getattr(dynamodb_models.DynamoDBBackend, "_text311_item_rollback", False)


@pytest.mark.parametrize("failing_last", [True, False], ids=["changes-then-failure", "failure-then-changes"])
def test_a_cancelled_transaction_leaves_every_item_as_it_was(failing_last):
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _tables(client)
        client.put_item(TableName="threads", Item={"pk": {"S": "t1"}, "sk": {"S": "m1"}, "n": {"N": "1"},
                                                   "tags": {"SS": ["a"]}})
        client.put_item(TableName="threads", Item={"pk": {"S": "t1"}, "sk": {"S": "m2"}, "n": {"N": "2"}})
        client.put_item(TableName="counters", Item={"id": {"S": "c"}, "next": {"N": "1001"}})
        before = _everything(client)
        changes = [
            {"Update": {"TableName": "threads", "Key": {"pk": {"S": "t1"}, "sk": {"S": "m1"}},
                        "UpdateExpression": "SET n = n + :one ADD tags :b",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":b": {"SS": ["b"]}}}},
            {"Put": {"TableName": "threads", "Item": {"pk": {"S": "t2"}, "sk": {"S": "m1"}}}},
            {"Delete": {"TableName": "threads", "Key": {"pk": {"S": "t1"}, "sk": {"S": "m2"}}}},
            {"Update": {"TableName": "counters", "Key": {"id": {"S": "c"}}, "UpdateExpression": "SET #n = #n + :one",
                        "ExpressionAttributeNames": {"#n": "next"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": "counters", "Item": {"id": {"S": "new"}}}},
        ]
        failure = {"ConditionCheck": {"TableName": "counters", "Key": {"id": {"S": "absent"}},
                                      "ConditionExpression": "attribute_exists(id)"}}
        with pytest.raises(ClientError) as cancelled:
            client.transact_write_items(TransactItems=changes + [failure] if failing_last else [failure] + changes)
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert _everything(client) == before


def test_a_transaction_that_goes_through_changes_every_item_it_names():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _tables(client)
        client.put_item(TableName="counters", Item={"id": {"S": "c"}, "next": {"N": "1001"}})
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": "counters", "Key": {"id": {"S": "c"}}, "UpdateExpression": "SET #n = #n + :one",
                        "ExpressionAttributeNames": {"#n": "next"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": "threads", "Item": {"pk": {"S": "t1"}, "sk": {"S": "m1"}}}},
        ])
        assert client.get_item(TableName="counters", Key={"id": {"S": "c"}})["Item"]["next"] == {"N": "1002"}
        assert client.get_item(TableName="threads", Key={"pk": {"S": "t1"}, "sk": {"S": "m1"}})["Item"]
