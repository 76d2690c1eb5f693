package aca

import (
	"errors"
	"strings"
	"testing"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    State
		wantErr error // nil: must parse
	}{
		{name: "judge body", body: `{"active": "eu", "secondary": "us"}`, want: State{Active: "eu", Secondary: "us"}},
		{name: "trailing newline", body: "{\"active\":\"eu\",\"secondary\":\"us\"}\n", want: State{Active: "eu", Secondary: "us"}},
		{name: "upper case is lowered", body: `{"active": "EU", "secondary": "Us"}`, want: State{Active: "eu", Secondary: "us"}},
		{name: "extra fields ignored", body: `{"active":"eu","secondary":"us","region":{"x":[1,2]},"ts":"2024"}`, want: State{Active: "eu", Secondary: "us"}},
		{name: "epoch", body: `{"active":"us","secondary":"eu","epoch":42}`, want: State{Active: "us", Secondary: "eu", Epoch: 42}},
		{name: "null epoch", body: `{"active":"us","epoch":null}`, want: State{Active: "us"}},
		{name: "no secondary", body: `{"active":"eu"}`, want: State{Active: "eu"}},
		{name: "empty secondary", body: `{"active":"eu","secondary":""}`, want: State{Active: "eu"}},
		{name: "padded", body: " \t{\"active\":\" eu \"}\r\n", want: State{Active: "eu"}},

		{name: "empty", body: "", wantErr: ErrInvalidState},
		{name: "whitespace", body: "  \n", wantErr: ErrInvalidState},
		{name: "html error page", body: "<html><body><h1>502 Bad Gateway</h1></body></html>", wantErr: ErrInvalidState},
		{name: "plain text", body: "eu", wantErr: ErrInvalidState},
		{name: "json string", body: `"eu"`, wantErr: ErrInvalidState},
		{name: "json array", body: `[{"active":"eu"}]`, wantErr: ErrInvalidState},
		{name: "json null", body: `null`, wantErr: ErrInvalidState},
		{name: "truncated", body: `{"active": "eu", "secon`, wantErr: ErrInvalidState},
		{name: "trailing garbage", body: `{"active":"eu"}<html>`, wantErr: ErrInvalidState},
		{name: "two objects", body: `{"active":"eu"}{"active":"us"}`, wantErr: ErrInvalidState},
		{name: "missing active", body: `{"secondary":"us"}`, wantErr: ErrInvalidState},
		{name: "empty active", body: `{"active":"","secondary":"us"}`, wantErr: ErrInvalidState},
		{name: "blank active", body: `{"active":"   ","secondary":"us"}`, wantErr: ErrInvalidState},
		{name: "null active", body: `{"active":null}`, wantErr: ErrInvalidState},
		{name: "numeric active", body: `{"active":1}`, wantErr: ErrInvalidState},
		{name: "active equals secondary", body: `{"active":"eu","secondary":"eu"}`, wantErr: ErrInvalidState},
		{name: "active equals secondary ignoring case", body: `{"active":"eu","secondary":"EU"}`, wantErr: ErrInvalidState},
		{name: "space inside id", body: `{"active":"e u"}`, wantErr: ErrInvalidState},
		{name: "duplicate active", body: `{"active":"eu","active":"us"}`, wantErr: ErrInvalidState},
		{name: "key case matters", body: `{"Active":"eu"}`, wantErr: ErrInvalidState},
		{name: "negative epoch", body: `{"active":"eu","epoch":-1}`, wantErr: ErrInvalidState},
		{name: "fractional epoch", body: `{"active":"eu","epoch":1.5}`, wantErr: ErrInvalidState},
		{name: "string epoch", body: `{"active":"eu","epoch":"3"}`, wantErr: ErrInvalidState},
		{name: "huge epoch", body: `{"active":"eu","epoch":18446744073709551616}`, wantErr: ErrInvalidState},
		{name: "oversized", body: `{"active":"eu","pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, wantErr: ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseState([]byte(tt.body))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseState: %v", err)
				}
				if got != tt.want {
					t.Fatalf("ParseState = %+v, want %+v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalidState) {
				t.Fatalf("ParseState error = %v, want %v wrapping ErrInvalidState", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "aca: ") {
				t.Errorf("error %q lacks the aca: prefix", err)
			}
			if got != (State{}) {
				t.Errorf("ParseState returned %+v with an error", got)
			}
		})
	}
}

func TestEncodeStateRoundTrip(t *testing.T) {
	for _, s := range []State{
		{Active: "eu", Secondary: "us"},
		{Active: "us"},
		{Active: "us", Secondary: "eu", Epoch: 7},
	} {
		got, err := ParseState(encodeState(s))
		if err != nil || got != s {
			t.Errorf("round trip of %+v = %+v, %v", s, got, err)
		}
	}
	if got, want := string(encodeState(State{Active: "eu", Secondary: "us"})), "{\"active\":\"eu\",\"secondary\":\"us\"}\n"; got != want {
		t.Errorf("encodeState = %q, want %q", got, want)
	}
}

func FuzzParseState(f *testing.F) {
	for _, seed := range []string{
		`{"active": "eu", "secondary": "us"}`,
		`{"active":"US","secondary":"eu","epoch":3}`,
		`{"active":"eu","extra":{"a":[1,"b",null]}}`,
		`{"active":"eu","secondary":"EU"}`,
		`{"active":"eu","active":"us"}`,
		`{"active":"eu"} trailing`,
		`<html><body>502</body></html>`,
		``,
		`null`,
		`{"active":"eu","epoch":-1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseState(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidState) {
				t.Fatalf("error %v does not wrap ErrInvalidState", err)
			}
			if s != (State{}) {
				t.Fatalf("non-zero state %+v with error %v", s, err)
			}
			return
		}
		// A parsed state keeps the invariants the client relies on.
		if s.Active == "" {
			t.Fatal("parsed state has an empty active region")
		}
		if s.Secondary != "" && s.Active.Equal(s.Secondary) {
			t.Fatalf("active equals secondary: %+v", s)
		}
		if string(s.Active) != strings.ToLower(string(s.Active)) {
			t.Fatalf("active %q is not lower-cased", s.Active)
		}
		// What we serve, we parse back to the same state.
		again, err := ParseState(encodeState(s))
		if err != nil || again != s {
			t.Fatalf("re-parse of %+v = %+v, %v", s, again, err)
		}
	})
}
