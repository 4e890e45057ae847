package localserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The ingest document is decoded by a purpose-built scanner: it is the hot
// path of the server, and encoding/json spends most of its time on
// reflection there. The decoder accepts exactly the documents encoding/json
// accepts for {"samples": [Sample]} (field names match case-insensitively,
// unknown fields are skipped, null leaves a field unset, strings with escapes
// or non-ASCII bytes are unquoted by encoding/json itself), with one
// exception: a document that names "samples" twice is rejected. A fuzz test
// checks the equivalence.

const (
	maxJSONDepth  = 10000 // nesting of skipped values, as encoding/json allows
	maxInterned   = 4096  // distinct strings shared within one batch
	maxTagClasses = 1024  // distinct tag objects shared within one batch
)

type batchDecoder struct {
	data []byte
	pos  int
	strs map[string]string
	tags map[string]map[string]string
}

// decodeBatch decodes an ingest document. Equal strings and equal tag
// objects of one batch share memory; callers must not modify Tags maps.
func decodeBatch(data []byte) ([]Sample, *apiError) {
	d := &batchDecoder{data: data, strs: make(map[string]string, 16), tags: make(map[string]map[string]string, 4)}
	samples, err := d.document()
	if err != nil {
		return nil, err
	}
	return samples, nil
}

func (d *batchDecoder) syntax() *apiError {
	return errf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON at byte %d", d.pos)
}

func (d *batchDecoder) typeErr(field, want string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON, Field: field, Message: field + ": must be a JSON " + want}
}

func (d *batchDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *batchDecoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *batchDecoder) document() ([]Sample, *apiError) {
	var samples []Sample
	switch d.peek() {
	case '{':
		d.pos++
		seen := false
		for first := true; ; first = false {
			key, ok, err := d.member(first)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if !fieldIs(key, "samples") {
				if err := d.skip(0); err != nil {
					return nil, err
				}
				continue
			}
			if seen {
				return nil, &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON, Field: "samples", Message: "samples: given twice"}
			}
			seen = true
			if samples, err = d.sampleArray(); err != nil {
				return nil, err
			}
		}
	case 'n':
		if err := d.literal("null"); err != nil {
			return nil, err
		}
	default:
		if err := d.skip(0); err != nil {
			return nil, err
		}
		d.ws()
		if d.pos != len(d.data) {
			return nil, d.syntax()
		}
		return nil, errf(http.StatusBadRequest, codeInvalidJSON, "request body must be a JSON object")
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.syntax()
	}
	return samples, nil
}

// member reads the next member key of an object whose '{' was consumed
// (first is true for the first member) and leaves the position at its
// value. ok is false at the closing brace.
func (d *batchDecoder) member(first bool) (key []byte, ok bool, err *apiError) {
	c := d.peek()
	if first {
		if c == '}' {
			d.pos++
			return nil, false, nil
		}
	} else {
		switch c {
		case ',':
			d.pos++
			c = d.peek()
		case '}':
			d.pos++
			return nil, false, nil
		default:
			return nil, false, d.syntax()
		}
	}
	if c != '"' {
		return nil, false, d.syntax()
	}
	if key, err = d.rawString(); err != nil {
		return nil, false, err
	}
	if bytes.IndexByte(key, '\\') >= 0 {
		if _, err := d.unquoted(key); err != nil {
			return nil, false, err
		}
	}
	if d.peek() != ':' {
		return nil, false, d.syntax()
	}
	d.pos++
	d.ws()
	return key, true, nil
}

func (d *batchDecoder) sampleArray() ([]Sample, *apiError) {
	switch d.peek() {
	case 'n':
		return nil, d.literal("null")
	case '[':
		d.pos++
	default:
		if err := d.skip(0); err != nil {
			return nil, err
		}
		return nil, d.typeErr("samples", "array")
	}
	// A sample takes at least ~40 bytes of JSON; guess the count generously.
	samples := make([]Sample, 0, min(max(len(d.data)/160, 16), 1<<14))
	if d.peek() == ']' {
		d.pos++
		return samples, nil
	}
	for {
		samples = append(samples, Sample{})
		i := len(samples) - 1
		switch d.peek() {
		case '{':
			d.pos++
			if err := d.sample(i, &samples[i]); err != nil {
				return nil, err
			}
		case 'n':
			if err := d.literal("null"); err != nil {
				return nil, err
			}
		default:
			if err := d.skip(0); err != nil {
				return nil, err
			}
			return nil, d.typeErr("samples["+strconv.Itoa(i)+"]", "object")
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return samples, nil
		default:
			return nil, d.syntax()
		}
	}
}

