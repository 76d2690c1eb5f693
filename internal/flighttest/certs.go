package flighttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxCertificatesBytes caps the certificates JSON the server parses.
const MaxCertificatesBytes = 1 << 20

// Certificates are a project's certificates as hsfs sends them to the query
// service, in the x-certificates-json header or the body of the
// register-client-certificates action: {"kstore": base64 of the JKS key
// store, "tstore": base64 of the JKS trust store, "cert_key": the stores'
// password} (python/hsfs/core/arrow_flight_client.py, _certificates, in
// logicalclocks/hopsworks-api). KeyStore and TrustStore hold the decoded
// bytes.
type Certificates struct {
	KeyStore   []byte
	TrustStore []byte
	Password   string
}

// ParseCertificates reads the certificates JSON. It requires the three
// keys, as strings, with kstore and tstore non-empty standard base64, and
// ignores any other key.
func ParseCertificates(b []byte) (Certificates, error) {
	if len(b) > MaxCertificatesBytes {
		return Certificates{}, fmt.Errorf("certificates JSON over %d bytes", MaxCertificatesBytes)
	}
	var raw struct {
		KStore  *string `json:"kstore"`
		TStore  *string `json:"tstore"`
		CertKey *string `json:"cert_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return Certificates{}, fmt.Errorf("certificates JSON: %w", err)
	}
	if dec.More() {
		return Certificates{}, errors.New("certificates JSON: data after the object")
	}
	if raw.KStore == nil || raw.TStore == nil || raw.CertKey == nil {
		return Certificates{}, errors.New("certificates JSON needs kstore, tstore and cert_key")
	}
	var c Certificates
	var err error
	if c.KeyStore, err = decodeStore("kstore", *raw.KStore); err != nil {
		return Certificates{}, err
	}
	if c.TrustStore, err = decodeStore("tstore", *raw.TStore); err != nil {
		return Certificates{}, err
	}
	c.Password = *raw.CertKey
	return c, nil
}

func decodeStore(key, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("certificates JSON: %s is empty", key)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("certificates JSON: %s is not base64: %w", key, err)
	}
	return b, nil
}

// Equal reports whether c and o hold the same stores and password.
func (c Certificates) Equal(o Certificates) bool {
	return bytes.Equal(c.KeyStore, o.KeyStore) && bytes.Equal(c.TrustStore, o.TrustStore) && c.Password == o.Password
}
