// Writes the deployment's Entra tenant into the built Static Web App config, so that sign-in
// takes only accounts of that tenant (a tenant-specific OpenID issuer; the built-in provider
// would take every tenant and personal Microsoft accounts). azd runs it before deploying the
// web service (azure.yaml), with AZURE_TENANT_ID from the provisioned environment.
//   node scripts/entra-tenant.mjs [dist/staticwebapp.config.json]
import { readFileSync, writeFileSync } from "node:fs";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const tenant = (process.env.AZURE_TENANT_ID || "").trim();
if (!GUID.test(tenant)) {
  console.error(`AZURE_TENANT_ID must be the deployment's Entra tenant id (a GUID), not ${JSON.stringify(tenant)}`);
  process.exit(1);
}
const file = process.argv[2] || "dist/staticwebapp.config.json";
const config = JSON.parse(readFileSync(file, "utf8"));
const registration = config.auth?.identityProviders?.azureActiveDirectory?.registration;
if (!registration) {
  console.error(`${file} has no auth.identityProviders.azureActiveDirectory.registration`);
  process.exit(1);
}
registration.openIdIssuer = `https://login.microsoftonline.com/${tenant.toLowerCase()}/v2.0`;
writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
console.log(`${file}: sign-in limited to tenant ${tenant}`);
