package httpapi

import (
	"net/url"
	"strings"

	"github.com/idgraph/idgraph/internal/graph"
)

// segment is one path segment as Graph reads it.
type segment struct {
	value string // unescaped: "%2F" in an id is part of the id
	call  bool   // written with "()" (a function call)
}

// splitPath turns an escaped request path into its version and segments. It
// splits on the escaped form, so an encoded "/" never splits an id; a
// ('key') suffix becomes a segment of its own; a trailing slash is ignored.
func splitPath(escaped string) (version string, segs []segment, err error) {
	parts := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	if n := len(parts); n > 1 && parts[n-1] == "" {
		parts = parts[:n-1]
	}
	for i, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "", nil, errBadPath
		}
		// Unescape before reading key syntax: OData treats %27, %28 and %29
		// as the quote and parentheses they encode. The split on "/" above
		// was done on the escaped form, so an encoded "/" stays in its segment.
		v, err := url.PathUnescape(p)
		if err != nil {
			return "", nil, errBadPath
		}
		if i == 0 {
			version = v
			continue
		}
		name, key, hasKey, call := splitKey(v)
		if name == "" || name == "." || name == ".." {
			return "", nil, errBadPath
		}
		segs = append(segs, segment{value: name, call: call})
		if hasKey {
			if key == "" {
				return "", nil, errBadPath
			}
			segs = append(segs, segment{value: key})
		}
	}
	return version, segs, nil
}

var errBadPath = graph.Errorf(graph.KindInvalid, "The request path is not a valid Graph path.")

// splitKey splits "name('key')" into name and key, and "name()" into name and
// a call marker. Quotes inside the key are doubled, as OData writes them.
func splitKey(p string) (name, key string, hasKey, call bool) {
	if !strings.HasSuffix(p, ")") {
		return p, "", false, false
	}
	open := strings.IndexByte(p, '(')
	if open < 0 {
		return p, "", false, false
	}
	name, inner := p[:open], p[open+1:len(p)-1]
	if inner == "" {
		return name, "", false, true
	}
	if len(inner) >= 2 && inner[0] == '\'' && inner[len(inner)-1] == '\'' {
		return name, strings.ReplaceAll(inner[1:len(inner)-1], "''", "'"), true, false
	}
	return name, inner, true, false
}

// matchLiteral reports whether a segment names literal lit: case-insensitive,
// optionally qualified with "microsoft.graph." (bound operations are).
func matchLiteral(s segment, lit string) bool {
	v := s.value
	if len(v) > len(graphNS) && strings.EqualFold(v[:len(graphNS)], graphNS) {
		v = v[len(graphNS):]
	}
	return strings.EqualFold(v, lit)
}
