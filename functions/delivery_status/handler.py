"""Placeholder until the core service is wired in: parses nothing, logs the event shape."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from text311.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.info("event received", extra={"keys": sorted(event)})
    return {}
