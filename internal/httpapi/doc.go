// Package httpapi is idgraph's Microsoft Graph HTTP surface.
//
// A request flows through one fixed chain (Server.ServeHTTP): request ids and
// panic recovery, then the path is normalised the way Graph reads it (version
// segment, case-insensitive names, ('key') segments, optional
// microsoft.graph. prefixes and () on functions, ids unescaped per segment so
// %2F stays inside an id), the bearer token is verified, the route is looked
// up in the table in routes.go, the route's permission policy is checked, and
// finally the handler runs. Handlers have one shape: decode → validate →
// store → respond. Secrets are sealed when a body is decoded (decode.go) and
// masked when a response is encoded (one render function per resource); no
// wire type has a field that could carry a secret out.
package httpapi
