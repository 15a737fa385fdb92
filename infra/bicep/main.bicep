// Loupe on Azure: everything `azd up` creates, in one resource group of the user's subscription.
// Identity only: no account keys, no connection strings with secrets (Storage, Cosmos DB and
// Service Bus have local auth switched off), every data-plane role assigned below.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds every resource name.')
param environmentName string

// Regions that offer both the Function App's Flex Consumption plan and Container Apps'
// serverless GPUs (both lists as Microsoft published them; T4 and A100 vary by region within
// them: check `az containerapp env workload-profile list-supported -l REGION`).
@minLength(1)
@description('Region for every resource but the Static Web App: it must offer Flex Consumption and serverless GPUs.')
@metadata({ azd: { type: 'location' } })
@allowed([
  'australiaeast'
  'brazilsouth'
  'centralindia'
  'eastus'
  'francecentral'
  'italynorth'
  'japaneast'
  'northcentralus'
  'southcentralus'
  'southeastasia'
  'swedencentral'
  'westeurope'
  'westus'
  'westus3'
])
param location string

@description('Cosmos DB capacity: serverless (pay per request) or autoscale provisioned throughput.')
@allowed(['serverless', 'autoscale'])
param cosmosCapacity string = 'serverless'

@description('Autoscale maximum RU/s shared by the database (autoscale only).')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Blob container Loupe watches for new files (LOUPE_DATA_CONTAINER).')
param dataContainer string = 'data'

@description('Serverless GPU profile of the training job.')
@allowed(['Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('Training job image; azd deploy replaces it with the one built from Dockerfile.trainer.')
param trainerImage string = ''

@description('Region of the Static Web App (offered in a few regions only; it serves worldwide).')
@allowed(['westus2', 'centralus', 'eastus2', 'westeurope', 'eastasia'])
param staticWebAppLocation string = 'westeurope'

@description('Who becomes a Loupe admin on signing in (LOUPE_ADMINS): sign-in names, comma-separated. Admins grant the creator role that creating projects takes.')
param loupeAdmins string = ''

@description('Containers or container/folder paths that blob datasets may read (LOUPE_DATASETS), comma-separated; empty: projects take uploads only.')
param datasetRoots string = ''

@description('Days the audit trail (the events container: who labeled, reviewed or changed what, an item\'s history) is kept in Cosmos DB; 0 keeps it forever.')
@minValue(0)
param auditRetentionDays int = 365

@description('Application (client) id of the Entra app registration people sign in with (single tenant, redirect URI https://<static web app>/.auth/login/aad/callback).')
param authClientId string

@secure()
@description('A client secret of that app registration.')
param authClientSecret string

@description('Object id of the deploying user, granted the same data roles for local runs (optional).')
param principalId string = ''

@description('What principalId is: User for `azd up` from a terminal, ServicePrincipal from a pipeline.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

var abbrs = loadJsonContent('abbreviations.json')
var catalog = loadJsonContent('catalog.json')
// Cosmos DB deletes audit events older than the retention by itself (-1: time to live on, no
// expiry); every other container keeps its documents.
var auditTtl = auditRetentionDays == 0 ? -1 : auditRetentionDays * 86400
var containers = map(
  catalog.containers,
  container => container.name == catalog.auditContainer ? union(container, { defaultTtl: auditTtl }) : container
)
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var deploymentContainer = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// Blob events for the data container and every dataset root (LOUPE_DATASETS: `lake` or
// `archive/scans`), as the Event Grid subjects of the blobs under them.
var datasetList = filter(split(replace(datasetRoots, ',', ' '), ' '), root => !empty(root))
var eventPrefixes = concat([subjectOf(dataContainer)], map(datasetList, root => subjectOf(root)))

// `lake` → /blobServices/default/containers/lake/; `archive/scans` (or `archive/scans/`) →
// /blobServices/default/containers/archive/blobs/scans/ (functions see no variables).
func subjectOf(root string) string => '/blobServices/default/containers/${contains(root, '/') ? '${split(root, '/')[0]}/blobs/${folderOf(root)}' : '${root}/'}'

func folderOf(root string) string => endsWith(root, '/') ? substring(root, indexOf(root, '/') + 1) : '${substring(root, indexOf(root, '/') + 1)}/'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: tags
    appIdentityName: '${abbrs.managedIdentity}app-${resourceToken}'
    jobIdentityName: '${abbrs.managedIdentity}job-${resourceToken}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.storageAccount}${resourceToken}'
    containers: [dataContainer, 'derivatives', 'exports', 'imports', 'models', deploymentContainer]
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.cosmos}${resourceToken}'
    databaseName: 'loupe'
    containers: containers
    capacity: cosmosCapacity
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.serviceBus}${resourceToken}'
    queues: catalog.queues
    eventsTopicName: 'project-events'
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    name: functionAppName
    planName: '${abbrs.appServicePlan}${resourceToken}'
    identityId: identities.outputs.appIdentityId
    identityClientId: identities.outputs.appIdentityClientId
    storageAccountName: storage.outputs.name
    deploymentContainer: deploymentContainer
    appInsightsName: monitoring.outputs.appInsightsName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabase: cosmos.outputs.databaseName
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    dataContainer: dataContainer
    eventsTopic: serviceBus.outputs.eventsTopicName
    loupeAdmins: loupeAdmins
    datasetRoots: datasetRoots
  }
}

