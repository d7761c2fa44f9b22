"""create_tables (the local run's and the tests' tables, on moto): every table with its model's keys, indexes
and TTL, created once; a second call leaves what is there."""

from __future__ import annotations

import boto3
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import TABLES, create_tables, ttl_attribute

REGION = "ca-central-1"


def test_every_table_gets_its_models_keys_indexes_and_ttl_and_a_second_call_changes_nothing(aws_env, monkeypatch):
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        services.reset()
        services.tables_bound()
        create_tables()
        client = boto3.client("dynamodb", region_name=REGION)
        client.put_item(TableName=TABLES["limits_table"].Meta.table_name, Item={"key": {"S": "kept"}})

        create_tables()

        assert sorted(client.list_tables()["TableNames"]) == sorted(m.Meta.table_name for m in TABLES.values())
        for model in TABLES.values():
            table = client.describe_table(TableName=model.Meta.table_name)["Table"]
            schema = model._get_schema()
            assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
                (k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]
            }
            assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == {
                index["index_name"] for index in schema["global_secondary_indexes"]
            }
            assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
            ttl = client.describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
            wanted = ttl_attribute(model)
            assert (ttl.get("AttributeName"), ttl["TimeToLiveStatus"] == "ENABLED") == (wanted, wanted is not None)
        assert client.scan(TableName=TABLES["limits_table"].Meta.table_name)["Count"] == 1
    services.reset()
