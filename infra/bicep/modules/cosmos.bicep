// Cosmos DB for NoSQL with local (key) auth off. Every container the code declares
// (core.store.collections.ALL), with its partition key and the indexing policy
// core.adapters.azure.cosmos_sql.indexing_policy derives, comes in through `containers`
// (catalog.json): the app's data-plane role cannot create containers or change their indexes.
param location string
param tags object
param name string
param databaseName string
@description('[{ name, partitionKey, indexingPolicy, defaultTtl? }] from catalog.json')
param containers array
@allowed(['serverless', 'autoscale'])
param capacity string = 'serverless'
param autoscaleMaxThroughput int = 1000

var serverless = capacity == 'serverless'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    // Provisioned: one autoscale budget shared by all containers; serverless takes no options.
    options: serverless ? {} : { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      // Time to live only where main.bicep sets one: the audit trail (auditRetentionDays).
      resource: union(
        {
          id: container.name
          partitionKey: { paths: [container.partitionKey], kind: 'Hash', version: 2 }
          indexingPolicy: container.indexingPolicy
        },
        contains(container, 'defaultTtl') ? { defaultTtl: container.defaultTtl } : {}
      )
    }
  }
]

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
