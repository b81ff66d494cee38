// The function app: Flex Consumption plan (FC1, Linux) running Python, with the user-assigned identity for
// storage, deployment, telemetry and Graph. Flex Consumption takes the runtime from functionAppConfig, so
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are not set.

param name string
param planName string
param location string
param tags object = {}

@description('Resource ID of the user-assigned identity.')
param identityId string
@description('Client ID of the user-assigned identity.')
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

param pythonVersion string
param maximumInstanceCount int
param instanceMemoryMB int
param httpPerInstanceConcurrency int
param pythonThreadpoolThreadCount int
param alwaysReadyInstances int

// Settings the function reads; main.bicep documents them and holds the defaults.
param graphBaseUrl string
param graphApiVersion string
param defaultOrganizerId string
param allowedOrganizerIds string
param graphMaxRetries int
param graphTimeoutSeconds string
param requestDeadlineSeconds string

// How callers get in (CALLER_AUTH): keys, entra or both; the Entra ID API's IDs are empty in keys mode.
param callerAuth string
param entraApiClientId string
param entraApiAppIdUri string

// The key routes (authLevel function and admin) and the Entra ID routes (anonymous, behind App Service
// Authentication) are separate functions. A mode turns the other's off with the documented app setting
// AzureWebJobs.<name>.Disabled; the function refuses the routes of a mode that is off as well.
var keyFunctionsOff = callerAuth == 'entra' ? 'true' : 'false'
var entraFunctionsOff = callerAuth == 'keys' ? 'true' : 'false'
// Paths App Service Authentication leaves to the function: the connector definition always; in both, the key routes
// too, whose callers bring a function key and no token. An Entra ID route is never among them.
var keyRoutePaths = [
  '/api/GetJoinUrl'
  '/api/GetJoinUrl/batch'
  '/api/diagnose'
]
var openPaths = [
  '/api/openapi.json'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy service 'api' (azure.yaml) by this tag.
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      // azd deploys with Entra ID to the deployment container: nothing needs FTP or publishing credentials.
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      // Property names as in Azure's published type for Microsoft.Web/sites@2024-04-01 (FunctionsScaleAndConcurrency).
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // 'http' is the group all HTTP-triggered functions scale in.
        alwaysReady: alwaysReadyInstances > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReadyInstances
          }
        ] : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// The complete set of app settings (this resource replaces whatever was there).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Host storage by identity: no connection string, no key. A service URI (not __accountName) works in every cloud.
    // Blob only, as Microsoft's Flex Consumption quickstarts set it for an app without Durable Functions or queue
    // triggers: the host keeps its keys and leases there, and the identity holds Storage Blob Data Owner. Queue and
    // table URIs would make the host use services the identity has no role on (its diagnostic-events table answers
    // 403 at each start); granting those roles would give the app data rights it has no use for.
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // Telemetry with Entra ID auth (the component has local auth disabled).
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // Read by the function (shared/settings.py).
    GRAPH_BASE_URL: graphBaseUrl
    GRAPH_API_VERSION: graphApiVersion
    DEFAULT_ORGANIZER_ID: defaultOrganizerId
    ALLOWED_ORGANIZER_IDS: allowedOrganizerIds
    GRAPH_CREDENTIAL: 'managed_identity'
    AZURE_CLIENT_ID: identityClientId
    GRAPH_MAX_RETRIES: string(graphMaxRetries)
    GRAPH_TIMEOUT_SECONDS: graphTimeoutSeconds
    REQUEST_DEADLINE_SECONDS: requestDeadlineSeconds
    CALLER_AUTH: callerAuth
    // Read by the Functions host: which functions of the app run in this mode.
    'AzureWebJobs.GetJoinUrl.Disabled': keyFunctionsOff
    'AzureWebJobs.Diagnose.Disabled': keyFunctionsOff
    'AzureWebJobs.GetJoinUrlEntra.Disabled': entraFunctionsOff
    'AzureWebJobs.DiagnoseEntra.Disabled': entraFunctionsOff
    // Read by App Service Authentication: sign in to Entra ID as the user-assigned identity (a federated credential on
    // the API's app registration, infra/app/entra-api.bicep) instead of with a client secret, and accept tokens of
    // this tenant only.
    OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: identityClientId
    WEBSITE_AUTH_AAD_ALLOWED_TENANTS: tenant().tenantId
    // Read by the Functions host: a request body over 2 MiB (twice the function's own limit, shared/http.py) is
    // refused before the host buffers it or hands it to the worker; the host's default is 100 MB.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '2097152'
    // Read by the Python worker and the function: at least as many threads as invocations the instance takes.
    PYTHON_THREADPOOL_THREAD_COUNT: string(max(httpPerInstanceConcurrency, pythonThreadpoolThreadCount))
  }
}

// App Service Authentication ("Easy Auth") validates Entra ID tokens before a request reaches the Functions host.
// Declared in every mode, so that switching back to keys turns it off.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  // One site config write at a time: it names an app setting that appSettings writes.
  dependsOn: [
    appSettings
  ]
  properties: {
    platform: {
      enabled: callerAuth != 'keys'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: callerAuth == 'both' ? concat(openPaths, keyRoutePaths) : openPaths
    }
    identityProviders: {
      // In keys mode no API is registered: the provider is declared off and nothing more, rather than with an empty
      // client ID and empty audiences, which App Service may refuse.
      azureActiveDirectory: callerAuth == 'keys' ? {
        enabled: false
      } : {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: entraApiClientId
          // Not a secret: the name of the app setting that holds the identity's client ID (above).
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
        validation: {
          // v1 tokens carry the application ID URI as their audience, v2 tokens the client ID.
          allowedAudiences: [
            entraApiAppIdUri
            entraApiClientId
          ]
        }
      }
    }
  }
}

// Basic (user name and password) publishing over FTP and to the SCM site stays off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
