package localserver

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	fuzzSecretHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	fuzzNow       = time.UnixMilli(1764201600000)
)

func fuzzGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func fuzzSign(ts string, body []byte) string {
	key, _ := hex.DecodeString(fuzzSecretHex)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// FuzzIngestDecode feeds arbitrary bodies, encodings, timestamps and
// signatures to the ingest decoder. With signIt set the body is signed
// correctly, so that the fuzzer also explores gzip and JSON decoding.
func FuzzIngestDecode(f *testing.F) {
	ts := strconv.FormatInt(fuzzNow.UnixMilli(), 10)
	valid := []byte(`{"samples":[{"router_id":"rtr_1","metric":"latency","ts_ms":1764201600123,"value":42.5,"ok":true,"tags":{"env":"prod"},"trace_id":"4bf9"}]}`)
	f.Add(fuzzGzip(valid), "gzip", ts, "", true)
	f.Add(valid, "", ts, "", true)
	f.Add(fuzzGzip(valid), "gzip", ts, fuzzSign(ts, fuzzGzip(valid)), false)
	f.Add(fuzzGzip(valid), "gzip", "1", "v1=00", false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, "", ts, "", true)
	f.Add(fuzzGzip([]byte(`{"samples":[{"metric":"m"}]}`)), "gzip", ts, "", true)
	f.Add(fuzzGzip([]byte(`{"samples":[{"router_id":"r","metric":"m","tags":{"":"x"}}]}`)), "x-gzip", ts, "", true)
	f.Add([]byte(`[]`), "identity", ts, "", true)
	f.Add([]byte(`{"samples":null}`), "br", ts, "", true)
	key, _ := hex.DecodeString(fuzzSecretHex)
	f.Fuzz(func(t *testing.T, body []byte, encoding, ts, sig string, signIt bool) {
		if signIt {
			sig = fuzzSign(ts, body)
		}
		samples, aerr := decodeIngest(ingestInput{Body: body, Encoding: encoding, Timestamp: ts, Signature: sig,
			Secret: key, RequireSig: true, Now: fuzzNow})
		if aerr != nil {
			if !slices.Contains([]int{400, 401, 413, 415}, aerr.Status) || aerr.Message == "" || aerr.Code == "" {
				t.Fatalf("unexpected error %+v", aerr)
			}
			if aerr.Status == http.StatusUnauthorized && len(sig) >= 8 && bytes.Contains([]byte(aerr.Message), []byte(sig)) {
				t.Fatal("error message echoes the signature")
			}
			return
		}
		if ok := verifySignature(ingestInput{Body: body, Timestamp: ts, Signature: sig, Secret: key, Now: fuzzNow}); ok != nil {
			t.Fatal("accepted a batch whose signature does not verify")
		}
		for i := range samples {
			if err := checkSample(i, &samples[i]); err != nil {
				t.Fatalf("accepted an invalid sample: %v", err)
			}
			if err := checkTags(i, samples[i].Tags); err != nil {
				t.Fatalf("accepted invalid tags: %v", err)
			}
		}
	})
}

// FuzzAdminDecode feeds arbitrary JSON to the management API decoders.
// Whatever they accept must be valid and stable under re-validation.
func FuzzAdminDecode(f *testing.F) {
	f.Add([]byte(`{"name":"b","metric":"latency","kind":"p95","op":"gt","threshold":500}`))
	f.Add([]byte(`{"breaker":{"name":"b","metric":"m","kind":"percentile","kind_params":{"percentile":99},"op":"lte","threshold":1,"router_ids":["r"]}}`))
	f.Add([]byte(`{"name":"b","metric":"m","kind":"error_rate","op":"gt","threshold":0.5,"window_ms":-5}`))
	f.Add([]byte(`{"name":"r","mode":"weighted","metadata":{"a":"b"},"actions":[{"x":1}]}`))
	f.Add([]byte(`{"name":"c","channel":"slack","config":{"u":1},"events":["trip"]}`))
	f.Add([]byte(`{"a":"b","c":null}`))
	f.Add([]byte(`{"metadata":{"a":"b"}}`))
	f.Add([]byte(`{"name":1e400}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"window_ms":"x","cooldown_ms":null}`))
	f.Add([]byte(`[{"name":"b","metric":"m","kind":"max","op":"gt","threshold":1},{"min_count":true}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if in, err := unmarshalBreakerInput(body, true); err == nil {
			if sp, aerr := in.apply(breakerSpec{}, ""); aerr == nil {
				again, aerr := validateSpec(sp, "")
				if aerr != nil {
					t.Fatalf("accepted spec fails re-validation: %v", aerr)
				}
				if jsonOf(again) != jsonOf(sp) {
					t.Fatalf("re-validation changed the spec:\n%s\n%s", jsonOf(sp), jsonOf(again))
				}
			} else if aerr.Status != http.StatusUnprocessableEntity || aerr.Field == "" {
				t.Fatalf("breaker error without a field: %+v", aerr)
			}
		} else {
			checkDecodeError(t, err)
		}
		if in, err := unmarshalRouterInput(body, true); err == nil {
			if r, aerr := in.apply(router{}); aerr == nil {
				if _, aerr := (routerInput{}).apply(r); aerr != nil {
					t.Fatalf("accepted router fails re-validation: %v", aerr)
				}
			}
		} else {
			checkDecodeError(t, err)
		}
		if ins, err := decodeSyncBody(body); err == nil {
			for i, in := range ins {
				if _, aerr := in.apply(breakerSpec{}, "breakers[0]."); aerr != nil && !strings.HasPrefix(aerr.Field, "breakers[0].") {
					t.Fatalf("sync item %d: error field %q lacks the item prefix", i, aerr.Field)
				}
			}
		} else {
			checkDecodeError(t, err)
		}
		var ci channelInput
		if err := unmarshalBody(body, &ci, true); err == nil {
			_, _ = ci.apply(channel{})
		}
		var mp metadataPatch
		if err := unmarshalBody(body, &mp, true); err == nil {
			md := mp.merge(map[string]string{"keep": "x"})
			for k, v := range mp {
				if v == nil && md[k] != "" || v != nil && md[k] != *v {
					t.Fatalf("merge lost key %q", k)
				}
			}
		}
	})
}

func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	ae, ok := err.(*apiError)
	if !ok || (ae.Status != 400 && ae.Status != 422) || ae.Message == "" {
		t.Fatalf("decode error %#v", err)
	}
	if strings.Contains(ae.Field, "Config.") {
		t.Fatalf("decode error names a Go field path: %q", ae.Field)
	}
}

// FuzzCursor checks that cursors parse only when made by the server and
// round-trip exactly.
func FuzzCursor(f *testing.F) {
	f.Add("", "", uint64(0))
	f.Add(encodeCursor(42), "10", uint64(42))
	f.Add("YzEuMTg0NDY3NDQwNzM3MDk1NTE2MTU", "500", uint64(1<<63))
	f.Add("YzEuLTE", "-1", uint64(7))
	f.Add("%%%", "99999999999999999999", uint64(1))
	f.Fuzz(func(t *testing.T, cursor, limit string, n uint64) {
		if got, ok := decodeCursor(encodeCursor(n)); !ok || got != n {
			t.Fatalf("cursor of %d decodes to %d, %v", n, got, ok)
		}
		if got, ok := decodeCursor(cursor); ok {
			if again, ok2 := decodeCursor(encodeCursor(got)); !ok2 || again != got {
				t.Fatalf("cursor %q → %d does not round-trip", cursor, got)
			}
		}
		pg, aerr := parsePage(url.Values{"cursor": {cursor}, "limit": {limit}})
		if aerr != nil {
			if aerr.Status != 400 || (aerr.Field != "cursor" && aerr.Field != "limit") {
				t.Fatalf("page error %+v", aerr)
			}
			return
		}
		if pg.limit < 1 || pg.limit > maxPageLimit {
			t.Fatalf("limit %d out of range", pg.limit)
		}
		items := []uint64{1, 2, 3, 5, 8, 13}
		got, next := paginate(items, func(v uint64) uint64 { return v }, pg)
		if len(got) > pg.limit {
			t.Fatalf("page of %d items, limit %d", len(got), pg.limit)
		}
		for _, v := range got {
			if v <= pg.after {
				t.Fatalf("item %d not after cursor %d", v, pg.after)
			}
		}
		if next != "" {
			if after, ok := decodeCursor(next); !ok || after != got[len(got)-1] {
				t.Fatalf("next cursor %q does not point after the page", next)
			}
		}
	})
}

func jsonOf(v any) string {
	var buf bytes.Buffer
	enc := newJSONEncoder(&buf)
	_ = enc.Encode(v)
	return buf.String()
}

// FuzzBatchDecode checks the ingest document decoder against encoding/json:
// both accept the same documents (except a repeated "samples" member, which
// only encoding/json accepts) and decode them to the same samples.
func FuzzBatchDecode(f *testing.F) {
	f.Add([]byte(`{"samples":[{"router_id":"rtr_1","metric":"latency","ts_ms":1764201600123,"value":42.5,"ok":true,"tags":{"env":"prod"},"trace_id":"4bf9"}]}`))
	f.Add([]byte(`{"Samples":[{"ROUTER_ID":"r","Metric":"m","tags":{"a":"b"},"tags":{"c":null}},null,{"ok":null,"value":-0.0e-5}]}`))
	f.Add([]byte(`{"samples":[{"router_id":"\u00e9\ud83d\ude00","metric":"caf\u00e9","extra":{"x":[1,{"y":[]}]},"value":1e308}]}`))
	f.Add([]byte(`{"samples":[{"ts_ms":1.5}]}`))
	f.Add([]byte(`{"samples":[{"ts_ms":-0,"value":1E+2}],"samples":[]}`))
	f.Add([]byte(` null `))
	f.Add([]byte(`{"samples":{}}`))
	f.Add([]byte(`{"s\u0061mples":[{"tags":{"k":"v"}},{"tags":{"k":"v"}}]}`))
	f.Add([]byte("{\"samples\":[{\"metric\":\"\xff\xfe\"}]}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, gerr := decodeBatch(doc)
		var want struct {
			Samples []Sample `json:"samples"`
		}
		werr := json.Unmarshal(doc, &want)
		if gerr != nil {
			if gerr.Status != http.StatusBadRequest || gerr.Message == "" {
				t.Fatalf("error %+v", gerr)
			}
			validation := gerr.Code == codeBadRequest // a sample breaks a limit (tags)
			if werr == nil && !validation && gerr.Field != "samples" && !strings.Contains(gerr.Message, "nested") {
				t.Fatalf("rejected a document encoding/json accepts: %v\n%q", gerr.Message, doc)
			}
			return
		}
		if werr != nil {
			t.Fatalf("accepted a document encoding/json rejects (%v):\n%q", werr, doc)
		}
		if len(got) != len(want.Samples) {
			t.Fatalf("%d samples, encoding/json %d", len(got), len(want.Samples))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want.Samples[i]) {
				t.Fatalf("sample %d:\n got %#v\nwant %#v", i, got[i], want.Samples[i])
			}
		}
	})
}
