// The web UI on Static Web Apps (Standard: linked backends need it). SWA signs users in and
// forwards /api/* to the linked Function App with the x-ms-client-principal header; Loupe's
// own roles (owner, reviewer, labeler) are per project and live in Cosmos, so the route rules
// in webui/public/staticwebapp.config.json only require an authenticated user.
param location string
param tags object
param name string
param backendId string
param backendLocation string

resource site 'Microsoft.Web/staticSites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
  }
}

resource backend 'Microsoft.Web/staticSites/linkedBackends@2024-04-01' = {
  parent: site
  name: 'api'
  properties: {
    backendResourceId: backendId
    region: backendLocation
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostname}'