const (
	fRouterID = iota
	fMetric
	fTsMs
	fValue
	fOK
	fTags
	fTraceID
)

var sampleFields = [...]string{"router_id", "metric", "ts_ms", "value", "ok", "tags", "trace_id"}

func sampleField(key []byte) int {
	switch string(key) {
	case "router_id":
		return fRouterID
	case "metric":
		return fMetric
	case "ts_ms":
		return fTsMs
	case "value":
		return fValue
	case "ok":
		return fOK
	case "tags":
		return fTags
	case "trace_id":
		return fTraceID
	}
	for j, name := range sampleFields {
		if fieldIs(key, name) {
			return j
		}
	}
	return -1
}

func sampleFieldName(i, f int) string {
	return "samples[" + strconv.Itoa(i) + "]." + sampleFields[f]
}

// sample decodes the members of sample i, whose '{' was consumed.
func (d *batchDecoder) sample(i int, s *Sample) *apiError {
	for first := true; ; first = false {
		key, ok, err := d.member(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		f := sampleField(key)
		if f < 0 {
			if err := d.skip(0); err != nil {
				return err
			}
			continue
		}
		c := d.peek()
		if c == 'n' {
			if err := d.literal("null"); err != nil {
				return err
			}
			if f == fTags {
				s.Tags = nil
			}
			continue
		}
		switch f {
		case fRouterID, fMetric, fTraceID:
			if c != '"' {
				if err := d.skip(0); err != nil {
					return err
				}
				return d.typeErr(sampleFieldName(i, f), "string")
			}
			v, err := d.str()
			if err != nil {
				return err
			}
			switch f {
			case fRouterID:
				s.RouterID = v
			case fMetric:
				s.Metric = v
			default:
				s.TraceID = v
			}
		case fTsMs:
			num, isInt, err := d.number()
			if err != nil {
				return err
			}
			if num == nil || !isInt {
				return d.typeErr(sampleFieldName(i, f), "integer")
			}
			n, perr := strconv.ParseInt(string(num), 10, 64)
			if perr != nil {
				return d.typeErr(sampleFieldName(i, f), "integer within 64 bits")
			}
			s.TsMs = n
		case fValue:
			num, _, err := d.number()
			if err != nil {
				return err
			}
			if num == nil {
				return d.typeErr(sampleFieldName(i, f), "number")
			}
			v, perr := strconv.ParseFloat(string(num), 64)
			if perr != nil {
				return d.typeErr(sampleFieldName(i, f), "number within float64 range")
			}
			s.Value = v
		case fOK:
			switch c {
			case 't':
				s.OK = true
				err = d.literal("true")
			case 'f':
				s.OK = false
				err = d.literal("false")
			default:
				if err := d.skip(0); err != nil {
					return err
				}
				return d.typeErr(sampleFieldName(i, f), "boolean")
			}
			if err != nil {
				return err
			}
		case fTags:
			if c != '{' {
				if err := d.skip(0); err != nil {
					return err
				}
				return d.typeErr(sampleFieldName(i, f), "object of strings")
			}
			if err := d.tagsObject(i, s); err != nil {
				return err
			}
		}
	}
}

// tagsObject decodes a tags object; identical objects of a batch share one
// map. A second "tags" member of the same sample merges into the first, as
// encoding/json does.
func (d *batchDecoder) tagsObject(i int, s *Sample) *apiError {
	start := d.pos
	if s.Tags == nil {
		if err := d.skip(0); err != nil {
			return err
		}
		if m, ok := d.tags[string(d.data[start:d.pos])]; ok {
			s.Tags = m
			return nil
		}
		d.pos = start
	}
	d.pos++ // '{'
	m := make(map[string]string, len(s.Tags)+4)
	for k, v := range s.Tags {
		m[k] = v
	}
	for first := true; ; first = false {
		key, ok, err := d.member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		k, err := d.unquoted(key)
		if err != nil {
			return err
		}
		switch d.peek() {
		case '"':
			v, err := d.str()
			if err != nil {
				return err
			}
			m[k] = v
		case 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
			m[k] = ""
		default:
			if err := d.skip(0); err != nil {
				return err
			}
			return d.typeErr(sampleFieldName(i, fTags), "object of strings")
		}
	}
	if err := checkTags(i, m); err != nil {
		return err
	}
	if s.Tags == nil && len(d.tags) < maxTagClasses {
		d.tags[string(d.data[start:d.pos])] = m
	}
	s.Tags = m
	return nil
}

// rawString consumes a string and returns its bytes between the quotes,
// still escaped.
func (d *batchDecoder) rawString() ([]byte, *apiError) {
	d.pos++ // opening quote
	start := d.pos
	data := d.data
	p := d.pos
	for {
		for p < len(data) && !stringStop[data[p]] {
			p++
		}
		if p >= len(data) {
			d.pos = len(data)
			return nil, d.syntax()
		}
		switch c := data[p]; {
		case c == '"':
			d.pos = p + 1
			return data[start:p], nil
		case c == '\\':
			p += 2
		default: // a control character
			d.pos = p
			return nil, d.syntax()
		}
	}
}

// stringStop marks the bytes that end the plain run of a JSON string.
var stringStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// unquoted returns the value of a raw string: plain ASCII without escapes
// is interned directly; anything else is unquoted by encoding/json.
func (d *batchDecoder) unquoted(raw []byte) (string, *apiError) {
	plain := true
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		if s, ok := d.strs[string(raw)]; ok {
			return s, nil
		}
		s := string(raw)
		if len(d.strs) < maxInterned {
			d.strs[s] = s
		}
		return s, nil
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", errf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON string before byte %d", d.pos)
	}
	return s, nil
}

