#!/usr/bin/env python3
"""Text311's CDK app: one stack ``Text311-<region>`` per entry of ``config/regions.yaml``, plus
``Text311-mail-<region>`` in ``mail_receiving_region`` for a region where SES cannot receive email.

The config is validated before any CDK object exists: a bad entry prints one line naming the file,
the entry and the field, and exits 2 (no jsii trace). ``TEXT311_CONFIG`` points at another file.
cdk-nag's AwsSolutions pack runs on every stack; set the context ``nag=false`` to skip it.
"""

from __future__ import annotations

import os
import sys

from stacks.config import ConfigError, load_config


def main() -> None:
    try:
        config = load_config()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

    # jsii's Node process reads these: Node 20 works, its end-of-life banner is noise here.
    for variable in (
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
    ):
        os.environ.setdefault(variable, "18,20")

    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from stacks.region_stack import build_stacks, create_app

    app = create_app()
    build_stacks(app, config)
    if str(app.node.try_get_context("nag")).lower() != "false":
        cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
