// User-assigned managed identity of the function app. Its client ID is the app ID that the Teams application
// access policy names; its principal ID receives the Azure roles and the Graph app roles.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