func (d *batchDecoder) str() (string, *apiError) {
	raw, err := d.rawString()
	if err != nil {
		return "", err
	}
	return d.unquoted(raw)
}

// number consumes a JSON number and returns its text and whether it is an
// integer literal. A value of another type is consumed and nil is returned.
func (d *batchDecoder) number() (num []byte, isInt bool, err *apiError) {
	start := d.pos
	p := d.pos
	digits := func() int {
		n := 0
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
			n++
		}
		return n
	}
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	switch {
	case p < len(d.data) && d.data[p] == '0':
		p++
	case p < len(d.data) && d.data[p] >= '1' && d.data[p] <= '9':
		digits()
	default:
		if p == start {
			return nil, false, d.skip(0)
		}
		d.pos = p
		return nil, false, d.syntax()
	}
	isInt = true
	if p < len(d.data) && d.data[p] == '.' {
		p++
		isInt = false
		if digits() == 0 {
			d.pos = p
			return nil, false, d.syntax()
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		isInt = false
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			d.pos = p
			return nil, false, d.syntax()
		}
	}
	d.pos = p
	return d.data[start:p], isInt, nil
}

func (d *batchDecoder) literal(lit string) *apiError {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		return d.syntax()
	}
	d.pos += len(lit)
	return nil
}

// skip consumes any JSON value.
func (d *batchDecoder) skip(depth int) *apiError {
	if depth > maxJSONDepth {
		return errf(http.StatusBadRequest, codeInvalidJSON, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	switch c := d.peek(); {
	case c == '"':
		raw, err := d.rawString()
		if err != nil {
			return err
		}
		for _, b := range raw {
			if b == '\\' {
				_, err := d.unquoted(raw) // validates the escapes
				return err
			}
		}
		return nil
	case c == '{':
		d.pos++
		for first := true; ; first = false {
			_, ok, err := d.member(first)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		d.pos++
		if d.peek() == ']' {
			d.pos++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return nil
			default:
				return d.syntax()
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := d.number()
		return err
	}
	return d.syntax()
}

// fieldIs reports whether a raw key names field, case-insensitively as
// encoding/json matches struct fields (an escaped key is unquoted first).
func fieldIs(raw []byte, field string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return strings.EqualFold(string(raw), field)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return false
	}
	return strings.EqualFold(s, field)
}
