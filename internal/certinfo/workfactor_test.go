package certinfo

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/certinfo/certtest"
	"github.com/idgraph/idgraph/internal/graph"
	"software.sslmate.com/src/go-pkcs12"
)

// The files in testdata were made with go-pkcs12 encoders and the iteration
// count in their names, password "pw" (encoding runs the KDF, so they are
// made once rather than on every test run).

func TestWorkFactorRefusedBeforeDecoding(t *testing.T) {
	for _, name := range []string{"modern2023-1000001.pfx", "modern2026-1000001.pfx", "legacy-1000001.pfx"} {
		pfx, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := checkWorkFactor(pfx)
		if !parsed || !errors.Is(err, errTooManyIteration) {
			t.Errorf("%s: checkWorkFactor = %v, %v; want parsed and errTooManyIteration", name, parsed, err)
		}
		_, err = Parse(pfx, "pw")
		if graph.KindOf(err) != graph.KindInvalid || !errors.Is(err, errTooManyIteration) {
			t.Errorf("%s: Parse err = %v, want KindInvalid caused by errTooManyIteration", name, err)
		}
	}
}

func TestWorkFactorAtLimitAllowed(t *testing.T) {
	pfx, err := os.ReadFile(filepath.Join("testdata", "modern2023-1000000.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := checkWorkFactor(pfx); !parsed || err != nil {
		t.Errorf("checkWorkFactor = %v, %v; want parsed, nil", parsed, err)
	}
}

// The checker must actually read the files real tools make, or it would
// silently let everything through to the pool.
func TestWorkFactorReadsCommonEncodings(t *testing.T) {
	for name, enc := range map[string]*pkcs12.Encoder{
		"Modern2023": pkcs12.Modern2023, "Modern2026": pkcs12.Modern2026,
		"LegacyDES": pkcs12.LegacyDES, "LegacyRC2": pkcs12.LegacyRC2,
	} {
		pfx, err := certtest.NewWith(enc, "c", "pw", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(pfx.Base64)
		if parsed, err := checkWorkFactor(raw); !parsed || err != nil {
			t.Errorf("%s: checkWorkFactor = %v, %v; want parsed, nil", name, parsed, err)
		}
	}
}

func TestDecodeDeadlineAndPool(t *testing.T) {
	slow, err := os.ReadFile(filepath.Join("testdata", "modern2023-1000000.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	old := decodeDeadline
	t.Cleanup(func() { decodeDeadline = old })

	// A decode that outlives the deadline is answered, not waited for.
	decodeDeadline = time.Millisecond
	if _, _, err := decodeBounded(slow, "pw"); err != errSlow {
		t.Fatalf("decodeBounded past its deadline: err = %v, want errSlow", err)
	}
	// Its slot stays taken until the decode really ends; wait for that.
	for range cap(decodeSlots) {
		decodeSlots <- struct{}{}
	}
	// With every slot taken, a new decode is refused as busy (503).
	if _, _, err := decodeBounded(slow, "pw"); graph.KindOf(err) != graph.KindUnavailable {
		t.Fatalf("decodeBounded with no free slot: err = %v, want KindUnavailable", err)
	}
	for range cap(decodeSlots) {
		<-decodeSlots
	}
}
