// Package graph is idgraph's domain: the resources of the Microsoft Graph
// identity-configuration slice as they are stored (API connectors, identity
// providers, tenants), their validation rules, the caller (Principal) and the
// one error type every layer speaks.
//
// It imports only the standard library. It knows nothing of HTTP, JSON wire
// shapes, SQL or tokens: the httpapi package turns wire bodies into these types
// and back, the store package persists them, the auth package produces a
// Principal. Secrets appear here only as Sealed values (ciphertext), so a
// domain value can never leak a secret by being printed or encoded.
package graph
