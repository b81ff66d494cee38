"""Static checks of infra/ (Bicep) and azure.yaml: Bicep cannot be compiled here, so these tests parse every
`.bicep` file with tree-sitter-bicep and check what the deployment promises.

- every file parses without ERROR or MISSING nodes;
- the app settings infra sets are exactly the ones the function reads (shared.settings.SETTING_NAMES) plus the
  platform's own, with the function's defaults and GRAPH_CREDENTIAL=managed_identity;
- the identity gets Graph's VirtualAppointment.Read.All and OnlineMeetings.Read.All app roles;
- no storage account allows shared-key access, and no key or connection string is read anywhere;
- the app is a Flex Consumption Python app that azd can find for service `api`;
- it offers the supported Python versions, and is sized as bench/run.py measures it: instance memory, HTTP
  concurrency, worker threads at least that concurrency, always-ready instances off, each an `azd env set` name,
  with property names that exist in Azure's published type for the API version used.

The grammar predates the `extension` statement that Bicep 0.30+ requires for the Microsoft Graph extension
(the older `provider`/`import` forms are gone from Bicep). Before parsing, a line that is exactly
`extension <alias>` is blanked out (same length, so positions stay), and a test checks that each such alias is
declared in infra/bicepconfig.json. Nothing else is masked.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

from shared.graph_batch import connections_needed
from shared.settings import SETTING_NAMES, WORKER_SETTING_NAMES, Settings

from .test_instance_memory import CONCURRENCY as MEMORY_TEST_CONCURRENCY

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
BICEP_PATHS = sorted(INFRA.rglob("*.bicep"))

# App settings the platform reads (Functions host, Application Insights), set by infra next to the function's.
PLATFORM_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
    }
)
# Flex Consumption rejects or ignores these (the runtime lives in functionAppConfig); a key would be a secret.
FORBIDDEN_SETTINGS = frozenset(
    {
        "AzureWebJobsStorage",
        "AzureWebJobsStorage__accountName",  # builds public-cloud URIs; the service URIs work in every cloud
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "APPINSIGHTS_INSTRUMENTATIONKEY",
    }
)

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Microsoft Graph permissions reference (https://learn.microsoft.com/graph/permissions-reference), application.
GRAPH_APP_ROLES = {
    "VirtualAppointment.Read.All": "d4f67ec2-59b5-4bdc-b4af-d78f6f9c1954",
    "OnlineMeetings.Read.All": "c1684f21-1984-47fa-9d61-2dc8c296bb70",
}
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

EXTENSION_LINE = re.compile(rb"^[ \t]*extension[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", re.MULTILINE)
PARSER = Parser(Language(tree_sitter_bicep.language()))


@dataclass
class Resource:
    symbol: str
    type: str
    existing: bool
    body: Node  # the object literal (inside `if (...)` or `[for ...]` when there is one)


@dataclass
class BicepFile:
    path: Path
    source: bytes  # after masking extension lines
    root: Node
    extensions: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.relative_to(INFRA).as_posix()

    def declarations(self, kind: str) -> Iterator[Node]:
        return (child for child in self.root.named_children if child.type == kind)

    def decorators(self, param: str) -> dict[str, list[Node]]:
        """A parameter's decorators: name -> argument nodes (`@allowed([...])` -> [the array])."""
        [node] = [n for n in self.declarations("parameter_declaration") if text(n.named_children[0]) == param]
        found: dict[str, list[Node]] = {}
        previous = node.prev_named_sibling
        if previous is not None and previous.type == "decorators":
            for decorator in previous.named_children:
                call = decorator.named_children[0]
                found[text(call.child_by_field_name("function"))] = call.child_by_field_name("arguments").named_children
        return found

    def params(self) -> dict[str, Node | None]:
        """Parameter name -> default value node (None when the parameter has no default)."""
        found = {}
        for node in self.declarations("parameter_declaration"):
            named = node.named_children
            found[text(named[0])] = named[2] if len(named) > 2 else None
        return found

    def variables(self) -> dict[str, Node]:
        return {text(n.named_children[0]): n.named_children[1] for n in self.declarations("variable_declaration")}

    def outputs(self) -> dict[str, Node]:
        return {text(n.named_children[0]): n.named_children[-1] for n in self.declarations("output_declaration")}

    def resources(self) -> list[Resource]:
        """Every resource declaration, nested ones included."""
        return [
            Resource(
                symbol=text(node.named_children[0]),
                type=string_value(node.named_children[1]),
                existing=any(child.type == "existing" for child in node.children),
                body=body_object(node),
            )
            for node in walk(self.root)
            if node.type == "resource_declaration"
        ]

    def modules(self) -> dict[str, tuple[str, Node]]:
        """Module symbol -> (path relative to infra/, body object)."""
        found = {}
        for node in self.declarations("module_declaration"):
            path = (self.path.parent / string_value(node.named_children[1])).resolve().relative_to(INFRA)
            found[text(node.named_children[0])] = (path.as_posix(), body_object(node))
        return found


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    return node.text.decode()


