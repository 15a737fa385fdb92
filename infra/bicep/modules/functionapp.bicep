// The Function App on Flex Consumption (Python 3.11): HTTP API, stage queue triggers, the blob
// trigger and the timers (function_app.py). It signs in to every service with its user-assigned
// identity: each binding connection is `X__<endpoint>` + `X__credential` + `X__clientId`, and
// the app's own SDK clients use DefaultAzureCredential with AZURE_CLIENT_ID. No keys.
param location string
param tags object
param name string
param planName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainer string
param appInsightsName string
param cosmosEndpoint string
param cosmosDatabase string
param serviceBusNamespace string
param dataContainer string
@description('The Service Bus topic outbound project events go to')
param eventsTopic string
@description('LOUPE_ADMINS: who becomes an admin on signing in')
param loupeAdmins string = ''
@description('LOUPE_DATASETS: where blob datasets may read')
param datasetRoots string = ''
param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // The Functions host's own state (timer locks, blob receipts) on the same account.
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // connection="STORAGE" (the blob trigger) and Settings.storage_blob_uri; the trigger keeps
    // poison messages in a queue of the same account.
    STORAGE__blobServiceUri: storage.properties.primaryEndpoints.blob
    STORAGE__queueServiceUri: storage.properties.primaryEndpoints.queue
    STORAGE__credential: 'managedidentity'
    STORAGE__clientId: identityClientId
    // connection="SERVICEBUS" (the stage triggers) and Settings.servicebus_namespace.
    SERVICEBUS__fullyQualifiedNamespace: serviceBusNamespace
    SERVICEBUS__credential: 'managedidentity'
    SERVICEBUS__clientId: identityClientId
    // Settings.cosmos_endpoint (no binding uses Cosmos; the same form keeps one convention).
    COSMOS__accountEndpoint: cosmosEndpoint
    COSMOS__credential: 'managedidentity'
    COSMOS__clientId: identityClientId
    COSMOS_DATABASE: cosmosDatabase
    LOUPE_DATA_CONTAINER: dataContainer
    LOUPE_EVENTS_TOPIC: eventsTopic
    // Linking the Static Web App restricts the app to it, so x-ms-client-principal is SWA's.
    LOUPE_BEHIND_STATIC_WEB_APP: 'true'
    LOUPE_ADMINS: loupeAdmins
    LOUPE_DATASETS: datasetRoots
    AZURE_CLIENT_ID: identityClientId
    // Names the resource only: ingestion needs an Entra token (local auth is off).
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
