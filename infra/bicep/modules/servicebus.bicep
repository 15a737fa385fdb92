// Service Bus with local (SAS key) auth off. Every stage queue the code declares
// (core.services.stages.QUEUE_SPECS, plus the training queue) comes in through `queues`
// (catalog.json) with its lock duration and max delivery count; a message that keeps failing
// is dead-lettered, where the UI shows it. Standard tier: topics and duplicate detection.
param location string
param tags object
param name string
@description('[{ name, lockDuration (ISO 8601), maxDeliveryCount }] from catalog.json')
param queues array
param eventsTopicName string

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource stageQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queue in queues: {
    parent: namespace
    name: queue.name
    properties: {
      lockDuration: queue.lockDuration
      maxDeliveryCount: queue.maxDeliveryCount
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      // Senders name messages by what they do (`init-{project}`, `{run}-{batch}`): a send
      // retried after a timeout is dropped here instead of being handled twice.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      enablePartitioning: false
    }
  }
]

// Outbound project events (labels submitted, exports finished) for the user's own
// integrations: they add subscriptions; Loupe only publishes.
resource eventsTopic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: namespace
  name: eventsTopicName
  properties: {
    defaultMessageTimeToLive: 'P7D'
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
  }
}

output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output eventsTopicName string = eventsTopic.name