def string_value(node: Node) -> str:
    """The value of a string literal without interpolation."""
    assert node.type == "string", f"expected a string literal, got {node.type}: {text(node)}"
    assert not any(c.type == "interpolation" for c in node.named_children), f"interpolated: {text(node)}"
    return text(node)[1:-1]


def body_object(declaration: Node) -> Node:
    for node in walk(declaration.named_children[-1]):
        if node.type == "object":
            return node
    raise AssertionError(f"no object body in {text(declaration)[:80]}")


def props(obj: Node) -> dict[str, Node]:
    """Key -> value node of an object literal's own properties."""
    assert obj.type == "object", f"expected an object literal, got {obj.type}: {text(obj)[:80]}"
    found = {}
    for prop in obj.named_children:
        if prop.type != "object_property":
            continue
        key, value = prop.named_children[0], prop.named_children[-1]
        found[string_value(key) if key.type == "string" else text(key)] = value
    return found


def literal(node: Node) -> object:
    """Python value of a literal string, number or boolean."""
    if node.type == "string":
        return string_value(node)
    if node.type == "number":
        return int(text(node))
    if node.type == "boolean":
        return text(node) == "true"
    raise AssertionError(f"not a literal: {text(node)}")


@pytest.fixture(scope="session")
def bicep() -> dict[str, BicepFile]:
    """Every .bicep file under infra/, parsed once for all tests; keyed by path relative to infra/."""
    parsed = {}
    for path in BICEP_PATHS:
        raw = path.read_bytes()
        aliases = [m.decode() for m in EXTENSION_LINE.findall(raw)]
        masked = EXTENSION_LINE.sub(lambda m: b" " * len(m.group(0)), raw)
        file = BicepFile(path, masked, PARSER.parse(masked).root_node, aliases)
        parsed[file.name] = file
    return parsed


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
    """SETTING_NAMES is the list infra is checked against: it must name every setting from_env reads (the
    platform's own variables, read only to pick a credential, are not app settings)."""
    import inspect

    from shared.settings import Settings

    source = inspect.getsource(Settings.from_env)
    read = set(re.findall(r"""(?:env\.get|text|_number\(\s*env,)\(?\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    listed = set(SETTING_NAMES) | set(WORKER_SETTING_NAMES)
    assert read == listed, "settings.py reads settings that SETTING_NAMES does not list, or vice versa"


def test_app_settings_are_exactly_the_function_settings_and_platform_ones(app_settings) -> None:
    _, settings = app_settings
    names = set(settings)
    assert not names & FORBIDDEN_SETTINGS
    assert names - PLATFORM_SETTINGS == set(SETTING_NAMES) | set(WORKER_SETTING_NAMES)
    assert names & PLATFORM_SETTINGS == PLATFORM_SETTINGS


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
    # The other two are fixed by the deployment: see test_app_settings_use_the_managed_identity.
    for name in set(SETTING_NAMES) - {"GRAPH_CREDENTIAL", "AZURE_CLIENT_ID"}:
        value = settings[name]
        if value.type == "call_expression" and text(value).startswith("string("):
            value = value.named_children[-1].named_children[0]
        assert value.type == "identifier", f"{name} should come from a parameter: {text(value)}"
        param = text(value)
        assert param in settings_file.params(), f"{name}: {param} is not a parameter of {settings_file.name}"
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


def test_graph_app_roles_are_granted_to_the_identity(bicep: dict[str, BicepFile], resources) -> None:
    assignments = [(f, r) for f, r in resources if r.type == "Microsoft.Graph/appRoleAssignedTo@v1.0"]
    assert len(assignments) == len(GRAPH_APP_ROLES)
    granted = {}
    for file, assignment in assignments:
        body = props(assignment.body)
        role = body["appRoleId"]
        assert role.type == "subscript_expression", f"appRoleId should name the role: {text(role)}"
        table = literal_table(file.variables()[text(role.named_children[0])])
        role_name = literal(role.named_children[1])
        granted[role_name] = table[role_name]
        # resourceId: Microsoft Graph's service principal, looked up by its well-known app ID.
        target = text(body["resourceId"])
        [graph_sp] = [r for r in file.resources() if f"{r.symbol}.id" == target]
        assert graph_sp.type == "Microsoft.Graph/servicePrincipals@v1.0"
        assert graph_sp.existing
        app_id = props(graph_sp.body)["appId"]
        if app_id.type == "identifier":
            app_id = file.variables()[text(app_id)]
        assert literal(app_id) == GRAPH_APP_ID
        assert text(body["principalId"]) == "principalId"
    assert granted == GRAPH_APP_ROLES
    # The module receives the identity's principal ID.
    [(_, module)] = [(s, b) for s, (p, b) in bicep["main.bicep"].modules().items() if p == file.name]
    assert text(props(props(module)["params"])["principalId"]) == "identity.outputs.principalId"


def literal_table(obj: Node) -> dict[str, object]:
    return {key: literal(value) for key, value in props(obj).items()}


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


def test_host_storage_is_reached_by_service_uri(app_settings) -> None:
    _, settings = app_settings
    for service in ("blob", "queue", "table"):
        value = text(settings[f"AzureWebJobsStorage__{service}ServiceUri"])
        assert value == f"storage.properties.primaryEndpoints.{service}"


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


def test_graph_app_roles_are_granted_after_the_function_app_exists(bicep: dict[str, BicepFile]) -> None:
    """Entra ID needs time to replicate a new identity before Graph accepts a grant to it (README, Deploy)."""
    [body] = [b for path, b in bicep["main.bicep"].modules().values() if path == "app/graph-app-roles.bicep"]
    assert [text(n) for n in props(body)["dependsOn"].named_children] == ["api"]


def test_funcignore_keeps_tools_caches_and_venvs_out_of_the_package() -> None:
    ignored = set((ROOT / ".funcignore").read_text().split())
    caches = {".pytest_cache", ".ruff_cache", ".hypothesis", ".schemathesis", "__pycache__"}
    venvs = {".venv", ".bench-venv", ".fuzz-venv", "venv"}
    assert caches | venvs | {"tests", "devhost", "bench", "local.settings.json"} <= ignored
    assert not {"shared", "GetJoinUrl", "Diagnose", "OpenApi", "connector", "host.json"} & ignored


def test_azure_yaml_deploys_the_api_service() -> None:
    yaml = pytest.importorskip("yaml")
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}


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
# The scale settings' property names in Azure's published type for Microsoft.Web/sites@2024-04-01
# (FunctionsScaleAndConcurrency and the types it holds, Azure/bicep-types-az); Bicep rejects any other name.
SITES_API_VERSION = "2024-04-01"
SCALE_PROPERTIES = {"alwaysReady", "maximumInstanceCount", "instanceMemoryMB", "triggers"}
ALWAYS_READY_PROPERTIES = {"name", "instanceCount"}
TRIGGERS_PROPERTIES = {"http"}
HTTP_TRIGGER_PROPERTIES = {"perInstanceConcurrency"}
# main.bicep parameter -> the `azd env set` name main.parameters.json reads it from.
AZD_NAMES = {
    "pythonVersion": "FUNCTION_PYTHON_VERSION",
    "maximumInstanceCount": "MAXIMUM_INSTANCE_COUNT",
    "instanceMemoryMB": "INSTANCE_MEMORY_MB",
    "httpPerInstanceConcurrency": "HTTP_PER_INSTANCE_CONCURRENCY",
    "pythonThreadpoolThreadCount": "PYTHON_THREADPOOL_THREAD_COUNT",
    "alwaysReadyInstances": "ALWAYS_READY_INSTANCES",
}


@pytest.fixture(scope="session")
def bench_instance() -> SimpleNamespace:
    """bench/instance.py's constant settings (read, not run): the instance it measures is the one infra deploys."""
    tree = ast.parse((ROOT / "bench" / "instance.py").read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return SimpleNamespace(**constants)


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


def test_scale_property_names_exist_in_the_published_type(resources, scale) -> None:
    [site] = [r for _, r in resources if r.type.startswith("Microsoft.Web/sites@")]
    assert site.type == f"Microsoft.Web/sites@{SITES_API_VERSION}", "check the names below against the new version"
    assert set(scale) <= SCALE_PROPERTIES
    triggers = props(scale["triggers"])
    assert set(triggers) <= TRIGGERS_PROPERTIES
    assert set(props(triggers["http"])) <= HTTP_TRIGGER_PROPERTIES
    [group] = scale["alwaysReady"].named_children[1].named_children
    assert set(props(group)) <= ALWAYS_READY_PROPERTIES


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
