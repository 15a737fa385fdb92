// Every role the identities need, each at the narrowest scope that works:
// the app: Blob Data Owner (the host's state and user delegation keys for the SAS links it
//   signs; it includes Contributor), Queue and Table Data Contributor (the host's timer
//   and poison queues), Cosmos Built-in Data Contributor, Service Bus Data Sender and Receiver,
//   Monitoring Metrics Publisher (App Insights with local auth off);
// the job: Blob Data Contributor, Cosmos Built-in Data Contributor, Service Bus Data Sender and
//   Receiver, Service Bus Data Owner of the training queue alone (KEDA's scaler reads the
//   queue's message count, which takes Manage rights), AcrPull, Monitoring Metrics Publisher;
// the deploying principal (optional): the app's data roles, to run Loupe locally against Azure;
//   a user for `azd up` from a terminal, a service principal from a pipeline (principalType).
// Nothing here depends on the GPU environment: the registry is a module of its own.
param storageAccountName string
param cosmosAccountName string
param serviceBusName string
param registryName string
param appInsightsName string
param appPrincipalId string
param jobPrincipalId string
param userPrincipalId string = ''
@description('What userPrincipalId is: User (azd up from a terminal) or ServicePrincipal (CI)')
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'
@description('The queue that starts the GPU job; KEDA reads its message count as the job')
param trainingQueue string

var role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}
// Cosmos data-plane roles are Cosmos's own (sqlRoleDefinitions), not Azure RBAC.
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

var storageGrants = concat(
  [
    { principalId: appPrincipalId, type: 'ServicePrincipal', role: role.storageBlobDataOwner }
    { principalId: appPrincipalId, type: 'ServicePrincipal', role: role.storageQueueDataContributor }
    { principalId: appPrincipalId, type: 'ServicePrincipal', role: role.storageTableDataContributor }
    { principalId: jobPrincipalId, type: 'ServicePrincipal', role: role.storageBlobDataContributor }
  ],
  empty(userPrincipalId)
    ? []
    : [{ principalId: userPrincipalId, type: userPrincipalType, role: role.storageBlobDataContributor }]
)
var serviceBusGrants = concat(
  [
    { principalId: appPrincipalId, type: 'ServicePrincipal', role: role.serviceBusDataSender }
    { principalId: appPrincipalId, type: 'ServicePrincipal', role: role.serviceBusDataReceiver }
    { principalId: jobPrincipalId, type: 'ServicePrincipal', role: role.serviceBusDataSender }
    { principalId: jobPrincipalId, type: 'ServicePrincipal', role: role.serviceBusDataReceiver }
  ],
  empty(userPrincipalId)
    ? []
    : [
        { principalId: userPrincipalId, type: userPrincipalType, role: role.serviceBusDataSender }
        { principalId: userPrincipalId, type: userPrincipalType, role: role.serviceBusDataReceiver }
      ]
)
var cosmosPrincipals = concat([appPrincipalId, jobPrincipalId], empty(userPrincipalId) ? [] : [userPrincipalId])
var monitoringPrincipals = [appPrincipalId, jobPrincipalId]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusName
}

resource trainingQueueResource 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: serviceBus
  name: trainingQueue
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in storageGrants: {
    name: guid(storage.id, grant.principalId, grant.role)
    scope: storage
    properties: {
      principalId: grant.principalId
      principalType: grant.type
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.role)
    }
  }
]

resource serviceBusRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in serviceBusGrants: {
    name: guid(serviceBus.id, grant.principalId, grant.role)
    scope: serviceBus
    properties: {
      principalId: grant.principalId
      principalType: grant.type
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.role)
    }
  }
]

resource cosmosRoles 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = [
  for principalId in cosmosPrincipals: {
    parent: cosmos
    name: guid(cosmos.id, principalId, cosmosDataContributor)
    properties: {
      principalId: principalId
      roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
      scope: cosmos.id
    }
  }
]

// KEDA's azure-servicebus scaler reads the queue's runtime properties (its message count) with
// the job's identity: Manage rights, which only Data Owner gives, here on this one queue.
resource jobScalerReads 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(trainingQueueResource.id, jobPrincipalId, role.serviceBusDataOwner)
  scope: trainingQueueResource
  properties: {
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataOwner)
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, jobPrincipalId, role.acrPull)
  scope: registry
  properties: {
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.acrPull)
  }
}

resource monitoringRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in monitoringPrincipals: {
    name: guid(appInsights.id, principalId, role.monitoringMetricsPublisher)
    scope: appInsights
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId(
        'Microsoft.Authorization/roleDefinitions',
        role.monitoringMetricsPublisher
      )
    }
  }
]
