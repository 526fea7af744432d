package config

import (
	"strings"
	"testing"
)

func TestStoreSetting(t *testing.T) {
	for _, tc := range []struct {
		store string
		ok    bool
	}{
		{"", true},
		{"postgres://idgraph@db.internal:5432/idgraph?sslmode=require", true},
		{"postgresql://localhost/idgraph", true},
		{"postgres:idgraph", false}, // opaque: not a URL with a host
		{"mysql://localhost/idgraph", false},
		{"/var/lib/idgraph/idgraph.db", false},
		{"sqlite", false},
	} {
		c := Default()
		c.Store = tc.store
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate with store %q: %v, want ok=%v", tc.store, err, tc.ok)
		}
	}
}

func TestRedactStoreHidesCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "embedded"},
		{"postgres://idgraph:s3cr3t@db:5432/idgraph?sslmode=require", "postgres://db:5432/idgraph?sslmode=require"},
		{"postgres://db/idgraph?password=s3cr3t&Password=s3cr3t&user=u&sslpassword=s3cr3t&search_path=x", "postgres://db/idgraph?search_path=x"},
		{"host=db user=idgraph password=s3cr3t", "(not a postgres:// URL)"},
		{"postgres:u:s3cr3t@db/x", "(not a postgres:// URL)"},
		{"mysql://u:s3cr3t@db/x", "(not a postgres:// URL)"},
	} {
		got := RedactStore(tc.in)
		if got != tc.want {
			t.Errorf("RedactStore(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("RedactStore(%q) shows the password: %q", tc.in, got)
		}
	}
	c := Default()
	c.Store = "postgres://idgraph:s3cr3t@db/idgraph"
	if s := c.String(); strings.Contains(s, "s3cr3t") || !strings.Contains(s, "store=postgres://db/idgraph") {
		t.Errorf("Config.String() = %q", s)
	}
}
