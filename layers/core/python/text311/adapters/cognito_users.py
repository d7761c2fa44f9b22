"""The console's user pool (Amazon Cognito), as the agent directory needs it: four calls, nothing more.

AdminCreateUser, AdminDisableUser, AdminEnableUser and ListUsers, on the stack's own pool (the console
function's role holds exactly these). ListUsers cannot filter on custom attributes, so an account is
looked up by its ``email`` (a standard, searchable attribute) and its city read from the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MUNICIPALITY = "custom:municipality_id"
ROLE = "custom:role"


@dataclass(frozen=True)
class Account:
    """One user of the pool: ``username`` is Cognito's own (a UUID when email is the sign-in alias)."""

    username: str
    email: str
    municipality_id: str
    role: str
    enabled: bool
    status: str  # FORCE_CHANGE_PASSWORD until the first sign-in, then CONFIRMED


def _account(user: dict[str, Any]) -> Account:
    attributes = {a["Name"]: a.get("Value", "") for a in user.get("Attributes", [])}
    return Account(
        username=user["Username"],
        email=attributes.get("email", "").lower(),
        municipality_id=attributes.get(MUNICIPALITY, ""),
        role=attributes.get(ROLE, ""),
        enabled=bool(user.get("Enabled", True)),
        status=user.get("UserStatus", ""),
    )


class CognitoUsers:
    """The pool ``user_pool_id`` through ``client`` (a boto3 ``cognito-idp`` client built by the caller)."""

    def __init__(self, client: Any, user_pool_id: str) -> None:
        self.client, self.user_pool_id = client, user_pool_id

    def find(self, email: str) -> Account | None:
        """The account whose email is ``email`` (an address already checked: it holds no quote), or None."""
        found = self.client.list_users(UserPoolId=self.user_pool_id, Filter=f'email = "{email}"', Limit=2)
        users = [_account(u) for u in found.get("Users", [])]
        return next((u for u in users if u.email == email.lower()), None)

    def create(self, email: str, municipality_id: int, role: str) -> Account:
        """A new account; Cognito mails the invitation with a temporary password. The city and the role
        are custom attributes the user cannot write (the app client's write attributes leave them out)."""
        created = self.client.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": MUNICIPALITY, "Value": str(municipality_id)},
                {"Name": ROLE, "Value": role},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
        return _account(created["User"])

    def disable(self, account: Account) -> None:
        self.client.admin_disable_user(UserPoolId=self.user_pool_id, Username=account.username)

    def enable(self, account: Account) -> None:
        self.client.admin_enable_user(UserPoolId=self.user_pool_id, Username=account.username)
