package certinfo

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/graph"
)

func TestParse(t *testing.T) {
	nb := time.Unix(1508670522, 0)
	na := time.Unix(1666350522, 0)
	for _, pw := range []string{"", "CertificatePassword", "pässwörd"} {
		pfx, err := certtest.New("connector", pw, nb, na)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(pfx.Base64)
		got, err := Parse(raw, pw)
		if err != nil {
			t.Fatalf("Parse(password %q): %v", pw, err)
		}
		want := Info{Thumbprint: pfx.Thumbprint, NotBefore: 1508670522, NotAfter: 1666350522}
		if got != want {
			t.Errorf("Parse(password %q) = %+v, want %+v", pw, got, want)
		}
		if len(got.Thumbprint) != 40 {
			t.Errorf("thumbprint %q is not 40 hex digits", got.Thumbprint)
		}
	}
}

func TestParseRejects(t *testing.T) {
	pfx, err := certtest.Valid("c", "right")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(pfx.Base64)
	cases := map[string]struct {
		data []byte
		pw   string
	}{
		"wrong password": {raw, "wrong"},
		"empty":          {nil, ""},
		"not pkcs12":     {[]byte("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ"), ""},
		"truncated":      {raw[:len(raw)/2], "right"},
		"too large":      {make([]byte, MaxPKCS12Size+1), ""},
	}
	for name, c := range cases {
		_, err := Parse(c.data, c.pw)
		if graph.KindOf(err) != graph.KindInvalid {
			t.Errorf("%s: err = %v (kind %v), want KindInvalid", name, err, graph.KindOf(err))
		}
	}
}

func FuzzParse(f *testing.F) {
	pfx, err := certtest.Valid("c", "pw")
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(pfx.Base64)
	f.Add(raw, "pw")
	f.Add([]byte{0x30, 0x82, 0x01}, "")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		info, err := Parse(data, pw)
		if err != nil && graph.KindOf(err) != graph.KindInvalid {
			t.Fatalf("Parse error of kind %v: %v", graph.KindOf(err), err)
		}
		if err == nil && len(info.Thumbprint) != 40 {
			t.Fatalf("bad thumbprint %q", info.Thumbprint)
		}
	})
}
