package certinfo

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// MaxIterations caps the key-derivation and MAC iteration counts of an
// uploaded PKCS#12 file. The counts are chosen by whoever made the file and
// the decoder runs them, so without a cap one upload could keep a CPU busy for
// minutes. Real files use 2,048 to 600,000.
const MaxIterations = 1_000_000

var (
	oidData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidPBES2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPKCS12PBEPrefix  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
	errTooManyIteration = errors.New("pkcs12: iteration count above the limit")
)

type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type encryptedData struct {
	Version              int
	EncryptedContentInfo struct {
		ContentType                asn1.ObjectIdentifier
		ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
		EncryptedContent           asn1.RawValue `asn1:"optional"`
	}
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// checkWorkFactor reads every iteration count visible without the password
// (the MAC, each encrypted container, each shrouded key outside one) and
// refuses the file if one is above MaxIterations. It reports parsed=false for
// a file it cannot read as DER; decoding is then bounded by the pool alone.
func checkWorkFactor(pfx []byte) (parsed bool, err error) {
	var pdu pfxPDU
	if rest, err := asn1.Unmarshal(pfx, &pdu); err != nil || len(rest) != 0 {
		return false, nil
	}
	if pdu.MacData.Iterations > MaxIterations {
		return true, errTooManyIteration
	}
	if pdu.MacData.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
		if err := checkPBMAC1(pdu.MacData.Mac.Algorithm.Parameters.FullBytes); err != nil {
			return true, err
		}
	}
	if !pdu.AuthSafe.ContentType.Equal(oidData) {
		return false, nil
	}
	var authSafeBytes []byte
	if _, err := asn1.Unmarshal(pdu.AuthSafe.Content.Bytes, &authSafeBytes); err != nil {
		return false, nil
	}
	var authSafe []contentInfo
	if _, err := asn1.Unmarshal(authSafeBytes, &authSafe); err != nil {
		return false, nil
	}
	for _, ci := range authSafe {
		switch {
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
				return false, nil
			}
			if err := checkAlgorithm(ed.EncryptedContentInfo.ContentEncryptionAlgorithm); err != nil {
				return true, err
			}
		case ci.ContentType.Equal(oidData):
			var data []byte
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &data); err != nil {
				return false, nil
			}
			var bags []safeBag
			if _, err := asn1.Unmarshal(data, &bags); err != nil {
				return false, nil
			}
			for _, b := range bags {
				if !b.ID.Equal(oidShroudedKeyBag) {
					continue
				}
				var epki encryptedPrivateKeyInfo
				if _, err := asn1.Unmarshal(b.Value.Bytes, &epki); err != nil {
					return false, nil
				}
				if err := checkAlgorithm(epki.Algorithm); err != nil {
					return true, err
				}
			}
		}
	}
	return true, nil
}

// checkAlgorithm checks the iteration count of a password-based encryption
// algorithm: PBES2 with PBKDF2, or a legacy PKCS#12 PBE scheme.
func checkAlgorithm(alg pkix.AlgorithmIdentifier) error {
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var params struct {
			KDF        pkix.AlgorithmIdentifier
			Encryption pkix.AlgorithmIdentifier
		}
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			return fmt.Errorf("pkcs12: PBES2 parameters: %w", err)
		}
		return checkPBKDF2(params.KDF)
	case hasPrefix(alg.Algorithm, oidPKCS12PBEPrefix):
		var params struct {
			Salt       []byte
			Iterations int
		}
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			return fmt.Errorf("pkcs12: PBE parameters: %w", err)
		}
		if params.Iterations > MaxIterations {
			return errTooManyIteration
		}
	}
	return nil
}

func checkPBKDF2(kdf pkix.AlgorithmIdentifier) error {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return nil
	}
	var params struct {
		Salt       asn1.RawValue
		Iterations int
		Rest       asn1.RawValue `asn1:"optional"`
		Rest2      asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &params); err != nil {
		// An iteration count too large for an int lands here too.
		return fmt.Errorf("pkcs12: PBKDF2 parameters: %w", err)
	}
	if params.Iterations > MaxIterations {
		return errTooManyIteration
	}
	return nil
}

func checkPBMAC1(der []byte) error {
	var params struct {
		KDF pkix.AlgorithmIdentifier
		MAC pkix.AlgorithmIdentifier
	}
	if _, err := asn1.Unmarshal(der, &params); err != nil {
		return fmt.Errorf("pkcs12: PBMAC1 parameters: %w", err)
	}
	return checkPBKDF2(params.KDF)
}

func hasPrefix(oid, prefix asn1.ObjectIdentifier) bool {
	return len(oid) > len(prefix) && oid[:len(prefix)].Equal(prefix)
}
