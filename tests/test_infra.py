"""Static checks of infra/ (Bicep) and azure.yaml: Bicep cannot be compiled here, so these tests parse every
`.bicep` file with tree-sitter-bicep and check what the deployment promises.

- every file parses without ERROR or MISSING nodes;
- the app settings infra sets are exactly the ones the function reads (shared.settings.SETTING_NAMES) plus the
  platform's own, with the function's defaults and GRAPH_CREDENTIAL=managed_identity;
- no template grants app roles: azd's hooks check the CALLER_AUTH mode before provisioning and grant the roles after
  (scripts/, tested in test_grant_script.py and test_caller_auth_check.py);
- the API's Entra ID registration, App Service Authentication and the functions each mode runs are the agreed ones,
  and no client secret exists; organizers given by UPN are also allowed by object ID;
- no storage account allows shared-key access, and no key or connection string is read anywhere;
- the app is a Flex Consumption Python app that azd can find for service `api`;
- it offers the supported Python versions, and is sized as bench/instance.py measures it: instance memory, HTTP
  concurrency, worker threads at least that concurrency, always-ready instances off, each an `azd env set` name.

How the files are read (and the one thing masked, `extension` lines): tests/bicep.py. Every resource body is
checked against Azure's published Bicep types in tests/test_bicep_types.py.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from tree_sitter import Node

from devhost.easy_auth import EXCLUDED_IN_BOTH, EXCLUDED_IN_ENTRA
from shared.caller_access import APP_ROLES, USER_IMPERSONATION_SCOPE_ID
from shared.graph_batch import connections_needed
from shared.settings import SETTING_NAMES, WORKER_SETTING_NAMES, Settings

from .bicep import INFRA, ROOT, BicepFile, Resource, evaluate, literal, parse, props, text, walk
from .conftest import load_script
from .test_instance_memory import CONCURRENCY as MEMORY_TEST_CONCURRENCY

BICEP_PATHS = sorted(INFRA.rglob("*.bicep"))

# App settings the platform reads (Functions host, Application Insights), set by infra next to the function's.
PLATFORM_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
        # Which functions run in the deployed CALLER_AUTH mode (read by the Functions host).
        *(f"AzureWebJobs.{name}.Disabled" for name in ("GetJoinUrl", "Diagnose", "GetJoinUrlEntra", "DiagnoseEntra")),
        # App Service Authentication: the identity that signs it in to Entra ID, and the tenant it accepts.
        "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
        "WEBSITE_AUTH_AAD_ALLOWED_TENANTS",
    }
)
# Flex Consumption rejects or ignores these (the runtime lives in functionAppConfig); a key would be a secret.
FORBIDDEN_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage",
        "AzureWebJobsStorage__accountName",  # builds public-cloud URIs; the service URIs work in every cloud
        # An HTTP-only app needs blob only; the identity holds no queue or table role (infra/app/api.bicep says why).
        "AzureWebJobsStorage__queueServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "APPINSIGHTS_INSTRUMENTATIONKEY",
    }
)

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SERVICE_PRINCIPALS = "Microsoft.Graph/servicePrincipals@v1.0"
AZD_GRANT_COMMAND = "scripts/grant_app_roles.py --azd-env"
# The API's roles and delegated scope, fixed in every tenant: infra declares the IDs the function checks and names.
API_ROLES = {role.value: role.id for role in APP_ROLES}
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ENTRA_ISSUER = "'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'"
# Microsoft Graph permissions reference (https://learn.microsoft.com/graph/permissions-reference), application.
GRAPH_APP_ROLES = {
    "VirtualAppointment.Read.All": "d4f67ec2-59b5-4bdc-b4af-d78f6f9c1954",
    "OnlineMeetings.Read.All": "c1684f21-1984-47fa-9d61-2dc8c296bb70",
}
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


@pytest.fixture(scope="session")
def bicep() -> dict[str, BicepFile]:
    """Every .bicep file under infra/, parsed once for all tests; keyed by path relative to infra/."""
    return {file.name: file for file in map(parse, BICEP_PATHS)}


@pytest.fixture(scope="session")
def resources(bicep: dict[str, BicepFile]) -> list[tuple[BicepFile, Resource]]:
    return [(file, resource) for file in bicep.values() for resource in file.resources()]


@pytest.fixture(scope="session")
def app_settings(resources: list[tuple[BicepFile, Resource]]) -> tuple[BicepFile, dict[str, Node]]:
    """The app settings object: the one `Microsoft.Web/sites/config` resource named 'appsettings'."""
    found = [
        (file, props(props(r.body)["properties"]))
        for file, r in resources
        if r.type.split("@")[0] in ("Microsoft.Web/sites/config", "config")
        and literal(props(r.body)["name"]) == "appsettings"
    ]
    assert len(found) == 1, f"expected one appsettings resource, found {len(found)}"
    return found[0]


def test_infra_has_bicep_files() -> None:
    assert INFRA / "main.bicep" in BICEP_PATHS
    assert len(BICEP_PATHS) > 1


@pytest.mark.parametrize("path", BICEP_PATHS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(bicep: dict[str, BicepFile], path: Path) -> None:
    file = bicep[path.relative_to(INFRA).as_posix()]
    problems = [
        f"{file.name}:{node.start_point[0] + 1}:{node.start_point[1] + 1}: "
        f"{'MISSING' if node.is_missing else 'ERROR'} {text(node)[:60]!r}"
        for node in walk(file.root)
        if node.is_error or node.is_missing
    ]
    assert not problems, "\n".join(problems)
    assert not file.root.has_error


def test_extension_aliases_are_configured(bicep: dict[str, BicepFile], resources) -> None:
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    extensions = config.get("extensions", {})
    for file in bicep.values():
        for alias in file.extensions:
            assert alias in extensions, f"{file.name}: extension {alias} is not in bicepconfig.json"
            assert extensions[alias].startswith("br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:")
    graph_files = {file.name for file, r in resources if r.type.startswith("Microsoft.Graph/")}
    assert graph_files, "no Microsoft Graph resources"
    for name in graph_files:
        assert bicep[name].extensions == ["microsoftGraphV1"], f"{name} uses Graph types without the extension"


def test_setting_names_cover_what_settings_reads() -> None:
    """SETTING_NAMES is the list infra is checked against: it must name every setting from_env reads, itself or
    through read_caller_auth (the platform's own variables, read only to pick a credential, are not app settings)."""
    import inspect

    from shared.settings import Settings, read_caller_auth

    source = inspect.getsource(Settings.from_env) + inspect.getsource(read_caller_auth)
    read = set(re.findall(r"""(?:env\.get|text|_number\(\s*env,)\(?\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    listed = set(SETTING_NAMES) | set(WORKER_SETTING_NAMES)
    assert read == listed, "settings.py reads settings that SETTING_NAMES does not list, or vice versa"


def test_app_settings_are_exactly_the_function_settings_and_platform_ones(app_settings) -> None:
    _, settings = app_settings
    names = set(settings)
    assert not names & FORBIDDEN_SETTINGS
    assert names - PLATFORM_SETTINGS == set(SETTING_NAMES) | set(WORKER_SETTING_NAMES)
    assert names & PLATFORM_SETTINGS == PLATFORM_SETTINGS


def test_the_docs_say_a_provision_undoes_app_settings_edited_in_the_portal(app_settings) -> None:
    """The appsettings resource is the complete set and replaces whatever the app had: an admin's portal edit is gone
    after the next azd up or azd provision. Where the docs speak of editing a setting, azd env set and azd provision
    come first and the portal's caveat is said."""
    file, _ = app_settings
    assert file.name == "app/api.bicep" and "this resource replaces whatever was there" in file.source.decode()
    readme = (ROOT / "README.md").read_text().splitlines()
    rows = [line for line in readme if line.startswith(("| `ALLOWED_ORGANIZER_IDS` |", "| `OrganizerNotAllowed` |"))]
    rows += [line for line in readme if line.startswith("| `ConfigurationError` |")]
    assert len(rows) == 3
    for row in rows:
        assert "azd env set" in row and "azd provision" in row and "undoes" in row, row
        assert row.index("azd env set") < row.index("portal"), row
    page = (INFRA / "README.md").read_text()
    parameters = " ".join(page[page.index("## Parameters") :].split("\n## ")[0].split())
    assert "Each provision writes every app setting anew" in parameters
    organizers = page[page.index("## Organizers by UPN") :].split("\n## ")[0]
    assert organizers.index("azd env set ALLOWED_ORGANIZER_IDS") < organizers.index("portal")
    assert "undoes" in organizers


def test_app_settings_use_the_managed_identity(app_settings) -> None:
    _, settings = app_settings
    assert literal(settings["GRAPH_CREDENTIAL"]) == "managed_identity"
    assert literal(settings["AzureWebJobsStorage__credential"]) == "managedidentity"
    client_id = text(settings["AZURE_CLIENT_ID"])
    assert "clientid" in client_id.lower()
    assert text(settings["AzureWebJobsStorage__clientId"]) == client_id
    telemetry_auth = text(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
    assert telemetry_auth == f"'ClientId=${{{client_id}}};Authorization=AAD'"


def test_app_setting_defaults_match_the_function(bicep: dict[str, BicepFile], app_settings) -> None:
    """Settings fed from main.bicep params (through the module) default to what Settings defaults to."""
    settings_file, settings = app_settings
    main = bicep["main.bicep"]
    main_params = main.params()
    [module_params] = [
        props(props(body)["params"]) for path, body in main.modules().values() if path == settings_file.name
    ]
    defaults = Settings()
    # GRAPH_CREDENTIAL and AZURE_CLIENT_ID are fixed by the deployment (test_app_settings_use_the_managed_identity);
    # CALLER_AUTH's deploy default differs from the function's on purpose (test_caller_auth_deploys_entra_by_default).
    for name in set(SETTING_NAMES) - {"GRAPH_CREDENTIAL", "AZURE_CLIENT_ID", "CALLER_AUTH"}:
        value = settings[name]
        if value.type == "call_expression" and text(value).startswith("string("):
            value = value.named_children[-1].named_children[0]
        assert value.type == "identifier", f"{name} should come from a parameter: {text(value)}"
        param = text(value)
        assert param in settings_file.params(), f"{name}: {param} is not a parameter of {settings_file.name}"
        if name != "ALLOWED_ORGANIZER_IDS":  # which main.bicep completes: test_organizers_by_upn_are_also_allowed_...
            assert text(module_params[param]) == param, f"main.bicep does not pass {param} through"
        default = main_params[param]
        assert default is not None, f"main.bicep param {param} ({name}) has no default"
        expected = getattr(defaults, name.lower())
        actual = literal(default)
        if expected is None:
            assert actual == "", f"{name}: unset in the function, so the default must be empty"
        elif isinstance(expected, float):
            assert float(actual) == expected, name
        else:
            assert actual == expected, name


def test_caller_auth_deploys_entra_by_default(bicep: dict[str, BicepFile], app_settings) -> None:
    """The deploy default is entra (no shared secret unless an admin asks for one); the function's own default, for
    an app without App Service Authentication in front, is keys. azd records the mode deployed (an output)."""
    from shared.settings import CALLER_AUTH_MODES

    _, settings = app_settings
    main = bicep["main.bicep"]
    assert text(settings["CALLER_AUTH"]) == passed_to_api(bicep, "callerAuth")
    [allowed] = main.decorators("callerAuth")["allowed"]
    assert tuple(literal(node) for node in allowed.named_children) == CALLER_AUTH_MODES
    assert literal(main.params()["callerAuth"]) == "entra" == load_script("check_caller_auth").DEPLOY_DEFAULT
    assert Settings().caller_auth == "keys"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["callerAuth"]["value"] == "${CALLER_AUTH=entra}"
    assert text(main.outputs()["CALLER_AUTH"]) == "callerAuth"


def test_no_template_grants_app_roles(resources) -> None:
    """Microsoft.Graph/appRoleAssignedTo may fail a second deployment once the assignment exists
    (microsoftgraph/msgraph-bicep-types#161): app roles are granted by azd's postprovision hook instead."""
    assert [r.symbol for _, r in resources if r.type.startswith("Microsoft.Graph/appRoleAssignedTo@")] == []


def test_azd_checks_the_mode_before_and_grants_the_app_roles_after_every_provision() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]
    assert set(hooks) == {"preprovision", "postprovision"}
    windows_runs = set()
    for hook, command in (("preprovision", "scripts/check_caller_auth.py"), ("postprovision", AZD_GRANT_COMMAND)):
        posix, windows = hooks[hook]["posix"], hooks[hook]["windows"]
        assert (posix["shell"], posix["run"]) == ("sh", f"python3 {command}")
        assert windows["shell"] == "pwsh"
        assert posix.get("continueOnError", False) is False and windows.get("continueOnError", False) is False
        windows_runs.add(windows["run"].replace(command, "<script>"))
    [run] = windows_runs  # one way to start Python, the same for both hooks
    lines = [line.strip() for line in run.splitlines()]
    assert lines[1] == "& $python <script>"
    assert lines[-1] == "exit $LASTEXITCODE"  # the script's exit status fails azd
    # When no Python starts, $LASTEXITCODE stays unset and `exit $LASTEXITCODE` would exit 0: the hook exits 1 then,
    # saying which Python it missed.
    unset = lines.index("if ($null -eq $LASTEXITCODE) {")
    failing = lines[unset : lines.index("}", unset)]
    assert "exit 1" in failing
    said = " ".join(failing)
    assert "py launcher" in said and "python" in said and "Python 3.11" in said
    grant = load_script("grant_app_roles")
    assert grant.GRAPH_APP_ID == GRAPH_APP_ID
    assert tuple(GRAPH_APP_ROLES) == grant.GRAPH_ROLES
    assert f"{grant.COMMAND} --azd-env" == f"python3 {AZD_GRANT_COMMAND}"


def resolved(node: Node, file: BicepFile) -> Node:
    """A variable's value node, for a node that names one."""
    while node.type == "identifier" and text(node) in file.variables():
        node = file.variables()[text(node)]
    return node


def test_the_api_registration_is_the_agreed_one(bicep: dict[str, BicepFile]) -> None:
    """The API's app registration, as the function side and the grant script expect it."""
    file = bicep["app/entra-api.bicep"]
    assert file.extensions == ["microsoftGraphV1"]
    [app] = [r for r in file.resources() if r.type == "Microsoft.Graph/applications@v1.0"]
    body = props(app.body)
    assert text(body["uniqueName"]) == "'getjoinurl-api-${resourceToken}'"
    assert text(body["displayName"]) == "'GetJoinUrl API (${environmentName})'"
    assert literal(body["signInAudience"]) == "AzureADMyOrg"
    [uri] = body["identifierUris"].named_children
    assert text(resolved(uri, file)) == "'api://${tenant().tenantId}/getjoinurl-${resourceToken}'"
    assert text(file.outputs()["appIdUri"]) == text(uri)
    api = props(body["api"])
    assert literal(api["requestedAccessTokenVersion"]) == 2
    roles = {}
    for role in body["appRoles"].named_children:
        fields = props(role)
        roles[literal(fields["value"])] = (
            literal(resolved(fields["id"], file)),
            [literal(t) for t in fields["allowedMemberTypes"].named_children],
            literal(fields["isEnabled"]),
        )
    assert roles == {value: (role_id, ["Application", "User"], True) for value, role_id in API_ROLES.items()}
    [scope] = api["oauth2PermissionScopes"].named_children
    scope_fields = props(scope)
    assert (literal(scope_fields["value"]), literal(scope_fields["type"])) == ("user_impersonation", "User")
    assert literal(resolved(scope_fields["id"], file)) == USER_IMPERSONATION_SCOPE_ID
    [pre_authorized] = api["preAuthorizedApplications"].named_children
    fields = props(pre_authorized)
    assert literal(resolved(fields["appId"], file)) == AZURE_CLI_APP_ID
    assert [literal(resolved(n, file)) for n in fields["delegatedPermissionIds"].named_children] == [
        USER_IMPERSONATION_SCOPE_ID
    ]
    grant = load_script("grant_app_roles")
    assert tuple(API_ROLES) == (grant.CALLER_ROLE, grant.DIAGNOSE_ROLE)


# Microsoft Learn, "Restrictions on identifier URIs of Microsoft Entra applications": the api:// formats it lists as
# secure, as patterns. Those that name the application's own appId cannot be written by the resource that creates it.
LISTED_API_URI_FORMATS = {
    "api://<appId>": r"api://(?P<app>GUID)",
    "api://<tenantId>/<appId>": r"api://(?P<tenant>GUID)/(?P<app>GUID)",
    "api://<tenantId>/<string>": r"api://(?P<tenant>GUID)/[^/]+",
    "api://<string>/<appId>": r"api://[^/]+/(?P<app>GUID)",
}
GUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_the_application_id_uri_is_a_form_entra_id_lists_as_secure(bicep) -> None:
    """A tenant that enforces uriAdditionWithoutUniqueTenantIdentifier refuses an application ID URI without the
    tenant's ID, the appId or a verified domain in it: the URI is api://<tenant ID>/<string>, and the docs say so."""
    file = bicep["app/entra-api.bicep"]
    [app] = [r for r in file.resources() if r.type == "Microsoft.Graph/applications@v1.0"]
    [uri] = props(app.body)["identifierUris"].named_children
    tenant_id, token = "aaaabbbb-0000-cccc-1111-dddd2222eeee", "x7k2m9q4w1z8c"
    rendered = text(resolved(uri, file))[1:-1].replace("${tenant().tenantId}", tenant_id)
    rendered = rendered.replace("${resourceToken}", token)
    assert "${" not in rendered, rendered  # nothing else, such as the application's own appId
    matched = {
        name: match.groupdict()
        for name, pattern in LISTED_API_URI_FORMATS.items()
        if (match := re.fullmatch(pattern.replace("GUID", GUID_PATTERN), rendered))
    }
    assert matched == {"api://<tenantId>/<string>": {"tenant": tenant_id}}, rendered
    for page in (INFRA / "README.md", ROOT / "connector" / "README.md"):
        words = page.read_text()
        assert "api://getjoinurl-" not in words, page
        assert "api://<tenant ID>/getjoinurl-" in words, page


def test_the_deployer_owns_the_api_registration_and_its_service_principal(bicep) -> None:
    """The extension does not make the creator an owner (microsoftgraph/msgraph-bicep-types#134, #142); a later run
    updates both, and the post-provision step assigns roles on the service principal, which an owner may do. Owners
    are appended, so no one else's ownership is taken away. The published 1.0.0 type has `owners`, and the checker
    follows the variable into it."""
    from .bicep_typecheck import check_resources, load_published

    file = bicep["app/entra-api.bicep"]
    graph = [r for r in file.resources() if r.type in ("Microsoft.Graph/applications@v1.0", GRAPH_SERVICE_PRINCIPALS)]
    assert len(graph) == 2
    for resource in graph:
        owners = props(resolved(props(resource.body)["owners"], file))
        assert literal(owners["relationshipSemantics"]) == "append", resource.symbol
        relationships = [text(resolved(n, file)) for n in owners["relationships"].named_children]
        assert relationships == ["deployer().objectId"], resource.symbol
    published = load_published()
    assert check_resources(file, published) == []
    misspelt = parse(file.path, file.source.replace(b"  relationships: [", b"  relationship: [", 1))
    assert any("owners.relationship: no such property" in p for p in check_resources(misspelt, published))
    page = (INFRA / "README.md").read_text()
    assert "deployer().objectId" in page and "append" in page


def test_the_docs_say_which_tokens_the_deployed_api_asks_for_and_who_gets_none(bicep) -> None:
    """The registration asks Entra ID for v2 tokens (audience: the client ID), App Service Authentication also takes
    v1 tokens (audience: the URI); assignment is required, so an application without a role gets AADSTS501051 and a
    user AADSTS50105; a user-assigned identity's credential needs its client ID; and `entra` is what azd deploys,
    not the function's own default."""
    file = bicep["app/entra-api.bicep"]
    [app] = [r for r in file.resources() if r.type == "Microsoft.Graph/applications@v1.0"]
    assert literal(props(props(app.body)["api"])["requestedAccessTokenVersion"]) == 2
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "v1 and v2 tokens work" not in readme
    assert (
        "the API asks Entra ID for v2 tokens (audience: its client ID); the function also accepts v1 tokens" in readme
    )
    assert "`entra` (the default)" not in readme and "`entra` (what `azd up` deploys unless you choose)" in readme
    entra_page = " ".join((ROOT / "docs" / "entra-id.md").read_text().split())
    assert "AADSTS501051" in entra_page and re.search(r"AADSTS50105(?!1)", entra_page)
    for page in (ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "connector" / "README.md"):
        for call in re.findall(r"ManagedIdentityCredential\([^)]*\)", page.read_text()):
            assert "client_id=" in call, f"{page.name}: {call}"


def test_the_api_takes_tokens_only_for_assigned_principals_and_trusts_the_identity(bicep) -> None:
    file = bicep["app/entra-api.bicep"]
    [sp] = [r for r in file.resources() if r.type == "Microsoft.Graph/servicePrincipals@v1.0"]
    [app] = [r for r in file.resources() if r.type == "Microsoft.Graph/applications@v1.0"]
    assert not sp.existing
    assert text(props(sp.body)["appId"]) == f"{app.symbol}.appId"
    assert literal(props(sp.body)["appRoleAssignmentRequired"]) is True
    assert text(file.outputs()["clientId"]) == f"{app.symbol}.appId"
    [credential] = [r for r in file.resources() if r.type.startswith("Microsoft.Graph/applications/federated")]
    fields = props(credential.body)
    assert text(fields["name"]).startswith(f"'${{{app.symbol}.uniqueName}}/")  # the credential's key: safe to re-run
    assert text(fields["issuer"]) == ENTRA_ISSUER
    assert text(fields["subject"]) == "identityPrincipalId"
    assert [literal(a) for a in fields["audiences"].named_children] == ["api://AzureADTokenExchange"]
    [(symbol, body)] = [(s, b) for s, (p, b) in bicep["main.bicep"].modules().items() if p == file.name]
    assert text(props(props(body)["params"])["identityPrincipalId"]) == "identity.outputs.principalId"
    declaration = next(
        n for n in bicep["main.bicep"].declarations("module_declaration") if text(n.named_children[0]) == symbol
    )
    [condition] = [n for n in walk(declaration) if n.type == "if_statement"]
    assert text(condition.named_children[0]) == "(callerAuth != 'keys')"  # keys mode needs no new right in Entra ID


def test_no_client_secret_or_certificate_anywhere(bicep: dict[str, BicepFile]) -> None:
    for file in bicep.values():
        source = file.source.decode()
        for word in ("passwordCredentials", "keyCredentials", "secretText", "clientSecret:", "listKeys("):
            assert word not in source, f"{file.name}: {word}"


AUTH_MODES = ("keys", "entra", "both")
# The interface agreed with the function side: which functions each mode runs, and what Easy Auth leaves alone.
FUNCTIONS_ON = {
    "keys": {"GetJoinUrl", "Diagnose"},
    "entra": {"GetJoinUrlEntra", "DiagnoseEntra"},
    "both": {"GetJoinUrl", "Diagnose", "GetJoinUrlEntra", "DiagnoseEntra"},
}
# What App Service Authentication leaves open per mode: the paths the dev host's stand-in leaves open.
EXCLUDED_PATHS = {"entra": list(EXCLUDED_IN_ENTRA), "both": list(EXCLUDED_IN_BOTH)}


@pytest.mark.parametrize("mode", AUTH_MODES)
def test_each_mode_runs_its_own_functions(bicep, app_settings, mode) -> None:
    file, settings = app_settings
    disabled = {
        name.split(".")[1]: evaluate(value, file, {"callerAuth": mode})
        for name, value in settings.items()
        if name.startswith("AzureWebJobs.") and name.endswith(".Disabled")
    }
    assert set(disabled) == FUNCTIONS_ON["both"]
    assert {name for name, off in disabled.items() if off == "false"} == FUNCTIONS_ON[mode]
    assert {name for name, off in disabled.items() if off == "true"} == FUNCTIONS_ON["both"] - FUNCTIONS_ON[mode]
    # Every function of the app that a mode can turn off is named (OpenApi serves every mode).
    folders = {path.parent.name for path in ROOT.glob("*/function.json")}
    assert folders - {"OpenApi"} <= FUNCTIONS_ON["both"]


def chosen(node: Node, file: BicepFile, names: dict[str, object]) -> Node:
    """The branch a `cond ? a : b` picks with these names (the node itself when it is no such expression)."""
    while node.type == "ternary_expression":
        condition, consequence, alternative = node.named_children
        node = consequence if evaluate(condition, file, names) else alternative
    return node


@pytest.mark.parametrize("mode", AUTH_MODES)
def test_app_service_authentication_per_mode(bicep, app_settings, mode) -> None:
    file, settings = app_settings
    [auth] = [
        r
        for r in file.resources()
        if r.type.startswith("Microsoft.Web/sites/config@") and literal(props(r.body)["name"]) == "authsettingsV2"
    ]
    names = {"callerAuth": mode}
    properties = props(props(auth.body)["properties"])
    assert evaluate(props(properties["platform"])["enabled"], file, names) is (mode != "keys")
    validation = props(properties["globalValidation"])
    assert evaluate(validation["requireAuthentication"], file, names) is True
    assert evaluate(validation["unauthenticatedClientAction"], file, names) == "Return401"
    excluded = evaluate(validation["excludedPaths"], file, names)
    if mode != "keys":
        assert excluded == EXCLUDED_PATHS[mode]
    assert not any(path.startswith("/api/entra/") for path in excluded)  # an Entra ID route is never left open
    entra = props(chosen(props(properties["identityProviders"])["azureActiveDirectory"], file, names))
    assert evaluate(entra["enabled"], file, names) is (mode != "keys")
    if mode == "keys":
        # No API is registered: the provider is declared off and nothing more (no empty client ID or audiences).
        assert set(entra) == {"enabled"}
        return
    registration = props(entra["registration"])
    assert text(registration["openIdIssuer"]) == ENTRA_ISSUER
    assert text(registration["clientId"]) == passed_to_api(bicep, "entraApiClientId")
    secret_setting = literal(registration["clientSecretSettingName"])
    assert secret_setting == "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
    assert text(settings[secret_setting]) == text(settings["AZURE_CLIENT_ID"])  # the identity's client ID
    assert text(settings["WEBSITE_AUTH_AAD_ALLOWED_TENANTS"]) == "tenant().tenantId"
    audiences = [text(a) for a in props(entra["validation"])["allowedAudiences"].named_children]
    assert audiences == [passed_to_api(bicep, "entraApiAppIdUri"), "entraApiClientId"]


def test_main_outputs_the_api_ids_an_admin_and_the_grant_script_need(bicep) -> None:
    main = bicep["main.bicep"]
    outputs = main.outputs()
    for output, module_output in (("ENTRA_API_CLIENT_ID", "clientId"), ("ENTRA_API_APP_ID_URI", "appIdUri")):
        value = resolved(outputs[output], main)
        assert text(value) == f"callerAuth != 'keys' ? entraApi.outputs.{module_output} : ''", output


def literal_table(obj: Node) -> dict[str, object]:
    return {key: literal(value) for key, value in props(obj).items()}


ADELE, ALEX = "adele@contoso.com", "Alex@Contoso.com"
ADELE_ID, ALEX_ID = "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c", "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"


@pytest.mark.parametrize(
    ("given", "upns", "found", "setting"),
    [
        ("", [], [], ""),
        (f" {ADELE}, ,{ALEX} ", [ADELE, ALEX], [ADELE_ID, ALEX_ID], f"{ADELE},{ALEX},{ADELE_ID},{ALEX_ID}"),
        (f"{ADELE_ID},{ADELE}", [ADELE], [ADELE_ID], f"{ADELE_ID},{ADELE}"),  # an ID listed already is not repeated
        (ALEX_ID, [], [], ALEX_ID),
    ],
    ids=["empty", "upns", "both-forms-given", "object-id"],
)
def test_organizers_by_upn_are_also_allowed_by_object_id(bicep, given, upns, found, setting) -> None:
    """A classic Teams link names its organizer by object ID (its Oid): infra looks each UPN of ALLOWED_ORGANIZER_IDS
    up in Entra ID at deploy time and writes both forms, so the README's UPN example works with such links."""
    main = bicep["main.bicep"]
    modules = {path: props(props(body)["params"]) for path, body in main.modules().values()}
    names = {"allowedOrganizerIds": given, "organizers.outputs.objectIds": found}
    assert evaluate(modules["app/organizers.bicep"]["userPrincipalNames"], main, names) == upns
    written = evaluate(modules["app/api.bicep"]["allowedOrganizerIds"], main, names)
    assert written == setting
    allowed = Settings.from_env({"ALLOWED_ORGANIZER_IDS": str(written)}).allowed_organizer_ids
    assert allowed is None if not setting else {entry.lower() for entry in setting.split(",")} <= allowed
    # Each UPN is read as an existing user (a lookup that finds none fails the deployment), its ID returned in order.
    file = bicep["app/organizers.bicep"]
    [users] = file.resources()
    assert (users.type, users.existing) == ("Microsoft.Graph/users@v1.0", True)
    [loop] = [n for n in walk(users.declaration) if n.type == "for_statement"]
    assert text(loop.named_children[1]) == "userPrincipalNames"
    assert text(props(users.body)["userPrincipalName"]) == text(loop.named_children[0])
    output = file.outputs()["objectIds"]
    assert output.type == "for_statement" and text(output.named_children[-1]) == f"{users.symbol}[i].id"
    assert text(output.named_children[1]) == "userPrincipalNames"


def test_no_storage_account_allows_shared_key_access(bicep: dict[str, BicepFile], resources) -> None:
    accounts = [r for _, r in resources if r.type.startswith("Microsoft.Storage/storageAccounts@")]
    created = [r for r in accounts if not r.existing]
    assert created, "no storage account is created"
    for account in created:
        properties = props(props(account.body)["properties"])
        assert literal(properties["allowSharedKeyAccess"]) is False, account.symbol
        assert literal(properties["allowBlobPublicAccess"]) is False, account.symbol
    for file in bicep.values():
        source = file.source.decode()
        assert "listKeys(" not in source and "AccountKey=" not in source, file.name


def test_identity_has_the_storage_and_telemetry_roles(bicep: dict[str, BicepFile], resources) -> None:
    roles = {}  # role definition ID -> type of the resource it is assigned on
    for file, r in resources:
        if not r.type.startswith("Microsoft.Authorization/roleAssignments@"):
            continue
        properties = props(props(r.body)["properties"])
        definition = properties["roleDefinitionId"]  # subscriptionResourceId('...roleDefinitions', <variable>)
        assert text(definition).startswith("subscriptionResourceId('Microsoft.Authorization/roleDefinitions',")
        role_id = definition.child_by_field_name("arguments").named_children[-1]
        if role_id.type == "identifier":
            role_id = file.variables()[text(role_id)]
        scope = text(props(r.body)["scope"])
        [target] = [t.type.split("@")[0] for t in file.resources() if t.symbol == scope]
        roles[literal(role_id)] = target
        assert literal(properties["principalType"]) == "ServicePrincipal"
        assert text(properties["principalId"]) == "principalId"
    assert roles == {
        STORAGE_BLOB_DATA_OWNER: "Microsoft.Storage/storageAccounts",
        MONITORING_METRICS_PUBLISHER: "Microsoft.Insights/components",
    }
    module_params = [props(props(body)["params"]) for path, body in bicep["main.bicep"].modules().values()]
    rbac_params = [p for p in module_params if "principalId" in p and "storageAccountName" in p]
    assert [text(p["principalId"]) for p in rbac_params] == ["identity.outputs.principalId"]


def test_function_app_is_flex_consumption_python_deployed_by_identity(resources) -> None:
    [plan] = [r for _, r in resources if r.type.startswith("Microsoft.Web/serverfarms@")]
    sku = props(props(plan.body)["sku"])
    assert (literal(sku["name"]), literal(sku["tier"])) == ("FC1", "FlexConsumption")
    assert literal(props(props(plan.body)["properties"])["reserved"]) is True

    [site] = [r for _, r in resources if r.type.startswith("Microsoft.Web/sites@")]
    body = props(site.body)
    assert literal(body["kind"]) == "functionapp,linux"
    assert literal(props(body["identity"])["type"]) == "UserAssigned"
    config = props(props(body["properties"])["functionAppConfig"])
    assert literal(props(config["runtime"])["name"]) == "python"
    auth = props(props(props(config["deployment"])["storage"])["authentication"])
    assert literal(auth["type"]) == "UserAssignedIdentity"
    assert "'azd-service-name': 'api'" in text(body["tags"])


def test_host_storage_is_blob_by_service_uri_where_the_identity_has_its_role(app_settings) -> None:
    """The host uses each storage service it is given a URI for: only blob, on which the identity is Storage Blob
    Data Owner (test_identity_has_the_storage_and_telemetry_roles)."""
    _, settings = app_settings
    storage = {name for name in settings if name.startswith("AzureWebJobsStorage")}
    assert storage == {
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
    }
    assert text(settings["AzureWebJobsStorage__blobServiceUri"]) == "storage.properties.primaryEndpoints.blob"


def test_ftp_and_basic_publishing_credentials_are_off(resources) -> None:
    [site] = [r for _, r in resources if r.type.startswith("Microsoft.Web/sites@")]
    site_config = props(props(props(site.body)["properties"])["siteConfig"])
    assert literal(site_config["ftpsState"]) == "Disabled"
    policies = {
        literal(props(r.body)["name"]): literal(props(props(r.body)["properties"])["allow"])
        for _, r in resources
        if r.type.startswith("Microsoft.Web/sites/basicPublishingCredentialsPolicies@")
    }
    assert policies == {"ftp": False, "scm": False}


def test_funcignore_keeps_tools_caches_and_venvs_out_of_the_package() -> None:
    from fnmatch import fnmatch

    lines = (ROOT / ".funcignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    def ignored(name: str) -> bool:
        return any(fnmatch(name, pattern) for pattern in patterns)

    caches = {".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", ".schemathesis", "__pycache__"}
    venvs = {".venv", ".venv-3.11", ".bench-venv", ".fuzz-venv", "venv"}
    # What azd restore makes: its virtualenv (<folder>_env) and, with pyproject.toml, pip install .'s leftovers.
    restore = {"getjoinurl_env", "infra_env", ".python_packages", "build", "getjoinurl.egg-info"}
    for name in caches | venvs | restore | {"tests", "devhost", "bench", "local.settings.json"}:
        assert ignored(name), name
    for name in ("shared", "GetJoinUrl", "Diagnose", "OpenApi", "connector", "host.json", "requirements.txt"):
        assert not ignored(name), name


def test_pip_install_dot_installs_the_runtime_dependencies_and_no_package(tmp_path) -> None:
    """azd's restore step runs `pip install .` when pyproject.toml exists (azd 1.23.7 and later): setuptools must
    build this flat layout's metadata, with requirements.txt as its dependencies and no package of its own. (A real
    `pip install .` in a fresh virtualenv needs the package index: done by hand, see infra/README.md.)"""
    pytest.importorskip("setuptools")
    import shutil
    import subprocess
    import sys

    from .test_repository import repository_files

    for path in repository_files():
        if path.is_file():
            target = tmp_path / "app" / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    (tmp_path / "meta").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "egg_info",
            "--egg-base",
            str(tmp_path / "meta"),
        ],
        cwd=tmp_path / "app",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [info] = (tmp_path / "meta").glob("*.egg-info")
    assert (info / "top_level.txt").read_text().strip() == ""

    def names(text: str) -> set[str]:
        found = (re.match(r"[A-Za-z0-9_.-]+", line) for line in text.splitlines() if line[:1] not in ("", "#", "["))
        return {match.group(0).lower() for match in found if match}

    assert names((info / "requires.txt").read_text()) == names((ROOT / "requirements.txt").read_text())


def test_the_docs_do_not_say_azd_up_restores() -> None:
    """azd's Python service packages the source as it is (Azure/azure-dev, framework_service_python.go:
    RequireRestore false): only an explicit azd restore runs pip install ., which pyproject.toml keeps working."""
    page = (INFRA / "README.md").read_text()
    opening = " ".join(page.split("\n## ")[0].split())
    assert "runs `azd restore`" not in page
    assert "It does not restore" in opening and "only an explicit `azd restore`" in opening
    assert "`pip install .`" in opening


def test_azure_yaml_deploys_the_api_service() -> None:
    yaml = pytest.importorskip("yaml")
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}


def test_the_docs_say_what_a_run_stopped_at_each_step_leaves() -> None:
    """A run can stop before, during or after provisioning, or while deploying: infra/README.md says what each leaves,
    and the README sends there instead of promising that nothing is half-made."""
    yaml = pytest.importorskip("yaml")
    readme = (ROOT / "README.md").read_text()
    assert "Nothing is half-made" not in readme
    assert "(infra/README.md#when-a-run-stops-part-way)" in readme
    page = (INFRA / "README.md").read_text()
    section = page[page.index("## When a run stops part-way") :].split("\n## ")[0]
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]
    for step in [*hooks, "while provisioning", "while deploying"]:
        assert step in section, step
    # An app without code behind App Service Authentication answers 401 to a request without a token, not 404; only
    # the paths left open reach the empty app.
    for page in (" ".join(section.split()), " ".join(readme.split())):
        assert "succeeds): every URL answers 404" not in page and "(404 everywhere)" not in page
        assert "401" in page
    assert section.count("`/api/openapi.json`") == 2


def test_the_docs_say_what_azd_down_and_a_switch_to_keys_leave() -> None:
    """Neither deletes what lives in Entra ID (the registration, its service principal, federated credential and the
    callers' grants), and after azd down the Teams policy names an identity that is gone: a fresh azd up needs the
    policy script again."""
    page = (INFRA / "README.md").read_text()
    section = " ".join(page[page.index("## Day two") :].split("\n## ")[0].split())
    down, keys = section.split("**Switching to `keys`**")
    assert "**`azd down`**" in down
    for words in ("app registration", "service principal", "federated credential", "az ad app delete"):
        assert words in down, words
    assert "Grant-TeamsAccessPolicy.ps1` again" in down and "MANAGED_IDENTITY_CLIENT_ID" in down
    for words in ("app registration", "service principal", "federated credential", "role granted to callers"):
        assert words in keys, words
    assert "ENTRA_API_CLIENT_ID" in keys  # empty after the switch: note it first


def test_the_prerequisites_name_powershell_7_on_windows() -> None:
    """azd runs the Windows hooks with pwsh, and before 1.19 does not fall back to Windows PowerShell 5.1."""
    for page in (ROOT / "README.md", INFRA / "README.md"):
        assert "PowerShell 7" in page.read_text(), page


def test_azure_yaml_asks_for_an_azd_that_bundles_the_bicep_the_graph_extension_needs() -> None:
    """The Microsoft Graph Bicep extension 1.0.0 needs Bicep 0.36.1 or later, bundled from azd 1.17.0; the README's
    prerequisites say the same."""
    yaml = pytest.importorskip("yaml")
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["requiredVersions"] == {"azd": ">= 1.17.0"}
    assert json.loads((INFRA / "bicepconfig.json").read_text())["extensions"]["microsoftGraphV1"].endswith(":1.0.0")
    for page in (ROOT / "README.md", INFRA / "README.md"):
        assert "1.17.0" in page.read_text(), page


def test_main_parameters_json_matches_main_bicep(bicep: dict[str, BicepFile]) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    main_params = bicep["main.bicep"].params()
    assert set(parameters) <= set(main_params)
    assert {name for name, default in main_params.items() if default is None} <= set(parameters)


def test_main_outputs_what_the_admin_needs(bicep: dict[str, BicepFile]) -> None:
    outputs = {name: text(value) for name, value in bicep["main.bicep"].outputs().items()}
    assert outputs["AZURE_FUNCTION_APP_NAME"] == "api.outputs.name"
    assert outputs["AZURE_FUNCTION_APP_URL"] == "api.outputs.uri"
    assert outputs["MANAGED_IDENTITY_CLIENT_ID"] == "identity.outputs.clientId"
    assert outputs["MANAGED_IDENTITY_PRINCIPAL_ID"] == "identity.outputs.principalId"


def test_local_settings_sample_lists_the_function_settings() -> None:
    sample = ROOT / "local.settings.sample.json"
    if not sample.exists():
        pytest.skip("local.settings.sample.json not written yet")
    values = json.loads(sample.read_text())["Values"]
    assert set(SETTING_NAMES) <= set(values)


# --- platform and sizing -------------------------------------------------------------------------------------------

# GA Python versions of Azure Functions (Microsoft Learn, "Supported languages in Azure Functions"): 3.10's support
# ended in October 2026. 3.14 waits until this app's tests run on it (infra/main.bicep says why).
SUPPORTED_PYTHON = ["3.11", "3.12", "3.13"]
# main.bicep parameter -> the `azd env set` name main.parameters.json reads it from.
AZD_NAMES = {
    "pythonVersion": "FUNCTION_PYTHON_VERSION",
    "maximumInstanceCount": "MAXIMUM_INSTANCE_COUNT",
    "instanceMemoryMB": "INSTANCE_MEMORY_MB",
    "httpPerInstanceConcurrency": "HTTP_PER_INSTANCE_CONCURRENCY",
    "pythonThreadpoolThreadCount": "PYTHON_THREADPOOL_THREAD_COUNT",
    "alwaysReadyInstances": "ALWAYS_READY_INSTANCES",
}


def bench_constants(module: str) -> SimpleNamespace:
    """A bench module's constant settings, read, not run (the bench runs in a virtualenv of its own)."""
    tree = ast.parse((ROOT / "bench" / module).read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return SimpleNamespace(**constants)


@pytest.fixture(scope="session")
def bench_instance() -> SimpleNamespace:
    """bench/instance.py's: the instance it measures is the one infra deploys."""
    return bench_constants("instance.py")


@pytest.fixture(scope="session")
def scale(resources) -> dict[str, Node]:
    """functionAppConfig.scaleAndConcurrency of the function app."""
    [site] = [r for _, r in resources if r.type.startswith("Microsoft.Web/sites@")]
    config = props(props(props(site.body)["properties"])["functionAppConfig"])
    return props(config["scaleAndConcurrency"])


def passed_to_api(bicep: dict[str, BicepFile], param: str) -> str:
    """The api module's parameter fed by main.bicep's `param` (checked to be passed through unchanged)."""
    [body] = [b for path, b in bicep["main.bicep"].modules().values() if path == "app/api.bicep"]
    assert text(props(props(body)["params"])[param]) == param, f"main.bicep does not pass {param} to app/api.bicep"
    assert param in bicep["app/api.bicep"].params()
    return param


def test_python_versions_are_the_supported_ones_and_the_newest_is_the_default(bicep, resources) -> None:
    main = bicep["main.bicep"]
    [allowed] = main.decorators("pythonVersion")["allowed"]
    versions = [literal(node) for node in allowed.named_children]
    assert versions == SUPPORTED_PYTHON
    assert literal(main.params()["pythonVersion"]) == max(versions, key=lambda v: tuple(map(int, v.split("."))))
    [site] = [r for _, r in resources if r.type.startswith("Microsoft.Web/sites@")]
    runtime = props(props(props(props(site.body)["properties"])["functionAppConfig"])["runtime"])
    assert text(runtime["version"]) == passed_to_api(bicep, "pythonVersion")


def test_instance_is_the_one_the_bench_and_the_memory_test_measure(bicep, scale, bench_instance) -> None:
    main = bicep["main.bicep"]
    [sizes] = main.decorators("instanceMemoryMB")["allowed"]
    assert [literal(node) for node in sizes.named_children] == [512, 2048, 4096]  # Flex Consumption's sizes
    assert literal(main.params()["instanceMemoryMB"]) == bench_instance.INSTANCE_MEMORY_MB == 512
    assert text(scale["instanceMemoryMB"]) == passed_to_api(bicep, "instanceMemoryMB")
    concurrency = props(props(scale["triggers"])["http"])["perInstanceConcurrency"]
    assert text(concurrency) == passed_to_api(bicep, "httpPerInstanceConcurrency")
    default_concurrency = literal(main.params()["httpPerInstanceConcurrency"])
    assert default_concurrency == bench_instance.INSTANCE_CONCURRENCY == MEMORY_TEST_CONCURRENCY
    assert default_concurrency == bench_constants("bodies.py").CONCURRENCY  # sixteen bodies at once: one instance
    assert bench_instance.INSTANCE_CONCURRENCY > 1  # Python's platform default, 1, gives every call an instance


def test_worker_threads_are_at_least_the_http_concurrency(bicep, app_settings) -> None:
    """The worker runs at most PYTHON_THREADPOOL_THREAD_COUNT invocations at once, and the Graph pool is sized
    from it: infra sets it to the larger of the concurrency and the parameter, so no invocation queues in the
    worker and every one of them can hold its whole batch's connections."""
    _, settings = app_settings
    value = settings["PYTHON_THREADPOOL_THREAD_COUNT"]
    assert text(value) == "string(max(httpPerInstanceConcurrency, pythonThreadpoolThreadCount))"
    passed_to_api(bicep, "httpPerInstanceConcurrency")
    passed_to_api(bicep, "pythonThreadpoolThreadCount")
    main = bicep["main.bicep"].params()
    concurrency, threads = literal(main["httpPerInstanceConcurrency"]), literal(main["pythonThreadpoolThreadCount"])
    deployed = Settings.from_env({"PYTHON_THREADPOOL_THREAD_COUNT": str(max(concurrency, threads))})
    assert deployed.worker_threads == concurrency
    assert connections_needed(deployed.worker_threads) >= concurrency * 5  # a 100-item batch in flight on each


def test_always_ready_instances_are_off_by_default_and_serve_the_http_group(bicep, scale) -> None:
    assert literal(bicep["main.bicep"].params()["alwaysReadyInstances"]) == 0
    always_ready = scale["alwaysReady"]
    assert always_ready.type == "ternary_expression"
    condition, when_set, when_not = always_ready.named_children
    assert text(condition) == f"{passed_to_api(bicep, 'alwaysReadyInstances')} > 0"
    assert text(when_not) == "[]"
    [group] = when_set.named_children
    assert {key: text(value) for key, value in props(group).items()} == {
        "name": "'http'",  # the group every HTTP-triggered function scales in
        "instanceCount": "alwaysReadyInstances",
    }


def test_an_admin_can_cap_scale_as_low_as_the_platform_allows(bicep) -> None:
    """Flex Consumption takes a maximum instance count from 1 to 1000 (Microsoft Learn, "Azure Functions Flex
    Consumption plan hosting", Considerations; copies from its preview said 40): a cap of 1 is a cost ceiling. The
    floor is cited to the page that states it, and the older figure is written down where the docs list what is not
    confirmed."""
    main = bicep["main.bicep"]
    decorators = main.decorators("maximumInstanceCount")
    assert [literal(n) for n in decorators["minValue"]] == [1]
    assert [literal(n) for n in decorators["maxValue"]] == [1000]
    assert literal(main.params()["maximumInstanceCount"]) == 100  # the platform's own default
    [row] = [line for line in (INFRA / "README.md").read_text().splitlines() if "`MAXIMUM_INSTANCE_COUNT`" in line]
    assert "(1 to 1000)" in row
    source = main.source.decode()
    declared = source.index("param maximumInstanceCount")
    comment = " ".join(line.strip("/ ") for line in source[:declared].split("\n\n")[-1].splitlines())
    assert '"Azure Functions Flex Consumption plan hosting", Considerations' in comment
    assert "Event-driven scaling" not in comment
    page = (INFRA / "README.md").read_text()
    unconfirmed = " ".join(page[page.index("## What was relied on") :].split())
    assert "The lowest maximum scale is currently 1" in unconfirmed and "currently 40" in unconfirmed
    assert "Event-driven scaling" not in page


def test_sizing_and_platform_parameters_have_azd_env_names(bicep) -> None:
    """Each is set with `azd env set NAME value`; unset, the Bicep default applies."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    main = bicep["main.bicep"].params()
    for param, name in AZD_NAMES.items():
        match = re.fullmatch(r"\$\{([A-Z_]+)=([^}]*)\}", parameters[param]["value"])
        assert match, f"{param}: {parameters[param]['value']}"
        assert match.group(1) == name
        assert match.group(2) == str(literal(main[param])), f"{param}: azd's default differs from main.bicep's"


def test_the_host_refuses_bodies_over_twice_the_function_limit(app_settings) -> None:
    """The Functions host buffers a body up to FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (100 MB by default) and hands it to
    the worker whole: infra lowers it to the function's own HOST_BODY_MAX_BYTES."""
    from shared.http import BODY_MAX_BYTES, HOST_BODY_MAX_BYTES

    _, settings = app_settings
    assert int(literal(settings["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"])) == HOST_BODY_MAX_BYTES > BODY_MAX_BYTES
