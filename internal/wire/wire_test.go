package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// FuzzAppendString checks that every string becomes a JSON string literal
// that decodes back to the same text (invalid UTF-8 turns into U+FFFD, as
// encoding/json does).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\n\r\t\x00\x1f", "é✓𝄞", "\xff\xfe", "</script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: not JSON: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// Each invalid byte becomes its own replacement character.
			want = string(bytes.Runes([]byte(s)))
		}
		if got != want {
			t.Fatalf("round trip of %q gave %q, want %q", s, got, want)
		}
	})
}

// TestEncodeRoundTrip decodes an encoded batch with the standard library.
func TestEncodeRoundTrip(t *testing.T) {
	tags := NewTags(map[string]string{"b": "2", "a": "1"})
	in := []Sample{
		{RouterID: "rtr", Metric: "latency", TsMs: 1764201600123, Value: 42.5, OK: true, Tags: tags, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{RouterID: "rtr", Metric: "count", TsMs: 1764201600124, Value: 3, OK: false},
	}
	enc := NewEncoder(make([]byte, 32))
	out, err := enc.Encode(in, 1764201600999)
	if err != nil {
		t.Fatal(err)
	}
	if out.Timestamp != "1764201600999" || !strings.HasPrefix(out.Signature, "v1=") || len(out.Signature) != 3+64 {
		t.Fatalf("headers %q %q", out.Timestamp, out.Signature)
	}
	zr, err := gzip.NewReader(bytes.NewReader(out.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	var doc struct {
		Samples []map[string]any `json:"samples"`
	}
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatalf("%s: %v", plain, err)
	}
	if len(doc.Samples) != 2 || doc.Samples[0]["value"] != 42.5 || doc.Samples[1]["ok"] != false {
		t.Fatalf("decoded %v", doc.Samples)
	}
	if _, ok := doc.Samples[1]["tags"]; ok {
		t.Fatal("empty tags encoded")
	}
	if got := string(plain); !strings.Contains(got, `"tags":{"a":"1","b":"2"}`) {
		t.Fatalf("tags not sorted: %s", got)
	}
}

func TestParseSecret(t *testing.T) {
	good := strings.Repeat("0f", 32)
	for _, s := range []string{good, "ik_" + good} {
		if k, err := ParseSecret(s); err != nil || len(k) != 32 {
			t.Errorf("ParseSecret(%q) = %d bytes, %v", s, len(k), err)
		}
	}
	for _, s := range []string{"", "ik_", good[:62], good + "00", strings.Repeat("zz", 32)} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) accepted", s)
		} else if len(s) >= 8 && strings.Contains(err.Error(), s) {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

// jsonSample is a sample in the shape encoding/json would encode it, for
// BenchmarkAppendBatch's comparison.
type jsonSample struct {
	RouterID string            `json:"router_id"`
	Metric   string            `json:"metric"`
	TsMs     int64             `json:"ts_ms"`
	Value    float64           `json:"value"`
	OK       bool              `json:"ok"`
	Tags     map[string]string `json:"tags,omitempty"`
	TraceID  string            `json:"trace_id,omitempty"`
}

// BenchmarkAppendBatch encodes a batch of 500 samples with the encoder
// of this package and with encoding/json.
func BenchmarkAppendBatch(b *testing.B) {
	tags := map[string]string{"env": "prod", "region": "eu-west-1"}
	samples := make([]Sample, 500)
	js := make([]jsonSample, len(samples))
	for i := range samples {
		samples[i] = Sample{RouterID: "rtr_checkout", Metric: "latency", TsMs: 1_700_000_000_000 + int64(i),
			Value: 12.5 + float64(i), OK: i%7 != 0, Tags: NewTags(tags), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
		s := samples[i]
		js[i] = jsonSample{s.RouterID, s.Metric, s.TsMs, s.Value, s.OK, tags, s.TraceID}
	}
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendBatch(buf[:0], samples)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		doc := struct {
			Samples []jsonSample `json:"samples"`
		}{js}
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(&doc)
		}
		b.SetBytes(int64(buf.Len()))
	})
}
