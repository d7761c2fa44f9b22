"""The agents' web console: Cognito sign-in, an HTTP API with a JWT authorizer, a static SPA on CloudFront.

    browser ──▶ CloudFront (OAC, security headers) ──▶ private S3 bucket: console/ + config.json
    browser ──▶ Cognito hosted UI (auth code + PKCE) ──▶ ID token
    browser ──Bearer ID token──▶ HTTP API (JWT authorizer on every console route, CORS = console origin only)
            ──▶ console_api Lambda (built in stacks/functions.py)

The construct is made in two steps because the function needs the console's URL (``CONSOLE_URL``)
and the API needs the function: ``Console(...)`` builds the pool, the bucket, the distribution and the
API; ``serve(function)`` adds the routes and publishes the SPA with its generated ``config.json``.

One cycle is avoided on purpose: the API's CORS names the distribution's domain, so the
distribution's CSP cannot name the API's generated host. With a ``*.cloudfront.net`` console the CSP
allows ``https://*.execute-api.<region>.amazonaws.com``; with the console on its own domain (known
from config) the CSP names the exact API endpoint. See docs/console.md.
"""

from __future__ import annotations

import json
import re

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.config import ROOT, ConsoleSettings
from stacks.packaging import encrypted_log_group

SITE_DIR = ROOT / "console"
HANDLER = ROOT / "functions" / "console_api" / "handler.py"
# Agents of all the region's cities share the API: ~200 agents polling every 15-30 s is ~15 req/s.
THROTTLE_RATE = 50
THROTTLE_BURST = 100
ALLOWED_HEADERS = ["authorization", "content-type", "idempotency-key"]
# The public Open311 API (docs/service-requests.md) on the same API, its own limits per route: open
# data read by city portals and apps (GET), requests filed by a city's own clients (POST).
OPEN311_PATH = "/open311/v2/{proxy+}"
OPEN311_THROTTLE = {"GET": (20, 40), "POST": (2, 5)}  # method → (rate per second, burst)
OPEN311_PUBLIC = (
    "Open311 GeoReport v2 is public open data by specification (GET needs no key); a POST is authorized "
    "by the city's api_key in the form, checked in constant time against its stored SHA-256 by the "
    "function, which the specification defines instead of a bearer token. Throttled per route on the stage."
)
# Custom attributes set by an administrator only (admin-create-user); the app client cannot write them.
MUNICIPALITY_ATTRIBUTE = "municipality_id"
ROLE_ATTRIBUTE = "role"
# What the console function may do in the pool (text311.adapters.cognito_users).
AGENT_DIRECTORY_ACTIONS = ("AdminCreateUser", "AdminDisableUser", "AdminEnableUser", "ListUsers")
_ROUTE = re.compile(r'^@app\.(get|post)\("([^"]+)"\)', re.MULTILINE)


def handler_routes() -> list[tuple[str, str]]:
    """(METHOD, /path/{param}) for every route of the console_api handler, read from its source, so
    the API cannot serve a path the handler does not know, or miss one it does."""
    found = _ROUTE.findall(HANDLER.read_text(encoding="utf-8"))
    return sorted((method.upper(), re.sub(r"<(\w+)>", r"{\1}", path)) for method, path in found)


