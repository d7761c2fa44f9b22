"""The agents' console (stacks/console.py, docs/console.md): who may call the API, what the browser may
load, and what the console's function may touch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import DEFAULT_CONFIG, ConfigError, load_config
from stacks.console import OPEN311_PATH, OPEN311_THROTTLE, handler_routes
from tests.infra.conftest import Synth, logical_id, role_statements

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _one(synth: Synth, region: str, kind: str) -> dict:
    (resource,) = synth.resources(region, kind).values()
    return resource["Properties"]


def _console_origin(synth: Synth, region: str) -> Any:
    """The console's URL as the template spells it: own domain, or the distribution's domain name."""
    console = synth.stacks[region].console
    if console.settings.domain_name:
        return f"https://{console.settings.domain_name}"
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [logical_id(console.distribution), "DomainName"]}]]}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- API: authorizer, CORS, logging, throttling ---------------------------------------------------


def test_every_route_needs_a_cognito_jwt_when_the_api_is_synthesized(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    authorizer = {"Ref": logical_id(console.api.node.find_child("CognitoAuthorizer"))}
    routes = {k: r for k, r in synth.resources(region, "AWS::ApiGatewayV2::Route").items()
              if not r["Properties"]["RouteKey"].endswith(OPEN311_PATH)}  # public open data (below)
    assert routes, "the console API has routes"
    for route in routes.values():
        props = route["Properties"]
        assert props["AuthorizationType"] == "JWT", props["RouteKey"]
        assert props["AuthorizerId"] == authorizer, props["RouteKey"]
    keys = sorted(r["Properties"]["RouteKey"] for r in routes.values())
    # exactly the handler's routes: no $default, no ANY, no path the handler does not serve
    assert keys == sorted(f"{method} {path}" for method, path in handler_routes())
    assert not any(k == "$default" or k.startswith("ANY ") or "{proxy+}" in k for k in keys)


def test_the_authorizer_accepts_only_id_tokens_of_the_pools_spa_client(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    props = _one(synth, region, "AWS::ApiGatewayV2::Authorizer")
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": logical_id(console.client)}]
    issuer = json.dumps(props["JwtConfiguration"]["Issuer"])
    assert f"cognito-idp.{region}.amazonaws.com/" in issuer and logical_id(console.user_pool) in issuer


def test_cors_allows_only_the_consoles_origin(synth: Synth, region: str) -> None:
    cors = _one(synth, region, "AWS::ApiGatewayV2::Api")["CorsConfiguration"]
    assert cors["AllowOrigins"] == [_console_origin(synth, region)]
    assert "*" not in json.dumps(cors["AllowOrigins"])
    assert sorted(cors["AllowMethods"]) == ["GET", "POST"]
    assert sorted(h.lower() for h in cors["AllowHeaders"]) == ["authorization", "content-type", "idempotency-key"]
    assert not cors.get("AllowCredentials")


def test_the_stage_logs_json_lines_and_throttles(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    stage = _one(synth, region, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    logs = stage["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": [logical_id(console.api_log_group), "Arn"]}
    line = json.loads(logs["Format"])
    assert line["requestId"] == "$context.requestId" and "status" in line
    assert not any("querystring" in v.lower() or "header" in v.lower() for v in line.values())
    throttling = stage["DefaultRouteSettings"]
    assert throttling["ThrottlingRateLimit"] > 0 and throttling["ThrottlingBurstLimit"] > 0


def test_open311_is_a_public_get_and_post_route_to_its_own_function(synth: Synth, region: str) -> None:
    functions = synth.stacks[region].functions
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in synth.resources(region, "AWS::ApiGatewayV2::Route").values()}
    integrations = synth.resources(region, "AWS::ApiGatewayV2::Integration")
    open311 = {key: props for key, props in routes.items() if "open311" in key}
    assert sorted(open311) == [f"GET {OPEN311_PATH}", f"POST {OPEN311_PATH}"]
    for props in open311.values():
        assert props["AuthorizationType"] == "NONE" and "AuthorizerId" not in props
        integration = integrations[props["Target"]["Fn::Join"][1][1]["Ref"]]["Properties"]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [logical_id(functions.open311_api), "Arn"]}


def test_the_public_open311_function_has_its_own_small_reserved_concurrency(synth: Synth, region: str) -> None:
    from stacks.functions import OPEN311_CONCURRENCY

    function = synth.raw[region]["Resources"][logical_id(synth.stacks[region].functions.open311_api)]
    assert function["Properties"]["ReservedConcurrentExecutions"] == OPEN311_CONCURRENCY <= 10


def test_open311_routes_have_their_own_throttling_on_the_stage(synth: Synth, region: str) -> None:
    stage = _one(synth, region, "AWS::ApiGatewayV2::Stage")
    settings = stage["RouteSettings"]
    for method, (rate, burst) in OPEN311_THROTTLE.items():
        limits = settings[f"{method} {OPEN311_PATH}"]
        assert (limits["ThrottlingRateLimit"], limits["ThrottlingBurstLimit"]) == (rate, burst)
        assert rate < stage["DefaultRouteSettings"]["ThrottlingRateLimit"]


# --- SPA hosting: bucket, OAC, headers, TLS ------------------------------------------------------


def test_the_site_bucket_is_private_and_readable_only_by_this_distribution(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    resources = synth.raw[region]["Resources"]
    bucket = resources[logical_id(console.bucket)]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "ServerSideEncryptionConfiguration" in bucket["BucketEncryption"]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources(region, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id(console.bucket)}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert logical_id(console.distribution) in json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])


def test_the_distribution_reads_s3_through_oac_not_oai(synth: Synth, region: str) -> None:
    oac = _one(synth, region, "AWS::CloudFront::OriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    assert synth.resources(region, "AWS::CloudFront::CloudFrontOriginAccessIdentity") == {}
    (origin,) = _one(synth, region, "AWS::CloudFront::Distribution")["DistributionConfig"]["Origins"]
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_the_distribution_serves_index_over_https_logged_in_price_class_100(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    config = _one(synth, region, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["PriceClass"] == "PriceClass_100"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": logical_id(console.headers)}
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": [logical_id(console.log_bucket), "RegionalDomainName"]}
    if console.settings.domain_name:  # own domain: TLS 1.2+ (the *.cloudfront.net policy is CloudFront's)
        assert config["Aliases"] == [console.settings.domain_name]
        assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
        assert config["ViewerCertificate"]["SslSupportMethod"] == "sni-only"


def test_security_headers_allow_only_self_the_api_and_cognito(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    headers = _one(synth, region, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp_value = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    csp = json.dumps(csp_value)
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp, directive
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert f"https://{console.settings.domain_prefix}.auth.{region}.amazoncognito.com" in csp
    if console.settings.domain_name:  # the API's exact endpoint
        assert {"Fn::GetAtt": [logical_id(console.api), "ApiEndpoint"]} in csp_value["Fn::Join"][1]
    else:  # the distribution cannot name the API that names it (docs/console.md)
        assert f"https://*.execute-api.{region}." in csp
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 86400
    assert security["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert all(h["Override"] is True for h in security.values())


# --- Cognito --------------------------------------------------------------------------------------


def test_the_user_pool_is_admin_only_with_mfa_strong_passwords_and_threat_protection(
    synth: Synth, region: str
) -> None:
    pool = _one(synth, region, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["MfaConfiguration"] == "ON" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 14
    assert all(password[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert pool["UserPoolTier"] == "PLUS" and pool["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    schema = {a["Name"]: a for a in pool["Schema"]}
    assert schema["municipality_id"]["Mutable"] is False  # a user's city never changes
    assert schema["role"]["Mutable"] is True  # an administrator may promote an agent
    assert pool["DeletionProtection"] == "ACTIVE"
    assert synth.resources(region, "AWS::Cognito::UserPool")[logical_id(synth.stacks[region].console.user_pool)][
        "DeletionPolicy"
    ] == "Retain"


def test_the_spa_client_is_public_pkce_and_cannot_write_its_own_city_or_role(synth: Synth, region: str) -> None:
    client = _one(synth, region, "AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]
    assert "ALLOW_CUSTOM_AUTH" not in client["ExplicitAuthFlows"]
    # WriteAttributes must be explicit: left out, a client may write every mutable attribute
    writable = client["WriteAttributes"]
    assert writable and not [a for a in writable if a.startswith("custom:") or a.startswith("email")]
    assert {"custom:municipality_id", "custom:role", "email"} <= set(client["ReadAttributes"])
    origin = _console_origin(synth, region)
    expected = f"{origin}/" if isinstance(origin, str) else {"Fn::Join": ["", [*origin["Fn::Join"][1], "/"]]}
    assert client["CallbackURLs"] == [expected] and client["LogoutURLs"] == [expected]


def test_the_hosted_ui_prefix_comes_from_config(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    assert _one(synth, region, "AWS::Cognito::UserPoolDomain")["Domain"] == console.settings.domain_prefix


# --- The console's function -----------------------------------------------------------------------


_role_statements = role_statements


WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_the_console_function_names_every_resource_it_may_touch(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    tables = {name: logical_id(table) for name, table in stack.data.tables.items()}
    statements = _role_statements(synth, region, stack.functions.console_api.role)
    touched: dict[str, set[str]] = {}
    for statement in statements:
        actions = set(_as_list(statement["Action"]))
        resources = _as_list(statement["Resource"])
        if resources == ["*"]:
            # X-Ray, and Amazon Translate's one action (it has no resource ARN; its own policy)
            assert actions in ({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, {"translate:TranslateText"}), (
                statement
            )
            continue
        assert "*" not in resources, statement
        assert not any(a.startswith("s3:") for a in actions), "the console reads no raw mail"
        if any(a.startswith("dynamodb:") for a in actions):
            for name, table_id in tables.items():
                if table_id in json.dumps(resources):
                    touched.setdefault(name, set()).update(actions)
    assert set(touched) == set(tables)
    for name in ("conversations_table", "messages_table", "idempotency_table"):
        assert WRITES & touched[name], name
    # a supervisor's settings: conditional updates of their city's item, never a new or deleted city
    assert WRITES & touched["subscribers_table"] == {"dynamodb:UpdateItem"}
    # residents: read (opt-out check) and UpdateItem (an SMS refused as opted out is recorded)
    assert WRITES & touched["residents_table"] == {"dynamodb:UpdateItem"}


def test_the_console_function_manages_agents_of_its_own_pool_with_four_calls_only(synth: Synth, region: str) -> None:
    stack = synth.stacks[region]
    pool = logical_id(stack.console.user_pool)
    statements = [s for s in _role_statements(synth, region, stack.functions.console_api.role)
                  if any(str(a).startswith("cognito-idp:") for a in _as_list(s["Action"]))]
    assert len(statements) == 1
    (statement,) = statements
    assert set(_as_list(statement["Action"])) == {"cognito-idp:AdminCreateUser", "cognito-idp:AdminDisableUser",
                                                  "cognito-idp:AdminEnableUser", "cognito-idp:ListUsers"}
    assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [pool, "Arn"]}]
    variables = synth.raw[region]["Resources"][logical_id(stack.functions.console_api)]["Properties"][
        "Environment"]["Variables"]
    assert variables["USER_POOL_ID"] == {"Ref": pool}
    for name, function in stack.functions.all.items():
        if name != "console_api":
            other = synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]
            assert "USER_POOL_ID" not in other, name


def test_no_function_on_aws_has_a_local_session_key(synth: Synth, region: str) -> None:
    for name, function in synth.resources(region, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "LOCAL_SESSION_KEY" not in variables, name
        assert "AWS_ENDPOINT_URL" not in variables, name


def test_every_function_links_to_the_console_it_is_deployed_with(synth: Synth, region: str) -> None:
    origin = _console_origin(synth, region)
    for name, function in synth.stacks[region].functions.all.items():
        variables = synth.raw[region]["Resources"][logical_id(function)]["Properties"]["Environment"]["Variables"]
        assert variables["CONSOLE_URL"] == origin, name


# --- Publishing the SPA ---------------------------------------------------------------------------


def test_the_spa_is_published_with_a_config_generated_at_deploy_time(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    props = _one(synth, region, "Custom::CDKBucketDeployment")
    assert props["DestinationBucketName"] == {"Ref": logical_id(console.bucket)}
    assert props["DistributionPaths"] == ["/*"]
    assert props["Prune"] is True
    markers = json.dumps(props["SourceMarkers"])
    assert logical_id(console.api) in markers and logical_id(console.client) in markers
    # the SPA's files are staged as they are (no build step), without the local run's config.json
    (files_key,) = [k for k, m in zip(props["SourceObjectKeys"], props["SourceMarkers"], strict=True) if not m]
    staged = Path(synth.outdir) / f"asset.{files_key.removesuffix('.zip')}"
    names = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "app.css", "i18n/en.json", "i18n/fr.json"} <= names
    assert "config.json" not in names


def test_the_stack_outputs_the_console_api_and_user_pool(synth: Synth, region: str) -> None:
    console = synth.stacks[region].console
    outputs = synth.raw[region]["Outputs"]
    assert outputs["ConsoleUrl"]["Value"] == _console_origin(synth, region)
    assert outputs["ConsoleApiUrl"]["Value"] == {"Fn::GetAtt": [logical_id(console.api), "ApiEndpoint"]}
    assert outputs["UserPoolId"]["Value"] == {"Ref": logical_id(console.user_pool)}


# --- Config ---------------------------------------------------------------------------------------


def _config_with(tmp_path: Path, **console: object) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    entry = raw["deployments"][0]
    entry["console"] = {**entry.get("console", {}), **console}
    entry["console"] = {k: v for k, v in entry["console"].items() if v is not None}
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("console", "expected"),
    [
        ({"domain_prefix": "Text311"}, "console.domain_prefix: 'Text311' is not a domain prefix"),
        ({"domain_prefix": "text311-aws"}, "console.domain_prefix: 'text311-aws' contains 'aws'"),
        ({"domain_name": "console.text311.ca"}, "domain_name and certificate_arn (ACM, us-east-1) go together"),
        (
            {
                "domain_name": "console.text311.ca",
                "certificate_arn": "arn:aws:acm:ca-central-1:111122223333:certificate/"
                "00000000-0000-4000-8000-000000000000",
            },
            "console.certificate_arn: String should match pattern",
        ),
    ],
)
def test_config_names_the_bad_console_field(tmp_path: Path, console: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_config_with(tmp_path, **console))
    assert "deployments[0] (region ca-central-1): " in str(error.value)
    assert expected in str(error.value)


def test_config_refuses_a_console_url_when_the_stack_serves_the_console(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["deployments"][0]["console_url"] = "https://elsewhere.example.ca"
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"deployments\[0\] \(region ca-central-1\): console_url: leave it out"):
        load_config(path)
