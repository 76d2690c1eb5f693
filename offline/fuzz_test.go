package offline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzCertificatesJSON checks the certificates JSON for any stores and
// password: printable ASCII (a valid gRPC header value, as Python's
// json.dumps makes it) that decodes to exactly the inputs, with the keys
// hsfs uses.
func FuzzCertificatesJSON(f *testing.F) {
	f.Add([]byte("ks"), []byte("ts"), "pw")
	f.Add([]byte{0, 0xff}, []byte("\x7f"), "pässwörd 🔑 \x7f\n\"\\")
	f.Add([]byte{}, []byte{}, "\xff\xfe")
	f.Fuzz(func(t *testing.T, ks, ts []byte, pw string) {
		b := certificatesJSON(ks, ts, pw)
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("byte %#x in %q", c, b)
			}
		}
		var got struct {
			KStore  string `json:"kstore"`
			TStore  string `json:"tstore"`
			CertKey string `json:"cert_key"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		k, err1 := base64.StdEncoding.DecodeString(got.KStore)
		s, err2 := base64.StdEncoding.DecodeString(got.TStore)
		if err1 != nil || err2 != nil || !bytes.Equal(k, ks) || !bytes.Equal(s, ts) {
			t.Fatalf("stores did not round trip: %q", b)
		}
		// json.Marshal replaces invalid UTF-8 by U+FFFD, as json.dumps
		// cannot take it either; valid text must come back unchanged.
		if utf8.ValidString(pw) && got.CertKey != pw {
			t.Fatalf("password %q came back as %q", pw, got.CertKey)
		}
	})
}

// FuzzParseVersion checks that any get-version answer gives a short
// printable version or "unknown", never a panic.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"4.1.0", " 4.2.0-SNAPSHOT\n", "", "\x00", "\xff", string(bytes.Repeat([]byte("9"), 300))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := parseVersion(b)
		if v == "" || len(v) > maxVersionBytes || !utf8.ValidString(v) {
			t.Fatalf("parseVersion(%q) = %q", b, v)
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("parseVersion(%q) = %q holds a control character", b, v)
			}
		}
	})
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"4.1.0": "4.1.0", " 4.2.0\n": "4.2.0", "": "unknown", "a\x00b": "unknown", "\xff": "unknown",
		string(bytes.Repeat([]byte("9"), 257)): "unknown",
	} {
		if got := parseVersion([]byte(in)); got != want {
			t.Errorf("parseVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