@jsii.implements(apigwv2.IAccessLogSettings)
class _JsonAccessLog:
    """One JSON line per request. No query string (the search box), no header, no body."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        fields = {
            "requestId": "$context.requestId",
            "time": "$context.requestTime",
            "ip": "$context.identity.sourceIp",
            "route": "$context.routeKey",
            "path": "$context.path",
            "status": "$context.status",
            "latencyMs": "$context.responseLatency",
            "user": "$context.authorizer.claims.sub",
            "authorizerError": "$context.authorizer.error",
            "integrationError": "$context.integrationErrorMessage",
        }
        return apigw.AccessLogFormat.custom(json.dumps(fields))


class Console(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: ConsoleSettings, log_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.settings = settings
        self.log_key = log_key
        self.user_pool = self._user_pool()
        self.hosted_ui = self.user_pool.add_domain(
            "HostedUi", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=settings.domain_prefix)
        )
        self.cognito_url = f"https://{settings.domain_prefix}.auth.{stack.region}.amazoncognito.com"

        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # what CloudFront and S3 access logs support
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # CloudFront standard logs are written with an ACL (the log delivery account owns them).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The SPA's files are the same for every visitor and hold no data: S3-managed keys, so
        # CloudFront's OAC needs no KMS key policy. Only CloudFront can read the bucket.
        self.bucket = s3.Bucket(
            self,
            "SiteBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="site-bucket/",
            removal_policy=RemovalPolicy.DESTROY,  # emptied by the deployment on delete
        )
        self.api_log_group = encrypted_log_group(
            self, "ApiAccessLogs", key=log_key, retention_days=90, removal_policy=RemovalPolicy.RETAIN
        )

        if settings.domain_name:
            # Own domain: known before anything exists, so the API and the CSP can each name the other.
            self.url = f"https://{settings.domain_name}"
            self.client, self.authorizer = self._client()
            self.api = self._api()
            self.distribution = self._distribution(self.api.api_endpoint)
        else:
            self.distribution = self._distribution(f"https://*.execute-api.{stack.region}.{stack.url_suffix}")
            self.url = f"https://{self.distribution.distribution_domain_name}"
            self.client, self.authorizer = self._client()
            self.api = self._api()

    # -- sign-in ----------------------------------------------------------------------------------

    def _user_pool(self) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            "Agents",
            self_sign_up_enabled=False,  # administrators create agents (docs/console.md)
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            custom_attributes={
                # A user's city never changes: moving to another city is a new account.
                MUNICIPALITY_ATTRIBUTE: cognito.StringAttribute(min_len=1, max_len=12, mutable=False),
                ROLE_ATTRIBUTE: cognito.StringAttribute(min_len=5, max_len=10, mutable=True),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
                password_history_size=5,
            ),
            # Agents read residents' messages and text them: a second factor always, TOTP only
            # (no SMS MFA: no SMS role, no SIM-swap exposure).
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Plus: compromised-credential and risk-based sign-in checks, enforced (blocks, not logs).
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Text311 console: your account / votre compte",
                email_body=(
                    "Text311 console. User / utilisateur: {username} "
                    "Temporary password / mot de passe temporaire: {####} (3 days / 3 jours)"
                ),
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _client(self) -> tuple[cognito.UserPoolClient, authorizers.HttpUserPoolAuthorizer]:
        """Public SPA client: authorization code + PKCE through the hosted UI, no secret."""
        readable = cognito.ClientAttributes().with_standard_attributes(
            email=True, email_verified=True, fullname=True, locale=True
        ).with_custom_attributes(MUNICIPALITY_ATTRIBUTE, ROLE_ATTRIBUTE)
        # Explicit, so nothing else is writable: not the custom attributes, not the email (the username).
        writable = cognito.ClientAttributes().with_standard_attributes(fullname=True, locale=True)
        client = self.user_pool.add_client(
            "Spa",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),  # the hosted UI; no password/custom flows
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"{self.url}/"],
                logout_urls=[f"{self.url}/"],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            read_attributes=readable,
            write_attributes=writable,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.minutes(60),
            access_token_validity=Duration.minutes(60),
            refresh_token_validity=Duration.hours(12),  # one shift
        )
        # The SPA sends the ID token: it carries email and the custom attributes; `aud` = this client.
        authorizer = authorizers.HttpUserPoolAuthorizer(
            "CognitoAuthorizer", self.user_pool, user_pool_clients=[client]
        )
        return client, authorizer

    # -- API --------------------------------------------------------------------------------------

    def _api(self) -> apigwv2.HttpApi:
        api = apigwv2.HttpApi(
            self,
            "Api",
            api_name="text311-console",
            description="Text311 console API (Cognito JWT on every console route; Open311 routes public)",
            create_default_stage=False,
            default_authorizer=self.authorizer,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=[self.url],
                allow_methods=[apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
                allow_headers=ALLOWED_HEADERS,
                max_age=Duration.hours(1),
            ),
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
            access_log_settings=_JsonAccessLog(self.api_log_group),
        )
        return api

    def serve(self, function: lambda_.IFunction) -> None:
        """Every handler route behind the JWT authorizer (no $default, no ANY), then the SPA files."""
        integration = integrations.HttpLambdaIntegration("ConsoleApi", function)
        for method, path in handler_routes():
            self.api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod[method]],
                integration=integration,
                authorizer=self.authorizer,
            )
        stack = Stack.of(self)
        self.site = s3deploy.BucketDeployment(
            self,
            "Site",
            sources=[
                # console/config.json is the local run's; this stack writes its own.
                s3deploy.Source.asset(str(SITE_DIR), exclude=["config.json"]),
                s3deploy.Source.json_data(
                    "config.json",
                    {
                        "auth": "cognito",
                        "apiUrl": self.api.api_endpoint,
                        "region": stack.region,
                        "clientId": self.client.user_pool_client_id,
                        "cognitoDomain": self.cognito_url,
                        "redirectUri": f"{self.url}/",
                    },
                ),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            # Unversioned file names: browsers revalidate (ETag), CloudFront is invalidated on deploy.
            cache_control=[s3deploy.CacheControl.no_cache()],
            memory_limit=256,
            retain_on_delete=False,
            # Its own encrypted group; without one, Lambda would create /aws/lambda/<handler> unencrypted.
            log_group=encrypted_log_group(self, "SiteDeploymentLogs", key=self.log_key, retention_days=30),
        )
        # CDK grants the invalidation on "*"; CreateInvalidation takes a distribution ARN, so name ours.
        for child in self.site.node.find_child("CustomResourceHandler").node.children:
            if child.node.id.startswith("inlinePolicyAddedToExecutionRole"):
                policy = child.node.default_child
                assert isinstance(policy, iam.CfnPolicy)
                policy.policy_document = iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                            resources=[self.distribution.distribution_arn],
                        )
                    ]
                )

    def grant_agent_directory(self, function: lambda_.Function) -> None:
        """A supervisor's agents (text311.agents): the pool's id, and exactly the four calls the directory
        makes, on this pool only. No AdminUpdateUserAttributes: a city or a role is set once, at invitation."""
        function.add_environment("USER_POOL_ID", self.user_pool.user_pool_id)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[f"cognito-idp:{action}" for action in AGENT_DIRECTORY_ACTIONS],
                resources=[self.user_pool.user_pool_arn],
            )
        )

    def serve_open311(self, function: lambda_.IFunction) -> None:
        """``GET|POST /open311/v2/{proxy+}`` without the JWT authorizer (open data; a POST carries the
        city's api_key, checked by the function), each method throttled on its own on the stage."""
        integration = integrations.HttpLambdaIntegration("Open311Api", function)
        stage = self.stage.node.default_child
        assert isinstance(stage, apigwv2.CfnStage)
        settings = {}
        for method, (rate, burst) in OPEN311_THROTTLE.items():
            for route in self.api.add_routes(
                path=OPEN311_PATH, methods=[apigwv2.HttpMethod[method]], integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            ):
                stage.node.add_dependency(route)  # a route setting names a route that must exist first
                NagSuppressions.add_resource_suppressions(route, [
                    NagPackSuppression(id=rule, reason=OPEN311_PUBLIC) for rule in ("AwsSolutions-APIG4",
                                                                                     "AwsSolutions-COG4")])
            settings[f"{method} {OPEN311_PATH}"] = {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
        stage.route_settings = settings

    # -- SPA hosting ------------------------------------------------------------------------------

    def _headers(self, api_origin: str) -> cloudfront.ResponseHeadersPolicy:
        csp = "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data:",
                f"connect-src 'self' {api_origin} {self.cognito_url}",
                "manifest-src 'self'",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Text311 console: strict security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                # The sign-in callback URL carries ?code=…: never sent anywhere as a referrer.
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy",
                        value="camera=(), microphone=(), geolocation=(), payment=(), usb=()",
                        override=True,
                    ),
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Opener-Policy", value="same-origin", override=True
                    ),
                ]
            ),
        )

    def _distribution(self, api_origin: str) -> cloudfront.Distribution:
        self.headers = self._headers(api_origin)
        own_domain: dict[str, object] = {}
        if self.settings.domain_name and self.settings.certificate_arn:
            own_domain = {
                "domain_names": [self.settings.domain_name],
                "certificate": acm.Certificate.from_certificate_arn(
                    self, "Certificate", self.settings.certificate_arn
                ),
                "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
                "ssl_support_method": cloudfront.SSLMethod.SNI,
            }
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment="Text311 agents' console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
                compress=True,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            **own_domain,  # type: ignore[arg-type]
        )
