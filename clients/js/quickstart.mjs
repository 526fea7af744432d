// Quick start: the official Microsoft Graph JavaScript client against idgraph.
//
//   export IDGRAPH_URL=https://127.0.0.1:9443   # idgraph serve's default address
//   export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...   # from `idgraph app create`
//   NODE_EXTRA_CA_CERTS=/path/to/idgraph/ca.pem node quickstart.mjs
import { ClientSecretCredential } from "@azure/identity";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

const url = (process.env.IDGRAPH_URL ?? "https://127.0.0.1:9443").replace(/\/+$/, "");

// idgraph is both the token authority and the Graph endpoint.
const credential = new ClientSecretCredential(
  process.env.AZURE_TENANT_ID,
  process.env.AZURE_CLIENT_ID,
  process.env.AZURE_CLIENT_SECRET,
  { authorityHost: url, disableInstanceDiscovery: true },
);
const client = Client.initWithMiddleware({
  authProvider: new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  }),
  baseUrl: url + "/",
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(url).hostname]), // without it, the client sends no token
});

const connector = await client.api("/identity/apiConnectors").post({
  displayName: "Sign-up validation",
  targetUrl: "https://api.example.com/validate",
  authenticationConfiguration: {
    "@odata.type": "#microsoft.graph.basicAuthentication",
    username: "idgraph",
    password: "s3cret-passw0rd",
  },
});
console.log("created", connector.id);

const path = `/identity/apiConnectors/${connector.id}`;
await client.api(path).get();
await client.api(path).patch({ displayName: "Sign-up validation (v2)" });
console.log("updated");

await client.api(path).delete();
console.log("deleted");
