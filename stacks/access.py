"""What each function may do with each table (exactly the DynamoDB actions its code path makes) and
with a queue it consumes.

Each set below was read from the handler's code path (handler → ``text311.services`` factory → core
→ pynamodb model or boto3 client call) and checked against the calls the handler makes in its unit
tests under moto. pynamodb ``get``/``refresh`` is GetItem, ``query`` Query, ``save`` PutItem, ``update``
UpdateItem; a ``TransactWrite`` is authorised per item (its ``save``/``update`` need PutItem/UpdateItem on
that item's table, there is no separate transaction action). docs/infrastructure.md ("Least privilege")
lists the same mapping with the code behind each action.

A statement names the table's ARN, and an index's ARN only where the code queries that index. The data
key comes separately, through DynamoDB only (``Security.grant_data_key``): ``table.grant`` adds no key
grant, unlike CDK's ``grant_read_write_data``.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from stacks.security import DECRYPT, READ_KEY, WRITE_KEY, Security

# What CDK's grant_consume_messages gives, without its key grant.
CONSUME = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
           "sqs:GetQueueAttributes")

# table setting → DynamoDB actions; "<setting>/index/<name>" → actions on that index.
TableAccess = dict[str, tuple[str, ...]]

DELIVERY_STATUS: TableAccess = {
    # text311/delivery.py: the message the event names, its status moved once (conditional update)
    "messages_table": ("GetItem", "UpdateItem"),
    # a failure notice: the thread (ConversationStore.get) and the city (SubscriberRepository.get)
    "conversations_table": ("GetItem",),
    "subscribers_table": ("GetItem",),
    # the drainer's ledger: TableLedger.get, and settle() of a part recorded in doubt
    "idempotency_table": ("GetItem", "UpdateItem"),
}

SMS_DRAINER: TableAccess = {
    # TableLedger claim/get/finish/release, Lease acquire/renew/release, StatusBoard.write
    "idempotency_table": ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
    # AnswerService.answer_sent/answer_failed: the answer's record, its status set once; the
    # "answered by" note of a second agent (ConversationStore.claim_message: conditional put, get)
    "messages_table": ("GetItem", "PutItem", "UpdateItem"),
    # the thread (get, refresh after a lost owner race), first response, owner, resident_opted_out
    "conversations_table": ("GetItem", "UpdateItem"),
    # ConversationStore.mark_opted_out: an SMS refused as opted out
    "residents_table": ("UpdateItem",),
    # the city whose agent is told (services.subscribers, cached)
    "subscribers_table": ("GetItem",),
}

CONSOLE_API: TableAccess = {
    # ConsoleService: a thread by key (get), claim/assign/close/reopen, an answer's opted-out flag
    "conversations_table": ("GetItem", "UpdateItem"),
    # the inbox, its search and the supervisor's stats (ConversationModel.by_activity.query, an LSI)
    "conversations_table/index/by-activity": ("Query",),
    # the resident's earlier conversations beside a thread (by_resident.query, filtered to the city)
    "conversations_table/index/by-resident": ("Query",),
    # the thread's messages (query), an answer or a note recorded once (put, get), its status (update)
    "messages_table": ("GetItem", "PutItem", "Query", "UpdateItem"),
    # the resident's opt-out read before an answer, mark_opted_out after a refused SMS
    "residents_table": ("GetItem", "UpdateItem"),
    # the city (get); a supervisor's settings (text311.city_settings, text311.agents: roster and allow-list,
    # canned answers, hours, target), each one conditional UpdateItem
    "subscribers_table": ("GetItem", "UpdateItem"),
    # CityOutboundLimiter.allow_outbound: one TransactWriteItems of two conditional updates
    "limits_table": ("UpdateItem",),
    # Powertools idempotency of the answer (get/put/update/delete its record), the drainer's status item
    "idempotency_table": ("DeleteItem", "GetItem", "PutItem", "UpdateItem"),
    # text311.audit: an entry per action (conditional put); the CSV export (Query of the city's
    # partition) and a thread's history (the by-conversation index)
    "audit_table": ("PutItem", "Query"),
    "audit_table/index/by-conversation": ("Query",),
    # text311.console_requests through RequestCommands (as #request/#status): a filing's TransactWriteItems
    # (counter update, request and claim puts), a status change (update, or update and claim put), a
    # click's audit claimed once (put), a request, claim or counter read (get); the city's list and
    # export (by-requested), a thread's requests (by-conversation); the search by reference (get)
    "requests_table": ("GetItem", "PutItem", "UpdateItem"),
    "requests_table/index/by-requested": ("Query",),
    "requests_table/index/by-conversation": ("Query",),
}

RESPONSE_TARGETS: TableAccess = {
    # text311.response_targets: the cities with a target (a filtered Scan of the small table), each
    # city's record (services.subscribers, GetItem)
    "subscribers_table": ("GetItem", "Scan"),
    # a city's waiting conversations (by-activity, an LSI), each breach claimed or given back (update)
    "conversations_table": ("UpdateItem",),
    "conversations_table/index/by-activity": ("Query",),
}

MAIL_EVENTS: TableAccess = {
    # ConversationStore.confirm_mailed: one conditional update; text311.mail_feedback: the thread of a
    # bounced text (ConversationStore.get: its resident's number and language)
    "conversations_table": ("GetItem", "UpdateItem"),
    # ConversationStore.mark_mail_status: the text found by one Query, its status set by a conditional update
    "messages_table": ("Query", "UpdateItem"),
    # the resident's opt-out (ConversationStore.opted_out) and the city's name for the notice
    "residents_table": ("GetItem",),
    "subscribers_table": ("GetItem",),
}

OPEN311_API: TableAccess = {
    # text311.open311: the city (services.subscribers), its key hash and publish flag (a projected get)
    "subscribers_table": ("GetItem",),
    # ServiceRequestStore.get and the counter (get), file: one TransactWriteItems of the counter's
    # conditional update and the request's conditional put; list: the by-requested index
    "requests_table": ("GetItem", "PutItem", "UpdateItem"),
    "requests_table/index/by-requested": ("Query",),
}

# inbound_sms and inbound_email keep the sets CDK's grant_read_data / grant_read_write_data give (not
# narrowed yet), only without the unconditioned key grant those helpers add.
READ_DATA = ("BatchGetItem", "ConditionCheckItem", "DescribeTable", "GetItem", "GetRecords", "GetShardIterator",
             "Query", "Scan")
READ_WRITE_DATA = (*READ_DATA, "BatchWriteItem", "DeleteItem", "PutItem", "UpdateItem")
INBOUND: TableAccess = {
    "subscribers_table": READ_DATA,
    **{name: READ_WRITE_DATA for name in ("residents_table", "conversations_table", "messages_table",
                                          "idempotency_table", "limits_table")},
    "conversations_table/index/*": READ_WRITE_DATA,
    # text311.service_requests: #request files (a TransactWriteItems of an Update and Puts: PutItem,
    # UpdateItem), #status appends (UpdateItem), claims and requests read (GetItem), a notice's claim
    # given back when the notice fails (DeleteItem); a conversation's requests (#status, STATUS) by the
    # by-conversation LSI
    "requests_table": ("DeleteItem", "GetItem", "PutItem", "UpdateItem"),
    "requests_table/index/by-conversation": ("Query",),
    # text311.audit: an emailed answer and each #request/#status it ran (AnswerService._audit)
    "audit_table": ("PutItem",),
}

_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


def grant_tables(
    grantee: iam.IGrantable, tables: dict[str, dynamodb.Table], access: TableAccess, security: Security
) -> None:
    """One statement per table (or index) with exactly ``access``'s actions, and the data key through
    DynamoDB: CDK's read set for a function that only reads, its write set for one that writes."""
    for target, actions in access.items():
        setting, _, index = target.partition("/index/")
        arn = tables[setting].table_arn
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[f"dynamodb:{action}" for action in actions],
                resources=[f"{arn}/index/{index}" if index else arn],
            )
        )
    writes = any(_WRITES.intersection(actions) for actions in access.values())
    security.grant_data_key(grantee, "dynamodb", WRITE_KEY if writes else READ_KEY)


