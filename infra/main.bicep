// GetJoinUrl on Azure: a Python function app on the Flex Consumption plan (FC1, Linux), a user-assigned
// managed identity, keyless storage, Log Analytics + Application Insights, and (unless CALLER_AUTH is keys) the
// API's registration in Microsoft Entra ID with App Service Authentication in front of the app. App roles are
// granted after provisioning (azure.yaml's postprovision hook).
//
// Why Flex Consumption: it is the serverless Linux plan Microsoft develops further (Linux Consumption takes no
// new Python versions and is being retired), it runs Python, scales to zero, and it deploys from a blob
// container that the app reads with its managed identity, so no storage key is needed anywhere. The app keeps
// the v1 programming model (function.json); nothing here depends on the v2 decorators.
//
// Written for the tree-sitter-bicep grammar our tests use: no spread (...), no typed variables, no
// resourceInput<>. Not compiled here (no Bicep CLI): see infra/README.md, "What has not been verified in a real
// tenant".

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used in resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for all resources. It must offer Flex Consumption: az functionapp list-flexconsumption-locations')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

// The Python versions Azure Functions supports as GA (Microsoft Learn, "Supported languages in Azure Functions"):
// 3.11 until October 2027, 3.12 until October 2028, 3.13 until October 2029; 3.10's support ended in October 2026.
// The default is the newest of them. 3.14 is not offered yet: Microsoft's Python worker team announced it GA on
// 2026-07-07 (Azure/azure-functions-python-worker#1701), once remote builds of 3.14 apps worked on Flex Consumption,
// but we could not read that in Learn's pages for Flex Consumption, and this app's tests have not run on 3.14.
// What a region offers on Flex Consumption: az functionapp list-flexconsumption-runtimes -l <region> --runtime python
@description('Python version of the function app (FUNCTION_PYTHON_VERSION).')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.13'

// Flex Consumption takes a maximum instance count from 1 to 1000, 100 by default (Microsoft Learn, "Azure Functions
// Flex Consumption plan hosting", Considerations: "The lowest maximum scale is currently 1"; copies of that page from
// its preview said 40, infra/README.md weighs the two). A low cap bounds the cost: with 16 calls at once per
// instance, a cap of 1 still serves 16 calls at a time, and the rest wait or fail. Should the platform refuse a low
// cap, an admin who asked for one gets its error at provision; the default, 100, is above either floor.
@description('MAXIMUM_INSTANCE_COUNT: upper bound for scale-out (1 to 1000); a low one caps the cost.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

// Sizing (infra/README.md, "Sizing and cost"; figures from `make bench`). One process holding 16 batches of 100
// links in flight peaks near 60 MB, so the smallest instance has a wide margin; billing is memory x time, so it
// costs a quarter of a 2,048 MB one.
@description('Memory per instance in MB (INSTANCE_MEMORY_MB). 512 MB instances get 0.25 CPU core, 2,048 MB one core.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 512

// Python's HTTP default is 1 at every instance size (Microsoft Learn, "Concurrency in Azure Functions"): each call in
// flight would get an instance of its own, billed at least 1 s. A call waits on Graph ~99% of its time (1 to 1.5 ms
// of CPU in a 150 ms round trip), so 16 at once need under half of a 512 MB instance's quarter core, and under load
// they share each second of memory billed.
@description('HTTP invocations one instance runs at once (HTTP_PER_INSTANCE_CONCURRENCY).')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

// The Python worker runs at most this many invocations at once; the Graph connection pool is sized from it.
@description('PYTHON_THREADPOOL_THREAD_COUNT: worker threads; never fewer than httpPerInstanceConcurrency (0: as many).')
@minValue(0)
@maxValue(1024)
param pythonThreadpoolThreadCount int = 0

// Always-ready instances never scale to zero: no cold start (process start and imports, slower on a quarter core)
// for the first call after a quiet spell, at a baseline price for their memory around the clock. Off by default.
@description('Always-ready instances for the HTTP functions (ALWAYS_READY_INSTANCES); 0: scale to zero.')
@minValue(0)
@maxValue(1000)
param alwaysReadyInstances int = 0

// ---- Settings the function reads (shared/settings.py). Defaults equal the function's own defaults. ----

@description('GRAPH_BASE_URL: Microsoft Graph origin. getVirtualAppointmentJoinWebUrl is documented for the global service only.')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('GRAPH_API_VERSION: Graph API version.')
@allowed([
  'v1.0'
  'beta'
])
param graphApiVersion string = 'v1.0'

@description('DEFAULT_ORGANIZER_ID: organizer (object ID or UPN) used when a request names none. Empty: none.')
param defaultOrganizerId string = ''

@description('ALLOWED_ORGANIZER_IDS: comma-separated object IDs / UPNs allowed as organizers; each UPN must be a user of this tenant. Empty: any.')
param allowedOrganizerIds string = ''

@description('GRAPH_MAX_RETRIES: retries for throttled or failed Graph calls.')
@minValue(0)
@maxValue(10)
param graphMaxRetries int = 3

@description('GRAPH_TIMEOUT_SECONDS: timeout of one Graph HTTP call, in seconds (0.1 to 120).')
param graphTimeoutSeconds string = '10'

@description('REQUEST_DEADLINE_SECONDS: time budget of one invocation, in seconds (0.5 to 110).')
param requestDeadlineSeconds string = '25'

// How callers get in (infra/README.md, "Callers signed in with Microsoft Entra ID"). The deploy default is entra: no
// shared secret unless an admin asks for one; both moves flows over one at a time; keys is the function-key behaviour
// of earlier versions. The function's own default, for an app without App Service Authentication, stays keys.
@description('CALLER_AUTH: keys (function keys), entra (Microsoft Entra ID through App Service Authentication) or both.')
@allowed([
  'keys'
  'entra'
  'both'
])
param callerAuth string = 'entra'

// ALLOWED_ORGANIZER_IDS as given (object IDs and UPNs, comma-separated, spaces ignored), then the object ID of each
// UPN in it (app/organizers.bicep): callers name organizers by UPN, classic Teams links by object ID.
var allowedOrganizerEntries = filter(map(split(allowedOrganizerIds, ','), entry => trim(entry)), entry => !empty(entry))
var allowedOrganizerUpns = filter(allowedOrganizerEntries, entry => contains(entry, '@'))

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// The app's only identity: it reads storage, sends telemetry and calls Graph.
module identity './app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage './app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring './app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module organizers './app/organizers.bicep' = {
  name: 'organizers'
  scope: rg
  params: {
    userPrincipalNames: allowedOrganizerUpns
  }
}

// Storage Blob Data Owner and Monitoring Metrics Publisher for the identity.
module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    pythonVersion: pythonVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    pythonThreadpoolThreadCount: pythonThreadpoolThreadCount
    alwaysReadyInstances: alwaysReadyInstances
    graphBaseUrl: graphBaseUrl
    graphApiVersion: graphApiVersion
    defaultOrganizerId: defaultOrganizerId
    allowedOrganizerIds: join(union(allowedOrganizerEntries, organizers.outputs.objectIds), ',')
    graphMaxRetries: graphMaxRetries
    graphTimeoutSeconds: graphTimeoutSeconds
    requestDeadlineSeconds: requestDeadlineSeconds
    callerAuth: callerAuth
    entraApiClientId: entraApiClientId
    entraApiAppIdUri: entraApiAppIdUri
  }
  // The host reaches storage with the identity as soon as it starts: grant the roles first.
  dependsOn: [
    rbac
  ]
}

