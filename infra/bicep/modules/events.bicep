// New blobs → Loupe, with no key, no webhook and nothing that waits for the code: the storage
// account's Event Grid system topic delivers each BlobCreated event, with its own managed
// identity, to a Service Bus queue, which the `ingest_blob` function reads with an ordinary
// Service Bus trigger (functions/ingest.py). Event Grid validates nothing at an endpoint, so
// this deploys in the same pass as everything else, before any code exists, and again after
// `azd down`. The topic's identity may only send, and only to that queue.
param location string
param tags object
param topicName string
param storageAccountName string
param serviceBusName string
@description('The queue the events go to (catalog.json blobEventsQueue)')
param queueName string
@description('Subject prefixes of the blobs Loupe registers: the data container and the dataset roots')
param subjectPrefixes array

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: serviceBus
  name: queueName
}

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: topicName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

resource topicSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, topic.id, serviceBusDataSender)
  scope: queue
  properties: {
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
  }
}

resource ingestSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: topic
  // The name the webhook subscription had: a deployment made before replaces it in place.
  name: 'ingest-blob'
  dependsOn: [topicSends]
  properties: {
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'ServiceBusQueue'
        properties: { resourceId: queue.id }
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      advancedFilters: [
        { operatorType: 'StringBeginsWith', key: 'subject', values: subjectPrefixes }
      ]
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}

output topicName string = topic.name
output principalId string = topic.identity.principalId
