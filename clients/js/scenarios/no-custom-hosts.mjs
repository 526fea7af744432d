// Without customHosts the Graph client sends no token to a non-Microsoft
// host; idgraph answers 401 and says why.
import { graphClient, rejectsWithGraphError, step } from "./graph.mjs";

const client = graphClient({ customHosts: false });
await rejectsWithGraphError(
  client.api("/identity/apiConnectors").get(),
  { statusCode: 401, message: /allowed hosts/i },
  "request without customHosts",
);
step("401 mentions allowed hosts");
