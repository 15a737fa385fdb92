// The container registry the training job's image is built in (`azd deploy trainer`, a remote
// build). A module of its own so that the role assignments (AcrPull) need nothing from the GPU
// environment: a region without GPU quota still gets every role, and the job, created after
// them, pulls its image with its identity from its first start.
param location string
param tags object
param name string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
