// Training and inference on a serverless GPU: a Container Apps environment with a GPU workload
// profile and an event-driven job. KEDA watches the training queue and starts one execution per
// waiting message (none while it is empty: scale from zero); the execution drains the queue
// with the stage handler and exits (Dockerfile.trainer). KEDA reads the queue's message count
// with the job's identity, which roles.bicep makes Service Bus Data Owner of that queue alone
// (reading a queue's runtime properties takes Manage rights; Sender and Receiver do not give
// them). The registry and the roles come first (main.bicep): this module needs nothing back.
param location string
param tags object
@description('The registry (registry.bicep) the job pulls its image from with its identity')
param registryLoginServer string
param environmentName string
param jobName string
param jobServiceTags object
param workspaceId string
param gpuProfileType string
param identityId string
param identityClientId string
@description('Image to run; empty until azd deploy builds Dockerfile.trainer into the registry.')
param image string
param trainingQueue string
param serviceBusName string
param serviceBusNamespace string
param cosmosEndpoint string
param cosmosDatabase string
param blobServiceUri string
param dataContainer string
param eventsTopic string
param appInsightsName string
param maxExecutions int = 2
param replicaTimeoutSeconds int = 3600

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Logs through diagnostic settings: no workspace key handed to the environment.
    appLogsConfiguration: { destination: 'azure-monitor' }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: gpuProfileType }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs'
  scope: environment
  properties: {
    workspaceId: workspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

resource job 'Microsoft.App/jobs@2024-10-02-preview' = {
  name: jobName
  location: location
  tags: jobServiceTags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'gpu'
    configuration: {
      triggerType: 'Event'
      replicaTimeout: replicaTimeoutSeconds
      replicaRetryLimit: 1
      registries: [{ server: registryLoginServer, identity: identityId }]
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: maxExecutions
          pollingInterval: 30
          rules: [
            {
              name: 'training-queue'
              type: 'azure-servicebus'
              metadata: {
                queueName: trainingQueue
                namespace: serviceBusName
                messageCount: '1'
              }
              // KEDA reads the queue length with the job's identity, not a SAS key.
              identity: identityId
            }
          ]
        }
      }
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: empty(image) ? 'mcr.microsoft.com/k8se/quickstart-jobs:latest' : image
          args: [trainingQueue]
          resources: gpuProfileType == 'Consumption-GPU-NC8as-T4'
            ? { cpu: 8, memory: '56Gi' }
            : { cpu: 24, memory: '220Gi' }
          env: [
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'SERVICEBUS__fullyQualifiedNamespace', value: serviceBusNamespace }
            { name: 'COSMOS__accountEndpoint', value: cosmosEndpoint }
            { name: 'COSMOS_DATABASE', value: cosmosDatabase }
            { name: 'STORAGE__blobServiceUri', value: blobServiceUri }
            { name: 'LOUPE_DATA_CONTAINER', value: dataContainer }
            { name: 'LOUPE_EVENTS_TOPIC', value: eventsTopic }
            { name: 'LOUPE_TRAINING_QUEUE', value: trainingQueue }
            // core.job checks at start that onnxruntime's CUDA provider is active on it.
            { name: 'LOUPE_GPU_PROFILE', value: gpuProfileType }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
            { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
          ]
        }
      ]
    }
  }
}

output jobName string = job.name
