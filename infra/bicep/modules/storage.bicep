// The storage account: Loupe's blobs (data, derivatives, exports, models), the Functions host's
// own state, and the Flex Consumption deployment package. Shared keys are off, so every client
// signs in with Entra ID and links are user delegation SAS.
param location string
param tags object
param name string
param containers array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    // Browsers fetch SAS links (exports) and PUT uploads on them (x-ms-blob-type) from the
    // Static Web App's origin. Any origin: the SAS is the credential, for one blob, minutes long.
    cors: {
      corsRules: [
        {
          allowedOrigins: ['*']
          allowedMethods: ['GET', 'HEAD', 'PUT']
          allowedHeaders: ['*']
          exposedHeaders: ['ETag', 'Content-Length', 'Content-Type']
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobs
    name: container
    properties: { publicAccess: 'None' }
  }
]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