def grant_geocode(grantee: iam.IGrantable, region: str) -> None:
    """Amazon Location Places v2 ``Geocode`` (text311.geocoders.AmazonLocationGeocoder): the Places
    API's only resource is AWS's provider in the region, ``arn:aws:geo-places:<region>::provider/default``."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["geo-places:Geocode"], resources=[f"arn:aws:geo-places:{region}::provider/default"]
        )
    )


TRANSLATE_POLICY = "Translate"


def grant_translate(function: lambda_.Function) -> iam.Policy:
    """Amazon Translate ``TranslateText`` (text311.translation.AmazonTranslateTranslator), in a policy of
    its own (the function's child ``Translate``) so that its ``Resource: *`` is suppressed there alone: the
    action has no resource ARN (a custom terminology or parallel data would be one; none is used)."""
    assert function.role is not None
    return iam.Policy(
        function,
        TRANSLATE_POLICY,
        roles=[function.role],
        statements=[iam.PolicyStatement(actions=["translate:TranslateText"], resources=["*"])],
    )


def grant_consume(grantee: iam.IGrantable, queue: sqs.IQueue, security: Security) -> None:
    """Receive, delete and change visibility on ``queue``, and Decrypt on the data key through SQS."""
    queue.grant(grantee, *CONSUME)
    security.grant_data_key(grantee, "sqs", DECRYPT)
