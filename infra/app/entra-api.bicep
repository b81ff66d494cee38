// The GetJoinUrl API in Microsoft Entra ID, for callers signed in with Entra ID (CALLER_AUTH entra or both):
// - its app registration: an application ID URI, app roles for callers (JoinUrl.Get) and for Diagnose
//   (Diagnose.Run), a delegated scope for signed-in users (user_impersonation) with Azure CLI pre-authorized for it,
//   and v2 access tokens;
// - its service principal, with assignment required: Entra ID issues a token for the API only to a principal that
//   holds one of its roles;
// - a federated identity credential that trusts the function's user-assigned identity, so App Service
//   Authentication signs in as that identity (OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID): no client secret anywhere.
//
// Safe to run again: the Microsoft Graph Bicep extension keys an application by uniqueName, a service principal by
// appId and a federated credential by name, so a later deployment finds each one and updates it in place. Role
// assignments are not declared here: scripts/grant_app_roles.py grants them after provisioning, checking first
// (infra/README.md, "Granting app roles").
//
// Needs the Microsoft Graph extension (alias microsoftGraphV1 in ../bicepconfig.json) and a deployer who may create
// app registrations (infra/README.md, "Prerequisites").

extension microsoftGraphV1

@description('Token that makes names unique per subscription, environment and region (main.bicep).')
param resourceToken string
@description('Name of the azd environment, shown in the app registration\'s display name.')
param environmentName string
@description('Object (principal) ID of the function\'s user-assigned identity: the federated credential\'s subject.')
param identityPrincipalId string

// Fixed IDs, the same in every tenant (shared/ holds the same constants, for the function's checks and messages).
var joinUrlRoleId = '1a6fa9d1-751b-4805-b597-3cf96b4c5eda'
var diagnoseRoleId = 'd42339ba-3b2b-41ee-9c2b-60325d32130b'
var userImpersonationScopeId = '41573056-491e-4a04-8a2c-4f2cf5f5829a'
// Azure CLI's application ID (Microsoft's, the same in every tenant): pre-authorized, so an admin's
// `az account get-access-token --scope <application ID URI>/.default` gets a token without a consent prompt.
var azureCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
// The application ID URI in a form Microsoft Learn lists as secure ("Restrictions on identifier URIs of Microsoft Entra
// applications"): api://<tenant ID>/<string>. It carries the tenant's ID, so a tenant whose app management policy
// enforces uriAdditionWithoutUniqueTenantIdentifier accepts it, and it needs no self-reference (api://<appId> would
// need the application's own appId, known only once it exists).
var identifierUri = 'api://${tenant().tenantId}/getjoinurl-${resourceToken}'

// Whoever deploys owns the application and its service principal. The extension does not make the creator an owner
// by itself (microsoftgraph/msgraph-bicep-types#134 and #142: later deployments failed with Forbidden), and a later
// `azd up` updates both, while the post-provision step assigns the API's roles on the service principal: an owner may
// do both without an admin role. 'append' adds the deployer and leaves any other owner alone (Microsoft Learn,
// "Model relationships in Microsoft Graph Bicep types"), so another owner's run takes no one's ownership away.
var deployerObjectId = deployer().objectId
var owners = {
  relationshipSemantics: 'append'
  relationships: [
    deployerObjectId
  ]
}

resource api 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'getjoinurl-api-${resourceToken}'
  displayName: 'GetJoinUrl API (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  owners: owners
  identifierUris: [
    identifierUri
  ]
  api: {
    // v2 tokens for every caller: a managed identity would otherwise get v1 tokens (issuer sts.windows.net).
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: userImpersonationScopeId
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Call GetJoinUrl as the signed-in user'
        adminConsentDescription: 'Lets the app call GetJoinUrl as the signed-in user; the user still needs one of the API\'s roles.'
        userConsentDisplayName: 'Call GetJoinUrl as you'
        userConsentDescription: 'Lets the app call GetJoinUrl as you; you still need one of its roles.'
      }
    ]
    preAuthorizedApplications: [
      {
        appId: azureCliAppId
        delegatedPermissionIds: [
          userImpersonationScopeId
        ]
      }
    ]
  }
  appRoles: [
    {
      id: joinUrlRoleId
      value: 'JoinUrl.Get'
      displayName: 'Get join URLs'
      description: 'Call GetJoinUrl: get Microsoft Virtual Appointment join URLs.'
      allowedMemberTypes: [
        'Application'
        'User'
      ]
      isEnabled: true
    }
    {
      id: diagnoseRoleId
      value: 'Diagnose.Run'
      displayName: 'Run Diagnose'
      description: 'Run Diagnose: check the app\'s settings, Graph roles and Teams access policy.'
      allowedMemberTypes: [
        'Application'
        'User'
      ]
      isEnabled: true
    }
  ]
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: api.appId
  appRoleAssignmentRequired: true
  owners: owners
}

// Microsoft Learn, "Configure an application to trust a managed identity": issuer the tenant's v2.0 endpoint,
// subject the identity's object (principal) ID, audience api://AzureADTokenExchange.
resource functionIdentity 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${api.uniqueName}/function-identity'
  issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
  subject: identityPrincipalId
  audiences: [
    'api://AzureADTokenExchange'
  ]
  description: 'App Service Authentication of the GetJoinUrl function app signs in as the app\'s managed identity.'
}

@description('Application (client) ID of the API: the audience of v2 tokens.')
output clientId string = api.appId
@description('Application ID URI of the API: the audience callers ask a token for (<URI>/.default).')
output appIdUri string = identifierUri
