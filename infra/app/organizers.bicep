// The object ID of each organizer named by user principal name in ALLOWED_ORGANIZER_IDS, looked up in Microsoft
// Entra ID at deploy time. A classic Teams link names its organizer by object ID (the Oid in its context), so an
// allow-list of UPNs alone would refuse every call whose organizer comes from such a link; main.bicep writes both
// forms to the app setting. A UPN that no user has fails the deployment on its lookup, naming it
// (infra/README.md, "Organizers by UPN"). An `existing` resource only reads: nothing is created or changed.
//
// Needs the Microsoft Graph extension (alias microsoftGraphV1 in ../bicepconfig.json) and a deployer who may read
// users (any member of the tenant, by default). With no UPN in the list, it reads nothing.

extension microsoftGraphV1

@description('User principal names to look up, such as adele@contoso.com.')
param userPrincipalNames array

resource organizers 'Microsoft.Graph/users@v1.0' existing = [for upn in userPrincipalNames: {
  userPrincipalName: upn
}]

@description('The object ID of each user, in the order of userPrincipalNames.')
output objectIds array = [for (upn, i) in userPrincipalNames: organizers[i].id]