// The GetJoinUrl API's app registration, service principal and federated credential, for callers signed in with
// Microsoft Entra ID. Not created in keys mode, which needs no new right in Entra ID.
module entraApi './app/entra-api.bicep' = if (callerAuth != 'keys') {
  name: 'entraApi'
  scope: rg
  params: {
    resourceToken: resourceToken
    environmentName: environmentName
    identityPrincipalId: identity.outputs.principalId
  }
}

// Where the module is not deployed, its outputs are never read: ARM's if() evaluates only the branch its condition
// picks (Microsoft Learn, "Logical functions for ARM templates").
var entraApiClientId = callerAuth != 'keys' ? entraApi.outputs.clientId : ''
var entraApiAppIdUri = callerAuth != 'keys' ? entraApi.outputs.appIdUri : ''

// App roles are granted after provisioning, by azd's postprovision hook (azure.yaml): scripts/grant_app_roles.py
// --azd-env grants the identity its Microsoft Graph roles and the API's roles to CALLER_PRINCIPAL_IDS and
// DIAGNOSE_PRINCIPAL_IDS, checking first, so every later azd up succeeds whatever state the grants are in.

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_URL string = api.outputs.uri
@description('Client (application) ID of the identity: the -AppId of scripts/Grant-TeamsAccessPolicy.ps1.')
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
@description('Object (principal) ID of the identity: the principal of the Graph app role assignments.')
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
@description('The mode this environment was deployed with; azd records it, so the next azd up keeps it.')
output CALLER_AUTH string = callerAuth
@description('Application (client) ID of the GetJoinUrl API; empty in keys mode. scripts/grant_app_roles.py --api takes it.')
output ENTRA_API_CLIENT_ID string = entraApiClientId
@description('Application ID URI of the GetJoinUrl API, the audience callers ask a token for; empty in keys mode.')
output ENTRA_API_APP_ID_URI string = entraApiAppIdUri
