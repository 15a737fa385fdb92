// Two user-assigned identities: the Function App's and the training job's. User-assigned, so
// their role assignments exist before the app or job first starts (a job pulls its image with
// its identity at creation), and each gets only the roles it needs (roles.bicep).
param location string
param tags object
param appIdentityName string
param jobIdentityName string

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource job 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: jobIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appIdentityClientId string = app.properties.clientId
output appPrincipalId string = app.properties.principalId
output jobIdentityId string = job.id
output jobIdentityClientId string = job.properties.clientId
output jobPrincipalId string = job.properties.principalId
