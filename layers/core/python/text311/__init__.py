"""Text311 domain package: plain Python, no Lambda imports.

Adapters that talk to AWS live in ``text311.adapters`` and take their boto3 clients
from the caller, so every module here can be tested with moto or botocore stubs.
"""
