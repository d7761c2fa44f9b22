"""Text311's CDK app: one stack per configured region (``config/regions.yaml``), one construct per concern.

``stacks.config`` imports no CDK module, so a bad config fails before jsii starts.
"""
