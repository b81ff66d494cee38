// Microsoft Graph application permissions (app roles) for the function app's managed identity, granted in the
// same deployment. The Azure portal cannot grant app roles to a managed identity; this does it declaratively.
//
// Needs the Microsoft Graph Bicep extension (alias microsoftGraphV1 in ../bicepconfig.json; Bicep 0.36.1 or
// later) and a deployer who may grant app roles: AppRoleAssignment.ReadWrite.All + Application.Read.All, e.g.
// through the Privileged Role Administrator role. Set main.bicep's grantGraphAppRoles=false to skip this.
//
// App-only access to online meetings also needs a Teams application access policy:
// scripts/Grant-TeamsAccessPolicy.ps1.

extension microsoftGraphV1

@description('Object (principal) ID of the managed identity that receives the app roles.')
param principalId string

// Microsoft Graph's application ID: the same in every tenant.
var graphAppId = '00000003-0000-0000-c000-000000000000'

// App role IDs of Microsoft Graph, as listed in the Microsoft Graph permissions reference
// (https://learn.microsoft.com/graph/permissions-reference), application permissions:
//   VirtualAppointment.Read.All  d4f67ec2-59b5-4bdc-b4af-d78f6f9c1954  getVirtualAppointmentJoinWebUrl
//   OnlineMeetings.Read.All      c1684f21-1984-47fa-9d61-2dc8c296bb70  find a meeting by its join link
// To check them in a tenant:
//   az ad sp show --id 00000003-0000-0000-c000-000000000000 --query "appRoles[?value=='OnlineMeetings.Read.All'].id"
var appRoleIds = {
  'VirtualAppointment.Read.All': 'd4f67ec2-59b5-4bdc-b4af-d78f6f9c1954'
  'OnlineMeetings.Read.All': 'c1684f21-1984-47fa-9d61-2dc8c296bb70'
}

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource virtualAppointmentReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: appRoleIds['VirtualAppointment.Read.All']
  principalId: principalId
  resourceId: graph.id
}

resource onlineMeetingsReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: appRoleIds['OnlineMeetings.Read.All']
  principalId: principalId
  resourceId: graph.id
}

output appRoleAssignmentIds array = [
  virtualAppointmentReadAll.id
  onlineMeetingsReadAll.id
]
