"""moto, with one RSA pair shared by its symmetric KMS keys (tests/moto_keys.py, installed for every test by
tests/conftest.py), still keeps every key's own material and gives asymmetric keys pairs of their own."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.kms import models

REGION = "ca-central-1"


def test_the_shared_pair_is_installed():
    assert getattr(models.generate_private_key, "_text311_shared", False)


def test_two_symmetric_keys_still_encrypt_with_their_own_material():
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        first, second = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
        blob = kms.encrypt(KeyId=first, Plaintext=b"+18195550123")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, KeyId=first)["Plaintext"] == b"+18195550123"
        with pytest.raises(ClientError):
            kms.decrypt(CiphertextBlob=blob, KeyId=second)


def test_asymmetric_keys_each_get_their_own_pair():
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        keys = [kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"] for _ in range(2)]
        public = {kms.get_public_key(KeyId=key)["PublicKey"] for key in keys}
        assert len(public) == 2
