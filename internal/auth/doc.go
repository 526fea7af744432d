// Package auth turns a bearer token into a graph.Principal and decides, from
// a table of permissions, whether that principal may run an operation.
//
// Verification (Verifier) accepts only RS256 JWTs signed by a key that the
// key source knows by the token's kid; it never follows jku, x5u or embedded
// keys. It checks iss against the tenant in tid, aud against Graph's
// audiences, and exp/nbf/iat with a 300-second leeway. Authorization
// (Authorize) is one function over data: application tokens need a role from
// the operation's list; delegated tokens need a scope from its list and a
// directory role (built-in template id or a custom role granting the
// operation's resource action) in wids. Handlers never re-check.
package auth
