// The web UI on Static Web Apps (Standard: linked backends and custom sign-in need it). SWA
// signs people in with Entra ID through the deployment's own app registration, limited to its
// tenant (webui/public/staticwebapp.config.json names the setting names below; the tenant is
// written into its issuer at deploy), and forwards /api/* to the linked Function App with the
// x-ms-client-principal header; Loupe's own roles (owner, reviewer, labeler) are per project and
// live in Cosmos, so the route rules only require an authenticated user. Programs come in on
// /api/programs/* with Loupe tokens, and links on /api/blobs/*, which SWA lets through.
param location string
param tags object
param name string
param backendId string
param backendLocation string
@description('Application (client) id of the Entra app registration people sign in with')
param authClientId string
@secure()
@description('A client secret of that app registration')
param authClientSecret string

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

// The names staticwebapp.config.json's registration reads (clientIdSettingName and
// clientSecretSettingName).
resource settings 'Microsoft.Web/staticSites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    LOUPE_AUTH_CLIENT_ID: authClientId
    LOUPE_AUTH_CLIENT_SECRET: authClientSecret
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostname}'