module events 'modules/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    location: location
    tags: tags
    topicName: '${abbrs.eventGridTopic}${resourceToken}'
    storageAccountName: storage.outputs.name
    serviceBusName: serviceBus.outputs.name
    queueName: catalog.blobEventsQueue
    subjectPrefixes: eventPrefixes
  }
}

module web 'modules/staticwebapp.bicep' = {
  name: 'staticwebapp'
  scope: rg
  params: {
    location: staticWebAppLocation
    tags: union(tags, { 'azd-service-name': 'web' })
    name: '${abbrs.staticWebApp}${resourceToken}'
    backendId: functionApp.outputs.id
    backendLocation: location
    authClientId: authClientId
    authClientSecret: authClientSecret
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.containerRegistry}${resourceToken}'
  }
}

// After the roles: the job pulls its image with its identity (AcrPull) when it is created.
module trainer 'modules/containerapps.bicep' = {
  name: 'containerapps'
  scope: rg
  dependsOn: [roles]
  params: {
    location: location
    tags: tags
    registryLoginServer: registry.outputs.loginServer
    environmentName: '${abbrs.containerAppsEnvironment}${resourceToken}'
    jobName: '${abbrs.containerAppsJob}train-${resourceToken}'
    jobServiceTags: union(tags, { 'azd-service-name': 'trainer' })
    workspaceId: monitoring.outputs.workspaceId
    gpuProfileType: gpuProfileType
    identityId: identities.outputs.jobIdentityId
    identityClientId: identities.outputs.jobIdentityClientId
    image: trainerImage
    trainingQueue: catalog.trainingQueue
    serviceBusName: serviceBus.outputs.name
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabase: cosmos.outputs.databaseName
    blobServiceUri: storage.outputs.blobEndpoint
    dataContainer: dataContainer
    eventsTopic: serviceBus.outputs.eventsTopicName
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    cosmosAccountName: cosmos.outputs.name
    serviceBusName: serviceBus.outputs.name
    registryName: registry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identities.outputs.appPrincipalId
    jobPrincipalId: identities.outputs.jobPrincipalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    trainingQueue: catalog.trainingQueue
  }
}

// Read by azd (the names of the outputs become azd environment values); nothing secret.
output AZURE_LOCATION string = location
// The tenant sign-in is limited to (written into the web UI's config before it is deployed).
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output STATIC_WEB_APP_URL string = web.outputs.url
output COSMOS__accountEndpoint string = cosmos.outputs.endpoint
output STORAGE__blobServiceUri string = storage.outputs.blobEndpoint
output SERVICEBUS__fullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output LOUPE_DATA_CONTAINER string = dataContainer
output LOUPE_TRAINING_QUEUE string = catalog.trainingQueue
